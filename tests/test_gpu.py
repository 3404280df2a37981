"""OHEMSampler on CUDA: the CPU's selection, and no host round trip beyond
the one the variable-size selection needs. Skipped without a GPU (CI has
none); benchmarks/gpu_check.py reports the same on a full detector."""
import os.path as osp
import warnings

import pytest
import torch
from helpers import assign, build_roi_head, random_image
from mmdet.registry import TASK_UTILS

import mmohem

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(), reason='needs a CUDA device')


def _to(image, device):
    feats, proposals, gt = image
    return [f.to(device) for f in feats], proposals.to(device), gt.to(device)


def _sample(head, image):
    feats, proposals, gt = image
    result = head.bbox_sampler.sample(
        assign(proposals, gt), proposals, gt, feats=feats)
    return result, head.bbox_sampler.mining_record.pop()[-1]


@pytest.mark.parametrize('pos_fraction', [None, 0.25])
def test_cuda_selects_what_the_cpu_selects(pos_fraction):
    head = build_roi_head(num=64, pos_fraction=pos_fraction)
    image = random_image(seed=3, num_proposals=500)
    on_cpu, stats_cpu = _sample(head, image)
    on_gpu, stats_gpu = _sample(head.cuda(), _to(image, 'cuda'))
    assert on_gpu.pos_inds.is_cuda
    assert on_gpu.pos_inds.tolist() == on_cpu.pos_inds.tolist()
    assert on_gpu.neg_inds.tolist() == on_cpu.neg_inds.tolist()
    for key in ('loss_all', 'loss_selected', 'fg_fraction', 'num_kept'):
        assert float(stats_gpu[key]) == pytest.approx(
            float(stats_cpu[key]), rel=1e-5), key


def _syncs(sampler, images):
    """The warnings of every host sync during one sample() per image."""

    def sample(image):
        feats, proposals, gt = image
        sampler.sample(assign(proposals, gt), proposals, gt, feats=feats)

    sample(images[0])  # lazy set-up outside the count
    torch.cuda.synchronize()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        torch.cuda.set_sync_debug_mode('warn')
        try:
            for image in images:
                sample(image)
        finally:
            torch.cuda.set_sync_debug_mode('default')
    return [w for w in caught if 'synchroniz' in str(w.message)]


def test_cuda_path_syncs_only_for_the_selection_size():
    head = build_roi_head(num=64).cuda()
    images = [_to(random_image(seed=s), 'cuda') for s in range(3)]
    caught = _syncs(head.bbox_sampler, images)
    package = osp.dirname(mmohem.__file__) + osp.sep
    ours = [
        f'{osp.relpath(w.filename, package)}:{w.lineno}' for w in caught
        if w.filename.startswith(package)
    ]
    # the foreground and background index lists: their sizes depend on the
    # data, so they cannot stay on the device; nothing else in mmohem syncs
    assert len(ours) == 2 * len(images), ours
    assert all(line.startswith('samplers/hard_selection.py') for line in ours)


def test_cuda_sample_syncs_no_more_than_mmdets_sampler():
    """Every host sync of a sample() call, mmohem's code and what it calls
    in mmdet and mmcv, against mmdet's OHEMSampler on the same images."""
    head = build_roi_head(num=64).cuda()
    mmdet_sampler = TASK_UTILS.build(
        dict(type='OHEMSampler', num=64, pos_fraction=0.25),
        default_args=dict(context=head))
    images = [_to(random_image(seed=s), 'cuda') for s in range(3)]
    ours = len(_syncs(head.bbox_sampler, images))
    theirs = len(_syncs(mmdet_sampler, images))
    assert ours <= theirs, (ours, theirs)


def _rotated_pool(seed, extent, num_groups):
    """Random rotated boxes over ``extent`` pixels with near-duplicates, and
    pairs whose IoU is exactly 0.5 (a 16 x 12.5 box inside a 20 x 20 one),
    spread over ``num_groups`` groups."""
    g = torch.Generator().manual_seed(seed)
    n = 300
    boxes = torch.cat([
        torch.rand(n, 2, generator=g) * extent,
        8 + torch.rand(n, 2, generator=g) * 40,
        (torch.rand(n, 1, generator=g) - 0.5) * 3
    ], 1)
    near = boxes[:100] + torch.randn(
        100, 5, generator=g) * torch.tensor([2., 2., 2., 2., .1])
    ties = []
    for x, y in (torch.rand(20, 2, generator=g) * extent).round().tolist():
        ties += [[x, y, 20., 20., 0.], [x, y, 16., 12.5, 0.]]
    boxes = torch.cat([boxes, near, torch.tensor(ties)])
    groups = torch.randint(0, num_groups, (len(boxes), ), generator=g)
    groups[n + 100:] = torch.arange(20).repeat_interleave(2) % num_groups
    loss = torch.rand(len(boxes), generator=g)
    return boxes, groups, torch.argsort(loss, descending=True)


@pytest.mark.parametrize('extent, num_groups', [(200., 4), (4000., 81)])
def test_rotated_nms_on_cuda_keeps_what_the_cpu_keeps(extent, num_groups):
    """One rule on both devices, ties at the threshold included: the GPU's
    per-group nms_rotated and the CPU's blocked NMS keep the same boxes,
    also with large coordinates and many groups (where offsets moving the
    groups apart would be rounded in float32)."""
    from mmohem.samplers.box_nms import rotated_nms
    boxes, groups, order = _rotated_pool(0, extent, num_groups)
    on_cpu = rotated_nms(boxes, groups, order, 0.5)
    on_gpu = rotated_nms(boxes.cuda(), groups.cuda(), order.cuda(), 0.5)
    assert on_gpu.inds.is_cuda
    assert on_gpu.inds.tolist() == on_cpu.inds.tolist()
    # every tie pair keeps both boxes: IoU 0.5 is not above 0.5
    kept = set(on_cpu.inds.tolist())
    assert all(i in kept and i + 1 in kept
               for i in range(len(boxes) - 40, len(boxes), 2))
