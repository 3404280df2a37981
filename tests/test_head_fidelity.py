"""The scoring pass sees what the training forward sees, for every kind of
RoI head mmdet ships: the sampler's per-RoI losses equal the head's own
``BBoxHead.loss(..., reduction_override='none')`` computed on the outputs of
the head's training forward (``_bbox_forward`` with the inputs its
``loss()`` passes, on the whole batch), in eval mode, for the same RoIs.

The heads are built from mmdet's own configs; the features are random. The
image under test is the second of the batch, so the per-image inputs that
the sampler computes must match the batch ones at batch index 1.
"""
import pytest
import torch
from helpers import roi_head_from_config
from mmdet.structures.bbox import bbox2roi
from mmengine.structures import InstanceData

IMG = 128
STRIDES = (4, 8, 16, 32, 64)

# config, extra inputs of _bbox_forward in its training forward
HEADS = {
    'faster_rcnn': ('mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py', ()),
    'cascade_rcnn':
    ('mmdet::cascade_rcnn/cascade-rcnn_r50_fpn_1x_coco.py', ()),
    'htc_semantic': ('mmdet::htc/htc_r50_fpn_1x_coco.py', ('semantic', )),
    'scnet': ('mmdet::scnet/scnet_r50_fpn_1x_coco.py', ('semantic', 'glbctx')),
}


def build_roi_head(config):
    return roi_head_from_config(config, 'mmdet')


def batch_features(gen):
    return tuple(
        torch.randn(2, 256, IMG // s, IMG // s, generator=gen)
        for s in STRIDES)


def image_candidates(gen, num_classes, num=200):
    gt_boxes = torch.tensor([[10., 12., 60., 70.], [50., 40., 120., 100.],
                             [5., 80., 40., 125.]])
    gt = InstanceData(
        bboxes=gt_boxes, labels=torch.tensor([0, 3, num_classes - 1]))
    xy = torch.rand(num, 2, generator=gen) * (IMG - 16)
    wh = 8 + torch.rand(num, 2, generator=gen) * IMG / 2
    random = torch.cat([xy, (xy + wh).clamp(max=IMG)], 1)
    jitter = gt_boxes.repeat(20, 1) + torch.randn(60, 4, generator=gen) * 4
    return InstanceData(priors=torch.cat([random, jitter])), gt


def reference_inputs(head, x, which):
    """What the head's loss() computes before sampling, on the batch."""
    inputs = {}
    if 'semantic' in which:
        inputs['semantic_feat'] = head.semantic_head(x)[1]
    if 'glbctx' in which:
        inputs['glbctx_feat'] = head.glbctx_head(x)[1]
    return inputs


def head_loss_per_roi(head, stage, x, boxes, labels, targets, inputs):
    """Training forward + the bbox head's own unreduced loss, image 1."""
    bbox_head = head.bbox_head[stage] if stage is not None else head.bbox_head
    rois = bbox2roi([boxes[:0], boxes])  # image 1 of the batch
    args = (x, rois) if stage is None else (stage, x, rois)
    out = head._bbox_forward(*args, **inputs)
    num_classes = bbox_head.num_classes
    fg = labels < num_classes
    encoded = bbox_head.bbox_coder.encode(boxes, targets)
    losses = bbox_head.loss(
        out['cls_score'],
        out['bbox_pred'],
        rois,
        labels,
        torch.ones_like(labels, dtype=torch.float),
        torch.where(fg[:, None], encoded, torch.zeros_like(encoded)),
        fg[:, None].float().expand(-1, 4),
        reduction_override='none')
    per_roi = losses['loss_cls'].clone()
    per_roi[fg] += losses['loss_bbox'].sum(1)
    return per_roi


@pytest.mark.parametrize('name', list(HEADS))
def test_scoring_losses_equal_the_heads_own_training_losses(name):
    config, which = HEADS[name]
    head = build_roi_head(config)
    cascade = hasattr(head, 'num_stages')
    gen = torch.Generator().manual_seed(1)
    x = batch_features(gen)
    head.eval()
    for stage in range(head.num_stages) if cascade else [None]:
        sampler = head.bbox_sampler[stage] if cascade else head.bbox_sampler
        bbox_head = sampler.bbox_head
        proposals, gt = image_candidates(gen, bbox_head.num_classes)
        assign = (head.bbox_assigner[stage]
                  if cascade else head.bbox_assigner).assign(proposals, gt)
        assert (assign.gt_inds > 0).sum() > 10  # foreground is scored too
        labels = torch.where(
            assign.gt_inds > 0, assign.labels,
            torch.full_like(assign.labels, bbox_head.num_classes))
        targets = gt.bboxes[(assign.gt_inds - 1).clamp(min=0)]
        boxes = proposals.priors

        feats = [level[1:2] for level in x]  # what the RoI head passes
        with torch.no_grad():
            scored = sampler.roi_losses(feats, boxes, labels, targets)
            expected = head_loss_per_roi(head, stage, x, boxes, labels,
                                         targets,
                                         reference_inputs(head, x, which))
        assert torch.allclose(scored, expected, rtol=1e-4, atol=1e-5), \
            (name, stage, (scored - expected).abs().max())

        if which:
            # the extra inputs matter here: with them zeroed the losses
            # differ, so this test catches a scoring pass that drops them
            with torch.no_grad():
                zeroed = {
                    k: torch.zeros_like(v)
                    for k, v in reference_inputs(head, x, which).items()
                }
                without = head_loss_per_roi(head, stage, x, boxes, labels,
                                            targets, zeroed)
            assert (without - expected).abs().max() > 1e-2


def test_scoring_restores_the_training_mode_of_the_extra_branches():
    head = build_roi_head(HEADS['scnet'][0])
    head.train()
    proposals, gt = image_candidates(torch.Generator().manual_seed(2),
                                     head.bbox_head[0].num_classes)
    x = batch_features(torch.Generator().manual_seed(3))
    feats = [level[:1] for level in x]
    assign = head.bbox_assigner[0].assign(proposals, gt)
    head.bbox_sampler[0].sample(assign, proposals, gt, feats=feats)
    assert head.semantic_head.training and head.glbctx_head.training
    assert all(m.training for m in head.modules())
