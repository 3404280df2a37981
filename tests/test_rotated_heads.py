"""mmrotate's two-stage heads: the scoring pass ranks by the head's own loss.

For each kind of rotated R-CNN head mmrotate 1.0.0rc1 ships, the sampler's
per-RoI losses equal the bbox head's own ``loss_and_target(...,
reduction_override='none')`` (its own targets, encoded by its own coder
from the box objects of a ``SamplingResult`` holding every RoI) on the
outputs of its training forward for the same RoIs, in eval mode; images
without ground truth included. Heads are built from mmrotate's configs,
with random weights and features. Runs where mmrotate is installed.
"""
import math

import pytest
import torch
from helpers import heads_own_losses, roi_head_from_config
from mmdet.structures.bbox import bbox2roi, get_box_tensor
from mmengine.structures import InstanceData

from mmohem.samplers.roi_loss import BoxTypes

pytest.importorskip('mmrotate')
from mmrotate.structures.bbox import RotatedBoxes  # noqa: E402

IMG = 128
STRIDES = (4, 8, 16, 32, 64)

# name: config (the kind of each stage's RoIs follows from its extractor)
HEADS = {
    'rotated_faster_rcnn':
    'mmrotate::rotated_faster_rcnn/'
    'rotated-faster-rcnn-le90_r50_fpn_1x_dota.py',
    'oriented_rcnn':
    'mmrotate::oriented_rcnn/oriented-rcnn-le90_r50_fpn_1x_dota.py',
    'roi_trans':
    'mmrotate::roi_trans/roi-trans-le90_r50_fpn_1x_dota.py',
    'kfiou_roi_trans':
    'mmrotate::kfiou/roi-trans-le90_r50_fpn_kfiou-ln_1x_dota.py',
    'gliding_vertex':
    'mmrotate::gliding_vertex/gliding-vertex-rbox_r50_fpn_1x_dota.py',
}


def build_roi_head(config):
    return roi_head_from_config(config, 'mmrotate')


def rotated_gt(gen, num_classes, quadri):
    boxes = torch.tensor([[40., 40., 50., 20.,
                           0.3], [90., 70., 60., 24., -0.8],
                          [30., 100., 30., 30., 1.2]])
    gt = RotatedBoxes(boxes)
    if quadri:
        gt = gt.convert_to('qbox')
    return InstanceData(
        bboxes=gt, labels=torch.tensor([0, 3, num_classes - 1]))


def candidates(gen, gt, rotated, num=200):
    """Random RoIs and RoIs jittered around the ground truth, of the kind
    the stage's RoIs are (horizontal or rotated)."""
    centres = torch.rand(num, 2, generator=gen) * IMG
    sizes = 8 + torch.rand(num, 2, generator=gen) * IMG / 2
    angles = (torch.rand(num, 1, generator=gen) - 0.5) * math.pi
    random = RotatedBoxes(torch.cat([centres, sizes, angles], 1))
    around = gt.bboxes.convert_to('rbox').tensor.repeat(20, 1)
    around = around + torch.randn(
        around.shape, generator=gen) * torch.tensor([3., 3., 3., 3., 0.1])
    priors = RotatedBoxes(torch.cat([random.tensor, around]))
    return InstanceData(
        priors=priors if rotated else priors.convert_to('hbox'))


@pytest.mark.parametrize('with_gt', [True, False])
@pytest.mark.parametrize('name', list(HEADS))
def test_scoring_losses_equal_the_heads_own_training_losses(name, with_gt):
    head = build_roi_head(HEADS[name])
    cascade = hasattr(head, 'num_stages')
    gen = torch.Generator().manual_seed(1)
    x = tuple(
        torch.randn(2, 256, IMG // s, IMG // s, generator=gen)
        for s in STRIDES)
    head.eval()
    for stage in range(head.num_stages) if cascade else [None]:
        sampler = head.bbox_sampler[stage] if cascade else head.bbox_sampler
        extractor = (
            head.bbox_roi_extractor[stage]
            if cascade else head.bbox_roi_extractor)
        rotated_rois = 'Rotated' in type(extractor).__name__
        gt = rotated_gt(
            gen, sampler.bbox_head.num_classes, quadri='gliding' in name)
        if not with_gt:
            gt = gt[:0]
        proposals = candidates(gen,
                               gt if with_gt else rotated_gt(gen, 3, False),
                               rotated_rois)
        assign = (head.bbox_assigner[stage]
                  if cascade else head.bbox_assigner).assign(proposals, gt)
        if with_gt:
            assert (assign.gt_inds > 0).sum() > 10  # foreground is scored
        with torch.no_grad():
            expected, labels = heads_own_losses(
                head, stage, x, proposals.priors, gt, assign, image=1)
            gt_boxes = get_box_tensor(gt.bboxes)
            if with_gt:
                targets = gt_boxes[(assign.gt_inds - 1).clamp(min=0)]
            else:
                targets = get_box_tensor(
                    proposals.priors.convert_to(type(gt.bboxes)))
            boxes = get_box_tensor(proposals.priors)
            scored = sampler.roi_losses([level[1:2] for level in x], boxes,
                                        labels, targets,
                                        BoxTypes(
                                            type(proposals.priors),
                                            type(gt.bboxes)))
        assert torch.allclose(scored, expected, rtol=1e-4, atol=1e-5), \
            (name, stage, (scored - expected).abs().max())


def test_rotated_rois_are_selected_with_the_rotated_nms():
    """Oriented R-CNN's sampler end to end on rotated RoIs: the selection is
    the top ``num`` of the reference's rotated NMS over the sampler's own
    losses, and no two selected RoIs of one label overlap at rotated IoU
    >= 0.7 (the axis-aligned NMS on these boxes left such pairs)."""
    from reference import reference_rotated_nms, rotated_iou
    head = build_roi_head(HEADS['oriented_rcnn'])
    sampler = head.bbox_sampler
    sampler.num = 64
    gen = torch.Generator().manual_seed(3)
    x = [
        torch.randn(1, 256, IMG // s, IMG // s, generator=gen) for s in STRIDES
    ]
    gt = rotated_gt(gen, sampler.bbox_head.num_classes, quadri=False)
    proposals = candidates(gen, gt, rotated=True)
    assign = head.bbox_assigner.assign(proposals, gt)
    result = sampler.sample(assign, proposals, gt, feats=x)
    [record] = sampler.mining_record
    groups = record.selection.groups
    boxes = get_box_tensor(record.priors).tolist()  # the candidates
    kept = reference_rotated_nms(record.loss, torch.tensor(boxes), groups, 0.7)
    top = kept[:64]
    expected_pos = sorted(i for i in top if groups[i] < 15)
    assert sorted(result.pos_inds.tolist()) == expected_pos
    assert sorted(result.neg_inds.tolist()) == sorted(i for i in top
                                                      if groups[i] == 15)
    assert len(expected_pos) > 0
    chosen = result.pos_inds.tolist() + result.neg_inds.tolist()
    for a in chosen:
        for b in chosen:
            if a < b and groups[a] == groups[b]:
                assert rotated_iou(boxes[a], boxes[b]) < 0.7


def test_a_box_type_mmohem_cannot_suppress_is_refused():
    from mmohem.samplers.box_nms import BoxTypeNotSupportedError
    head = build_roi_head(HEADS['oriented_rcnn'])
    gen = torch.Generator().manual_seed(4)
    gt = rotated_gt(gen, 15, quadri=False)
    proposals = candidates(gen, gt, rotated=True)
    assign = head.bbox_assigner.assign(proposals, gt)
    quadri = InstanceData(priors=proposals.priors.convert_to('qbox'))
    gt.bboxes = gt.bboxes.convert_to('qbox')
    feats = [torch.randn(1, 256, IMG // s, IMG // s) for s in STRIDES]
    with pytest.raises(BoxTypeNotSupportedError, match='QuadriBoxes'):
        head.bbox_sampler.sample(assign, quadri, gt, feats=feats)


def test_mining_stats_hook_draws_rotated_rois_as_rotated_boxes():
    """One RoI at 45 degrees: the drawing passes through its corners, not
    through the corners of an axis-aligned box read from its numbers."""
    from types import SimpleNamespace

    import numpy as np
    from mmengine.visualization import Visualizer

    from mmohem.hooks import MiningStatsHook
    box = RotatedBoxes(torch.tensor([[64., 64., 60., 20., math.pi / 4]]))
    stats = dict(pos_boxes=box, neg_boxes=box[:0])
    visualizer = Visualizer(name='rotated_draw_test')
    drawn = {}
    visualizer.add_image = lambda name, image, step: drawn.update(
        {name: image})
    runner = SimpleNamespace(visualizer=visualizer, iter=0)
    MiningStatsHook(draw_interval=1)._draw(runner, torch.zeros(3, 128, 128),
                                           stats)
    image = drawn['ohem_mined_rois']
    lit = image.sum(-1) > 0
    for x, y in box.convert_to('qbox').tensor.view(4, 2).round().long():
        assert lit[max(y - 1, 0):y + 2, max(x - 1, 0):x + 2].any()
    # (34, 54)-(94, 74) would be the box drawn axis-aligned around its
    # centre: points of its top and bottom edges 8 px from the rotated
    # box's edges stay dark
    assert not lit[53:56, 78:83].any() and not lit[73:76, 46:51].any()
    assert np.count_nonzero(lit) > 100


def test_gliding_vertex_says_which_terms_it_ranks_without():
    from mmohem.samplers import LOSS_KEYS
    from mmohem.samplers.head_support import unscored_terms
    head = build_roi_head(HEADS['gliding_vertex'])
    assert head.bbox_sampler.loss_keys == LOSS_KEYS
    # what the build log names as left out of the ranking
    assert unscored_terms(head.bbox_head,
                          LOSS_KEYS) == ['loss_fix', 'loss_ratio']
    # a head with only loss_cls and loss_bbox leaves nothing out
    assert unscored_terms(
        build_roi_head(HEADS['oriented_rcnn']).bbox_head, LOSS_KEYS) == []


def test_non_finite_rotated_candidates_are_never_selected():
    """A diverging RPN's rotated proposals (NaN centres, infinite angles,
    infinite widths: 25 of 300) reach the scoring pass only as empty boxes
    (mmcv's CPU RoIAlignRotated can crash the process on the boxes
    themselves) and are never selected; they are counted as non-finite,
    and the rest is selected as if they were not there. Empty boxes are
    scored as finite background, as in the axis-aligned path."""
    head = build_roi_head(HEADS['oriented_rcnn'])
    sampler = head.bbox_sampler
    sampler.num = 400  # more than NMS leaves: the budget is short
    gen = torch.Generator().manual_seed(5)
    x = [
        torch.randn(1, 256, IMG // s, IMG // s, generator=gen) for s in STRIDES
    ]
    gt = rotated_gt(gen, sampler.bbox_head.num_classes, quadri=False)
    clean = candidates(gen, gt, rotated=True, num=240)
    boxes = clean.priors.tensor.clone()
    boxes[10:20, 0] = float('nan')
    boxes[20:30, 4] = float('inf')
    boxes[30:35, 2] = float('-inf')
    boxes[35, 2:4] = 0.  # empty
    clean.priors.tensor[35, 2:4] = 0.
    proposals = InstanceData(priors=RotatedBoxes(boxes))
    # what reaches the RoI op (whether the op crashes on a NaN depends on
    # where its out-of-bounds read lands)
    extract = head.bbox_roi_extractor.forward
    seen = []
    head.bbox_roi_extractor.forward = lambda feats, rois, *args: (
        seen.append(rois) or extract(feats, rois, *args))
    result = sampler.sample(
        head.bbox_assigner.assign(proposals, gt), proposals, gt, feats=x)
    del head.bbox_roi_extractor.forward
    assert seen  # the scoring forward went through the RoI op
    assert all(torch.isfinite(rois).all() for rois in seen)
    stats = sampler.mining_record.pop()[0]
    num_gts = len(gt.bboxes)
    assert stats['num_nonfinite'] == 25
    assert stats['num_candidates'] == len(boxes) + num_gts
    assert torch.isfinite(stats['loss_all'])
    # as if they were not there: the same RoIs as without them
    keep = [i for i in range(len(boxes)) if not 10 <= i < 35]
    without = InstanceData(priors=clean.priors[keep])
    expected = sampler.sample(
        head.bbox_assigner.assign(without, gt), without, gt, feats=x)
    shift = torch.tensor([0] * (num_gts + 10) + [25] * (len(keep) - 10))
    for got, want in ((result.pos_inds, expected.pos_inds),
                      (result.neg_inds, expected.neg_inds)):
        assert got.tolist() == (want + shift[want]).tolist()
    # the empty box is an ordinary background candidate
    assert num_gts + 35 in result.neg_inds.tolist()
    # and the training forward on the selection runs
    rois = bbox2roi([result.priors])
    assert torch.isfinite(head._bbox_forward(x, rois)['cls_score']).all()


@pytest.mark.parametrize('pool', ['empty_area', 'no_proposals'])
def test_a_rotated_pool_without_usable_proposals_trains_on_its_gt(pool):
    """Proposals of zero width or height (a collapsing RPN) score as finite
    background, as degenerate axis-aligned proposals do, and NMS suppresses
    none of them (their IoU is 0); with no proposals at all the ground
    truth is the whole pool. With a budget larger than the pool, every
    candidate is selected: the ground truth as foreground, every proposal
    as background, nothing non-finite."""
    head = build_roi_head(HEADS['oriented_rcnn'])
    sampler = head.bbox_sampler
    sampler.num = 400  # more than the pool: all that NMS keeps is selected
    gen = torch.Generator().manual_seed(8)
    x = [
        torch.randn(1, 256, IMG // s, IMG // s, generator=gen) for s in STRIDES
    ]
    gt = rotated_gt(gen, sampler.bbox_head.num_classes, quadri=False)
    boxes = candidates(gen, gt, rotated=True, num=100).priors.tensor
    if pool == 'empty_area':
        boxes[0::2, 2] = 0.  # zero width
        boxes[1::2, 3] = 0.  # zero height
    else:
        boxes = boxes[:0]
    proposals = InstanceData(priors=RotatedBoxes(boxes))
    result = sampler.sample(
        head.bbox_assigner.assign(proposals, gt), proposals, gt, feats=x)
    stats = sampler.mining_record.pop()[0]
    num_gts = len(gt.bboxes)
    assert stats['num_nonfinite'] == 0
    assert stats['num_candidates'] == len(boxes) + num_gts
    assert stats['num_kept'] == len(boxes) + num_gts  # NMS removed none
    assert sorted(result.pos_inds.tolist()) == list(range(num_gts))
    assert sorted(result.neg_inds.tolist()) == list(
        range(num_gts, num_gts + len(boxes)))
    rois = bbox2roi([result.priors])
    assert torch.isfinite(head._bbox_forward(x, rois)['cls_score']).all()


def test_an_all_ignored_rotated_pool_selects_nothing():
    head = build_roi_head(HEADS['oriented_rcnn'])
    sampler = head.bbox_sampler
    gen = torch.Generator().manual_seed(6)
    x = [
        torch.randn(1, 256, IMG // s, IMG // s, generator=gen) for s in STRIDES
    ]
    gt = rotated_gt(gen, sampler.bbox_head.num_classes, quadri=False)[:0]
    proposals = candidates(gen, rotated_gt(gen, 3, False), rotated=True)
    assign = head.bbox_assigner.assign(proposals, gt)
    assign.gt_inds[:] = -1  # every candidate ignored
    result = sampler.sample(assign, proposals, gt, feats=x)
    assert len(result.pos_inds) == len(result.neg_inds) == 0
    stats = sampler.mining_record.pop()[0]
    assert stats['num_candidates'] == 0 and stats['num_selected'] == 0


@pytest.mark.skipif(
    not torch.cuda.is_available(),
    reason="ReDet's RiRoIAlignRotated has no CPU kernel in mmcv 2.0.1: a "
    'GPU machine with the downstream stack settles it')
def test_redet_trains_one_step_with_ohem_in_both_stages():
    """ReDet (ReResNet backbone, RiRoIAlignRotated in its second stage):
    one training step on a GPU with mmohem's sampler in both R-CNN
    stages, each stage mining its own candidates."""
    from mmengine.config import Config

    from mmohem import OHEMSampler
    from mmohem.samplers import rcnn_samplers
    from mmohem.tools.config_swap import swap_samplers
    from mmohem.tools.convert import resolve_config
    from mmohem.tools.scope import build_model
    from mmohem_benchmark.synthetic_batch import (gt_box_type, synthetic_batch,
                                                  train_step)
    cfg = Config.fromfile(
        resolve_config('mmrotate::redet/redet-le90_re50_refpn_1x_dota.py'))
    assert swap_samplers(
        cfg,
        stages='all') == ['model.train_cfg.rcnn.0', 'model.train_cfg.rcnn.1']
    cfg.model.backbone.init_cfg = None  # no download: random weights
    torch.manual_seed(0)
    model = build_model(cfg).cuda()
    model.init_weights()
    batch = synthetic_batch(cfg.model, size=256, box_type=gt_box_type(cfg))
    loss, _ = train_step(model, batch)  # raises if the loss is not finite
    samplers = rcnn_samplers(model)
    assert [type(s) for s in samplers] == [OHEMSampler] * 2
    for sampler in samplers:
        stats = sampler.mining_record.pop()
        assert len(stats) == 2  # both images of the batch
        assert all(s['num_selected'] > 0 for s in stats)
        assert all(get_box_tensor(s['pos_boxes']).is_cuda for s in stats)
