"""Per-RoI training loss of a bbox head, unreduced, without host syncs."""
import contextlib
import functools
from typing import Dict, NamedTuple, Optional, Sequence, Tuple

import torch
from mmdet.models.losses import SeesawLoss
from mmdet.models.task_modules.coders import DeltaXYWHBBoxCoder
from mmdet.structures.bbox import get_box_tensor
from torch import Tensor, nn

LOSS_KEYS = ('loss_cls', 'loss_bbox')


class BoxTypes(NamedTuple):
    """The box types of the RoIs and of the ground truth, as the head's own
    ``loss`` receives them in its ``SamplingResult``; None for plain
    tensors. Box coders of other box kinds (mmrotate's rotated and
    quadrilateral coders) take box objects, not tensors."""
    priors: Optional[type] = None
    targets: Optional[type] = None

    def wrap(self, priors: Tensor, targets: Tensor) -> tuple:
        """``priors`` and ``targets`` as the head's coder receives them."""
        return (priors if self.priors is None else self.priors(priors),
                targets if self.targets is None else self.targets(targets))


def _float(tensor: Tensor) -> Tensor:
    # a no-op .float() is still a dispatched op: skip it when it is one
    return tensor if tensor.dtype == torch.float32 else tensor.float()


@functools.lru_cache(maxsize=16)
def _normalizer(means: Tuple[float, ...], stds: Tuple[float, ...],
                device: torch.device) -> Tuple[Optional[Tensor], Tensor]:
    # made once per device: DeltaXYWHBBoxCoder.encode copies them from the
    # host on every call, which on a GPU waits for the device each time;
    # zero means (the R-CNN default) are not subtracted at all
    return (torch.tensor(means, device=device) if any(means) else None,
            torch.tensor(stds, device=device))


def encode(coder,
           priors: Tensor,
           targets: Tensor,
           box_types: BoxTypes = BoxTypes()) -> Tensor:
    """``coder.encode(priors, targets)``, in fewer device ops when the coder
    is mmdet's ``DeltaXYWHBBoxCoder`` (the R-CNN heads' default).

    That coder's ``bbox2delta`` takes ~90 small ops per call (a column at a
    time, a host copy of its means and stds each time); this does the same
    arithmetic on pairs of columns, and the deltas are bit-identical (a test
    holds it to that). Any other coder (and any subclass, which may encode
    differently) is called as it is, with the boxes in ``box_types``.
    """
    if type(coder) is not DeltaXYWHBBoxCoder:
        return get_box_tensor(coder.encode(*box_types.wrap(priors, targets)))
    means, stds = _normalizer(
        tuple(coder.means), tuple(coder.stds), priors.device)
    p1, p2 = priors[:, :2], priors[:, 2:]
    g1, g2 = targets[:, :2], targets[:, 2:]
    p_size = p2 - p1
    # The coder takes centres as (x1 + x2) * 0.5 and divides their difference
    # by the size. Halving is exact in floating point, so dividing the
    # difference of the sums by twice the size rounds to the same float,
    # without the two scalar products (each a few host-side ops).
    deltas = torch.cat([((g1 + g2) - (p1 + p2)) / (p_size + p_size),
                        torch.log((g2 - g1) / p_size)], 1)
    if means is not None:
        deltas = deltas - means
    return deltas / stds


def _autocast_off(device_type: str):
    """A context with autocast off; a no-op one when it is off already
    (entering ``torch.autocast`` costs as much host time as a device op)."""
    try:
        enabled = torch.is_autocast_enabled(device_type)
    except TypeError:  # torch < 2.4 asks per device type, CUDA by default
        if device_type == 'cpu':
            enabled = torch.is_autocast_cpu_enabled()
        elif device_type == 'cuda':
            enabled = torch.is_autocast_enabled()
        else:
            enabled = True  # cannot tell: switch it off, to be safe
    return (torch.autocast(device_type, enabled=False)
            if enabled else contextlib.nullcontext())


def _per_row(loss, labels: Tensor, num_classes: int) -> Tensor:
    """Sum an unreduced loss (tensor or dict of tensors) to one value per
    RoI, in a tensor of its own (callers fill it in place).

    A term with one value per foreground RoI only (SeesawLoss computes its
    class term on the foreground rows) is put back in those rows; a 0-dim
    term (the same loss when there is no foreground) adds nothing.
    """
    if isinstance(loss, dict):
        # e.g. SeesawLoss returns several named terms
        terms = [v for k, v in loss.items() if 'loss' in k]
        return sum(_per_row(t, labels, num_classes) for t in terms)
    if loss.dim() == 0:
        return loss.expand(labels.shape).clone()
    if loss.dim() == 2:
        return loss.sum(1)
    if loss.dim() > 2:
        return loss.flatten(1).sum(1)
    if loss.shape[0] != labels.shape[0]:
        return loss.new_zeros(labels.shape).masked_scatter(
            labels < num_classes, loss)
    return loss


def _cls_loss(loss_cls: nn.Module, cls_score: Tensor, labels: Tensor):
    """``loss_cls`` unreduced, one value (or one per class) per RoI.

    SeesawLoss with ``return_dict=False`` adds its class term, which has a
    row per foreground RoI only, to its objectness term, which has one per
    RoI: unreduced, the two do not line up (a size mismatch, or, with one
    foreground RoI, that RoI's class loss added to every RoI). Asked for
    its terms apart, it gives what :func:`_per_row` puts back in place.
    """
    if isinstance(loss_cls, SeesawLoss) and not loss_cls.return_dict:
        loss_cls.return_dict = True
        try:
            return loss_cls(cls_score, labels, reduction_override='none')
        finally:
            loss_cls.return_dict = False
    loss = loss_cls(cls_score, labels, reduction_override='none')
    if isinstance(loss, Tensor) and loss.dim() == 0:
        raise ValueError(
            f'mmohem.OHEMSampler: the bbox head\'s loss_cls, '
            f"{type(loss_cls).__name__}, returned one value for all "
            f"{len(labels)} RoIs with reduction_override='none', so they "
            'cannot be ranked by it. Use a classification loss that gives '
            "one per RoI (CrossEntropyLoss, FocalLoss, SeesawLoss) or "
            "loss_keys=('loss_bbox',).")
    return loss


def per_roi_loss(bbox_head: nn.Module,
                 cls_score: Tensor,
                 bbox_pred: Tensor,
                 rois: Tensor,
                 labels: Tensor,
                 target_boxes: Tensor,
                 loss_keys: Sequence[str],
                 box_types: BoxTypes = BoxTypes(),
                 weights: Optional[Dict[str, float]] = None) -> Tensor:
    """Loss of every RoI with the head's own loss modules and box coder.

    The classification term is ``bbox_head.loss_cls`` against ``labels``
    (background is ``bbox_head.num_classes``). The regression term is
    ``bbox_head.loss_bbox`` against targets encoded with
    ``bbox_head.bbox_coder`` (or decoded predictions against boxes when the
    head has ``reg_decoded_bbox``), summed over coordinates and counted for
    foreground RoIs only, as in the head's own ``loss``. A head that
    applies its box loss to decoded boxes as well (mmrotate's KFIoU heads,
    ``loss_bbox_type='kfiou'``) gets them decoded as its ``loss`` does. Unlike
    ``BBoxHead.loss`` this never indexes with a data-dependent mask, so it
    does not synchronize with the host.

    Args:
        bbox_head (nn.Module): A ``BBoxHead``-like module.
        cls_score (Tensor): Class scores, shape (n, num_classes + 1).
        bbox_pred (Tensor): Box deltas, shape (n, d) or (n, d * num_classes)
            (d = 4 for axis-aligned boxes, 5 for rotated ones).
        rois (Tensor): RoIs, shape (n, 1 + box width) (batch index first).
        labels (Tensor): Assigned label per RoI, background =
            ``num_classes``; larger values (e.g. ignored RoIs) are scored as
            background.
        target_boxes (Tensor): Matched ground-truth box per RoI, in the
            ground truth's width (4, 5 for rotated, 8 for quadrilaterals);
            unused for background RoIs (any finite box will do).
        loss_keys (Sequence[str]): Terms to sum, from :data:`LOSS_KEYS`.
        box_types (BoxTypes): The box types of the RoIs and of the ground
            truth (plain tensors by default).
        weights (dict[str, float], optional): A weight per term of
            ``loss_keys`` (the ranking loss is their weighted sum); None:
            all 1.

    Returns:
        Tensor: Float32 loss per RoI, shape (n, ).
    """
    num_classes = bbox_head.num_classes
    cls_labels = labels.clamp(max=num_classes)
    total = None

    # mixed precision: rank on float32 losses, whatever the forward ran in
    with _autocast_off(cls_score.device.type):
        if 'loss_cls' in loss_keys:
            total = _float(
                _per_row(
                    _cls_loss(bbox_head.loss_cls, _float(cls_score),
                              cls_labels), labels, num_classes))
            if weights is not None and weights['loss_cls'] != 1:
                total = total * weights['loss_cls']
        if 'loss_bbox' in loss_keys:
            if not isinstance(bbox_pred, Tensor):
                raise TypeError(
                    f'{type(bbox_head).__name__} predicts boxes as '
                    f'{type(bbox_pred).__name__}, not per-class deltas, so '
                    "mmohem cannot score its box loss; use loss_keys=("
                    "'loss_cls',) for this head.")
            priors = _float(rois[:, 1:])
            targets = _float(target_boxes)
            pred = _float(bbox_pred)
            if not bbox_head.reg_class_agnostic:
                # each RoI's deltas for its own class (any class for
                # background, whose box loss is masked out below)
                size = pred.size(1) // num_classes
                pred = pred.view(-1, num_classes, size).gather(
                    1,
                    cls_labels.clamp(max=num_classes - 1).view(
                        -1, 1, 1).expand(-1, 1, size)).squeeze(1)
            coder = bbox_head.bbox_coder
            decoded = {}
            if bbox_head.reg_decoded_bbox:
                pred = get_box_tensor(coder.decode(priors, pred))
            else:
                targets = encode(coder, priors, targets, box_types)
                if getattr(bbox_head, 'loss_bbox_type', None) == 'kfiou':
                    # mmrotate's RotatedShared2FCBBoxHead: KFIoU compares
                    # the decoded prediction with the decoded targets
                    decoded = dict(
                        pred_decode=get_box_tensor(coder.decode(priors, pred)),
                        targets_decode=get_box_tensor(
                            coder.decode(priors, targets)))
            loss_bbox = _float(
                _per_row(
                    bbox_head.loss_bbox(
                        pred, targets, reduction_override='none', **decoded),
                    labels, num_classes))
            # a fill, not a product: a background row's loss may be inf/NaN
            loss_bbox = loss_bbox.masked_fill_(labels >= num_classes, 0.)
            if weights is not None and weights['loss_bbox'] != 1:
                loss_bbox = loss_bbox * weights['loss_bbox']
            total = loss_bbox if total is None else total + loss_bbox
    return total
