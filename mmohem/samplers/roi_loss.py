"""Per-RoI training loss of a bbox head, unreduced, without host syncs."""
from typing import Sequence

import torch
from mmdet.structures.bbox import get_box_tensor
from torch import Tensor, nn

LOSS_KEYS = ('loss_cls', 'loss_bbox')


def _per_row(loss, is_fg: Tensor) -> Tensor:
    """Sum an unreduced loss (tensor or dict of tensors) to one value/row.

    A term with one value per foreground RoI only (SeesawLoss computes its
    class term on the foreground rows) is put back in those rows; a 0-dim
    term (the same loss when there is no foreground) adds nothing.
    """
    if isinstance(loss, dict):
        # e.g. SeesawLoss returns several named terms
        terms = [v for k, v in loss.items() if 'loss' in k]
        return sum(_per_row(t, is_fg) for t in terms)
    if loss.dim() == 0:
        return loss.expand(is_fg.shape)
    if loss.dim() > 1:
        loss = loss.flatten(1).sum(1)
    if loss.shape[0] != is_fg.shape[0]:
        loss = loss.new_zeros(is_fg.shape).masked_scatter(is_fg, loss)
    return loss


def per_roi_loss(bbox_head: nn.Module, cls_score: Tensor, bbox_pred: Tensor,
                 rois: Tensor, labels: Tensor, target_boxes: Tensor,
                 loss_keys: Sequence[str]) -> Tensor:
    """Loss of every RoI with the head's own loss modules and box coder.

    The classification term is ``bbox_head.loss_cls`` against ``labels``
    (background is ``bbox_head.num_classes``). The regression term is
    ``bbox_head.loss_bbox`` against targets encoded with
    ``bbox_head.bbox_coder`` (or decoded predictions against boxes when the
    head has ``reg_decoded_bbox``), summed over coordinates and counted for
    foreground RoIs only, as in the head's own ``loss``. Unlike
    ``BBoxHead.loss`` this never indexes with a data-dependent mask, so it
    does not synchronize with the host.

    Args:
        bbox_head (nn.Module): A ``BBoxHead``-like module.
        cls_score (Tensor): Class scores, shape (n, num_classes + 1).
        bbox_pred (Tensor): Box deltas, shape (n, 4) or (n, 4 * num_classes).
        rois (Tensor): RoIs, shape (n, 5) (batch index first).
        labels (Tensor): Assigned label per RoI, background =
            ``num_classes``; other values >= ``num_classes`` (e.g. ignored
            RoIs) are scored as background.
        target_boxes (Tensor): Matched ground-truth box per RoI, shape (n, 4);
            unused for background RoIs.
        loss_keys (Sequence[str]): Terms to sum, from :data:`LOSS_KEYS`.

    Returns:
        Tensor: Float32 loss per RoI, shape (n, ).
    """
    num_classes = bbox_head.num_classes
    is_fg = (labels >= 0) & (labels < num_classes)
    cls_labels = labels.clamp(max=num_classes)
    total = cls_score.new_zeros(cls_score.size(0), dtype=torch.float32)

    # mixed precision: rank on float32 losses, whatever the forward ran in
    with torch.autocast(cls_score.device.type, enabled=False):
        if 'loss_cls' in loss_keys:
            loss_cls = bbox_head.loss_cls(
                cls_score.float(), cls_labels, reduction_override='none')
            total = total + _per_row(loss_cls, is_fg).float()
        if 'loss_bbox' in loss_keys:
            if not isinstance(bbox_pred, Tensor):
                raise TypeError(
                    f'{type(bbox_head).__name__} predicts boxes as '
                    f'{type(bbox_pred).__name__}, not per-class deltas, so '
                    "mmohem cannot score its box loss; use loss_keys=("
                    "'loss_cls',) for this head.")
            priors = rois[:, 1:].float()
            # Background rows get their own RoI as target: a finite,
            # zero-ish loss that the foreground mask below removes anyway.
            targets = torch.where(is_fg[:, None], target_boxes.float(), priors)
            pred = bbox_pred.float()
            if not bbox_head.reg_class_agnostic:
                pred = pred.view(pred.size(0), num_classes, -1)
                pred = pred[torch.arange(pred.size(0), device=pred.device),
                            cls_labels.clamp(max=num_classes - 1)]
            if bbox_head.reg_decoded_bbox:
                pred = get_box_tensor(
                    bbox_head.bbox_coder.decode(priors, pred))
            else:
                targets = bbox_head.bbox_coder.encode(priors, targets)
            loss_bbox = _per_row(
                bbox_head.loss_bbox(pred, targets, reduction_override='none'),
                is_fg)
            total = total + torch.where(is_fg, loss_bbox.float(),
                                        loss_bbox.new_zeros(()).float())
    return total
