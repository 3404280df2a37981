"""A one-image look at what OHEM mines, on synthetic features (no data).

Builds a real mmdet ``StandardRoIHead`` with random weights, scores 2000
random proposals around a few ground-truth boxes, and compares the RoIs that
``RandomSampler`` and ``mmohem.OHEMSampler`` pick: their foreground share and
the mean loss of what they pick against the mean over all candidates.
"""
import torch
from mmdet.models.task_modules.assigners import MaxIoUAssigner
from mmdet.registry import MODELS, TASK_UTILS
from mmdet.structures.bbox import bbox2roi
from mmengine.structures import InstanceData

from mmohem.samplers import LOSS_KEYS, per_roi_loss

IMG_SIZE, CHANNELS, NUM_CLASSES = 256, 16, 5


def _roi_head():
    head = MODELS.build(
        dict(
            type='StandardRoIHead',
            bbox_roi_extractor=dict(
                type='SingleRoIExtractor',
                roi_layer=dict(type='RoIAlign', output_size=7),
                out_channels=CHANNELS,
                featmap_strides=[8]),
            bbox_head=dict(
                type='Shared2FCBBoxHead',
                in_channels=CHANNELS,
                fc_out_channels=64,
                num_classes=NUM_CLASSES)))
    torch.manual_seed(0)
    with torch.no_grad():
        for p in head.parameters():
            p.normal_(0, 0.3)
    return head.eval()


def mining_preview(seed: int = 0, num: int = 128) -> str:
    """Return a markdown table comparing RandomSampler and OHEM on one image.

    Args:
        seed (int): Seed of the synthetic image.
        num (int): RoIs each sampler keeps.

    Returns:
        str: The table.
    """
    gen = torch.Generator().manual_seed(seed)
    feats = [
        torch.randn(1, CHANNELS, IMG_SIZE // 8, IMG_SIZE // 8, generator=gen)
    ]
    gt = InstanceData(
        bboxes=torch.tensor([[20., 30., 100., 120.], [140., 60., 230., 200.],
                             [60., 150., 120., 240.]]),
        labels=torch.randint(0, NUM_CLASSES, (3, ), generator=gen))
    xy = torch.rand(2000, 2, generator=gen) * (IMG_SIZE - 16)
    wh = 16 + torch.rand(2000, 2, generator=gen) * IMG_SIZE / 2
    proposals = InstanceData(priors=torch.cat([xy, xy + wh], 1))
    assigner = MaxIoUAssigner(0.5, 0.5, min_pos_iou=0.5)
    head = _roi_head()

    # Loss of every candidate (GT boxes first, as the samplers add them).
    assigned = assigner.assign(proposals.clone(), gt)
    assigned.add_gt_(gt.labels)
    boxes = torch.cat([gt.bboxes, proposals.priors])
    labels = torch.where(assigned.gt_inds > 0, assigned.labels,
                         torch.tensor(NUM_CLASSES))
    rois = bbox2roi([boxes])
    with torch.no_grad():
        cls, reg = head.bbox_head(head.bbox_roi_extractor(feats, rois))
    loss = per_roi_loss(head.bbox_head, cls, reg, rois, labels,
                        gt.bboxes[(assigned.gt_inds - 1).clamp(min=0)],
                        LOSS_KEYS)

    rows = [
        '| sampler | RoIs | fg share | mean loss of picked RoIs '
        f'(all {len(boxes)} candidates: {loss.mean():.3f}) |',
        '|---|---|---|---|'
    ]
    for cfg in (dict(type='RandomSampler', num=num, pos_fraction=0.25),
                dict(type='mmohem.OHEMSampler', num=num)):
        sampler = TASK_UTILS.build(cfg, default_args=dict(context=head))
        result = sampler.sample(
            assigner.assign(proposals.clone(), gt),
            proposals.clone(),
            gt,
            feats=feats)
        picked = torch.cat([result.pos_inds, result.neg_inds])
        rows.append(f"| {cfg['type']} | {len(picked)} | "
                    f'{len(result.pos_inds) / len(picked):.2f} | '
                    f'{loss[picked].mean():.3f} |')
    return '\n'.join(rows)
