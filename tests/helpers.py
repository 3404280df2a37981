"""Small real mmdet RoI heads and random inputs for the sampler tests."""
import copy
import math

import torch
from mmdet.models.task_modules.assigners import MaxIoUAssigner
from mmdet.registry import MODELS
from mmengine.config import Config, ConfigDict
from mmengine.structures import InstanceData

import mmohem  # noqa: F401  (registers mmohem.OHEMSampler)

NUM_CLASSES = 3
CHANNELS = 8
STRIDE = 4
IMG_SIZE = 128

ROI_EXTRACTOR = dict(
    type='SingleRoIExtractor',
    roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0),
    out_channels=CHANNELS,
    featmap_strides=[STRIDE])
BBOX_HEAD = dict(
    type='Shared2FCBBoxHead',
    in_channels=CHANNELS,
    fc_out_channels=32,
    roi_feat_size=7,
    num_classes=NUM_CLASSES,
    bbox_coder=dict(
        type='DeltaXYWHBBoxCoder',
        target_means=[0., 0., 0., 0.],
        target_stds=[0.1, 0.1, 0.2, 0.2]),
    reg_class_agnostic=False,
    loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
    loss_bbox=dict(type='L1Loss', loss_weight=1.0))
ASSIGNER = dict(
    type='MaxIoUAssigner',
    pos_iou_thr=0.5,
    neg_iou_thr=0.5,
    min_pos_iou=0.5,
    match_low_quality=False,
    ignore_iof_thr=-1)
SAMPLER = dict(
    type='mmohem.OHEMSampler',
    num=64,
    pos_fraction=None,
    nms_iou_thr=0.7,
    add_gt_as_proposals=True)


def rcnn_train_cfg(**sampler):
    return dict(
        assigner=ASSIGNER,
        sampler=dict(SAMPLER, **sampler),
        pos_weight=-1,
        debug=False)


def build_roi_head(bbox_head=None, seed=0, **sampler):
    """A StandardRoIHead with randomised weights and an OHEM sampler."""
    cfg = ConfigDict(
        type='StandardRoIHead',
        bbox_roi_extractor=ROI_EXTRACTOR,
        bbox_head=bbox_head or BBOX_HEAD,
        train_cfg=rcnn_train_cfg(**sampler))
    head = MODELS.build(cfg)
    randomise(head, seed)
    return head


def build_cascade_head(seed=0, **sampler):
    stages = 2
    cfg = ConfigDict(
        type='CascadeRoIHead',
        num_stages=stages,
        stage_loss_weights=[1, 0.5],
        bbox_roi_extractor=ROI_EXTRACTOR,
        bbox_head=[copy.deepcopy(BBOX_HEAD) for _ in range(stages)],
        train_cfg=[rcnn_train_cfg(**sampler) for _ in range(stages)])
    head = MODELS.build(cfg)
    randomise(head, seed)
    return head


def randomise(module, seed):
    """Weights large enough that the losses of RoIs clearly differ."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.3)


def random_image(seed=0, num_gts=4, num_proposals=300):
    """Features, proposals (some jittered around the GT) and GT of one image.

    Returns:
        tuple: (feats, proposals InstanceData, gt InstanceData)
    """
    gen = torch.Generator().manual_seed(seed)
    feats = [
        torch.randn(
            1, CHANNELS, IMG_SIZE // STRIDE, IMG_SIZE // STRIDE, generator=gen)
    ]
    gt = InstanceData()
    gt.bboxes = random_boxes(num_gts, gen, min_size=16)
    gt.labels = torch.randint(0, NUM_CLASSES, (num_gts, ), generator=gen)
    num_jitter = num_proposals // 3 if num_gts else 0
    boxes = [random_boxes(num_proposals - num_jitter, gen)]
    if num_jitter:
        centre = gt.bboxes[torch.randint(
            0, num_gts, (num_jitter, ), generator=gen)]
        size = (centre[:, 2:] - centre[:, :2]).repeat(1, 2)
        jitter = (torch.rand(num_jitter, 4, generator=gen) - 0.5) * 0.3
        boxes.append((centre + jitter * size).clamp(0, IMG_SIZE))
    proposals = InstanceData()
    proposals.priors = torch.cat(boxes)
    return feats, proposals, gt


def random_boxes(num, gen, min_size=4):
    xy = torch.rand(num, 2, generator=gen) * (IMG_SIZE - min_size)
    wh = min_size + torch.rand(num, 2, generator=gen) * (IMG_SIZE / 2)
    return torch.cat([xy, (xy + wh).clamp(max=IMG_SIZE)], dim=1)


def sample_image(head, seed=0, **image):
    """Run ``head``'s sampler on one :func:`random_image`.

    Returns:
        tuple: The ``SamplingResult`` and the image's mining statistics.
    """
    feats, proposals, gt = random_image(seed=seed, **image)
    result = head.bbox_sampler.sample(
        assign(proposals, gt), proposals, gt, feats=feats)
    return result, head.bbox_sampler.mining_record.pop()[-1]


def assign(proposals, gt):
    return MaxIoUAssigner(**{
        k: v
        for k, v in ASSIGNER.items() if k != 'type'
    }).assign(proposals, gt)


def benchmark_batch_selection(samplers, seed=0):
    """What each sampler config in ``samplers`` selects on the cost
    benchmark's batch (docs/benchmarks.md): mmdet's Faster R-CNN R-50-FPN
    with seeded random weights, 2 synthetic 800x1333 images, mmdet's
    proposal settings (1000 proposals plus 8 ground-truth boxes each).

    Returns:
        dict: name -> one ``{'pos': [...], 'neg': [...]}`` per image, the
        indices in the sampler's order (hardest first).
    """
    # the record holds the selection computed with 2 threads: another
    # thread count sums the convolutions in another order, and near-tied
    # RoIs then swap (863 and 864, at rank 20 of image 0)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        return _selection(samplers, seed)
    finally:
        torch.set_num_threads(threads)


def _selection(samplers, seed):
    from mmdet.registry import TASK_UTILS

    from mmohem_benchmark.synthetic_batch import (detector_batch,
                                                  random_detector, rcnn_inputs,
                                                  sample_rcnn_input)
    model, model_cfg = random_detector(
        mmohem.config_path('faster_rcnn_ohem_r50.py'), seed=seed)
    images = [
        with_jittered_gt(model, image, copies=6, seed=seed)
        for image in rcnn_inputs(
            model,
            detector_batch(
                model, model_cfg, num_images=2, size=(800, 1333), seed=seed))
    ]
    picked = {}
    for name, sampler_cfg in samplers.items():
        sampler = TASK_UTILS.build(
            sampler_cfg, default_args=dict(context=model.roi_head))
        picked[name] = []
        for image in images:
            result = sample_rcnn_input(sampler, image)
            picked[name].append(
                dict(
                    pos=result.pos_inds.tolist(),
                    neg=result.neg_inds.tolist()))
    return picked


def with_jittered_gt(model, image, copies, seed):
    """``image`` (one of ``rcnn_inputs``) with ``copies`` jittered copies of
    each ground-truth box (up to 10 % of its size per side) added to its
    proposals and the whole assigned anew: near-duplicate foreground, more
    than a 1:3 quota admits, on which NMS and the quota both act (a random
    RPN's proposals give neither)."""
    gen = torch.Generator().manual_seed(seed)
    boxes = image['gt'].bboxes.repeat(copies, 1)
    size = (boxes[:, 2:] - boxes[:, :2]).repeat(1, 2)
    boxes = boxes + (torch.rand(boxes.shape, generator=gen) - 0.5) * 0.2 * size
    proposals = InstanceData(
        priors=torch.cat([image['proposals'].priors, boxes]))
    return dict(
        image,
        proposals=proposals,
        assigned=model.roi_head.bbox_assigner.assign(proposals, image['gt']))


# the sampler settings whose selection tests/data/selection_record.json
# holds, at 64 RoIs per image: the shipped default, ratio mode (1:7), no
# NMS, a background bound
RECORDED_SAMPLERS = {
    'default': dict(type='mmohem.OHEMSampler', num=64),
    'ratio': dict(type='mmohem.OHEMSampler', num=64, pos_fraction=0.125),
    'no_nms': dict(type='mmohem.OHEMSampler', num=64, nms_iou_thr=None),
    'neg_pos_ub': dict(type='mmohem.OHEMSampler', num=64, neg_pos_ub=3),
}


def roi_head_from_config(config, scope='mmdet'):
    """The RoI head of a shipped config (``pkg::path``), with mmohem's
    sampler in every R-CNN stage, built in ``scope``, with seeded weights of
    unit gain, so that every input moves the losses."""
    from mmengine.registry import MODELS as ROOT_MODELS

    from mmohem.tools.config_swap import swap_samplers
    from mmohem.tools.convert import resolve_config
    from mmohem.tools.scope import enter_scope
    cfg = Config.fromfile(resolve_config(config))
    swap_samplers(cfg, stages='all')
    head_cfg = cfg.model.roi_head
    head_cfg.update(
        train_cfg=cfg.model.train_cfg.rcnn, test_cfg=cfg.model.test_cfg.rcnn)
    enter_scope(scope)
    head = ROOT_MODELS.build(head_cfg)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in head.parameters():
            fan_in = p[0].numel() if p.dim() > 1 else 100
            p.copy_(torch.randn(p.shape, generator=gen) / math.sqrt(fan_in))
    return head


def heads_own_losses(head, stage, feats, priors, gt, assign, image=0):
    """Each candidate's loss as the RoI head's own training loss computes
    it, independently of mmohem's scoring: the head's training forward
    (``_bbox_forward``) on every candidate, then its bbox head's
    ``loss_and_target(..., reduction_override='none')`` on a
    ``SamplingResult`` holding every candidate (foreground first, as mmdet
    orders them), its own targets encoded by its own coder. The caller
    chooses the mode (eval, as mmohem scores) and the grad mode.

    Args:
        head: The RoI head; ``stage`` is its cascade stage, or None.
        feats: The batch's multi-level features; ``image`` is the index
            of the candidates' image in it.
        priors: The candidates (tensor or box type).
        gt (InstanceData): The ground truth.
        assign (AssignResult): The candidates' assignment.

    Returns:
        tuple: The loss of each candidate (classification plus, for
        foreground, box loss) and its label (background: num_classes).
    """
    from mmdet.models.task_modules.samplers import SamplingResult
    from mmdet.structures.bbox import bbox2roi, get_box_tensor
    bbox_head = head.bbox_head[stage] if stage is not None else head.bbox_head
    rcnn_cfg = head.train_cfg[stage] if stage is not None else head.train_cfg
    num_classes = bbox_head.num_classes
    fg = assign.gt_inds > 0
    order = torch.cat([fg.nonzero().view(-1), (~fg).nonzero().view(-1)])
    result = SamplingResult(
        pos_inds=fg.nonzero().view(-1),
        neg_inds=(~fg).nonzero().view(-1),
        priors=priors,
        gt_bboxes=gt.bboxes,
        assign_result=assign,
        gt_flags=torch.zeros(len(order), dtype=torch.uint8))
    boxes = get_box_tensor(priors)[order]
    rois = bbox2roi([boxes[:0]] * image + [boxes])
    args = (feats, rois) if stage is None else (stage, feats, rois)
    out = head._bbox_forward(*args)
    extra = [out[k] for k in ('fix_pred', 'ratio_pred') if k in out]
    losses = bbox_head.loss_and_target(
        out['cls_score'],
        out['bbox_pred'],
        *extra,
        rois, [result],
        rcnn_train_cfg=rcnn_cfg,
        reduction_override='none')['loss_bbox']
    per_roi = losses['loss_cls'].clone()
    num_fg = int(fg.sum())
    if num_fg:
        per_roi[:num_fg] += losses['loss_bbox'].view(num_fg, -1).sum(1)
    expected = torch.empty_like(per_roi)
    expected[order] = per_roi
    labels = torch.where(fg, assign.labels,
                         torch.full_like(assign.labels, num_classes))
    return expected, labels
