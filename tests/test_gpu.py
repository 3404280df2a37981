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
