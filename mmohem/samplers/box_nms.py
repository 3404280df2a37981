"""The paper's class-aware NMS for the box type of the RoIs being mined.

Axis-aligned RoIs (mmdet's ``HorizontalBoxes``, or plain ``(x1, y1, x2,
y2)`` tensors, mmdet's convention for boxes without a type) go through
mmcv's NMS op; rotated RoIs (the box type registered as ``'rbox'``, e.g.
mmrotate's ``RotatedBoxes``, ``(cx, cy, w, h, angle)``) through mmcv's
``nms_rotated``, with the rotated IoU. The kind is decided by the box type,
never by a tensor's width. Any other box type is refused, never suppressed
with the wrong overlap.

Both visit the candidates in the given rank order (the scores handed to the
op strictly decrease along it, so the op's own sort keeps that order, ties
and all) and tell groups apart by moving each group's boxes out of the
others' reach, in one op call.
"""
from typing import Callable, Union

import torch
from mmcv.ops import nms_rotated
from mmcv.ops.nms import NMSop
from mmdet.structures.bbox import BaseBoxes, HorizontalBoxes
from mmdet.structures.bbox.box_type import box_types
from torch import Tensor

# (boxes, groups, order, iou_thr) -> kept indices, in order
RankOrderNMS = Callable[[Tensor, Tensor, Tensor, float], Tensor]


class BoxTypeNotSupportedError(TypeError):
    """RoIs of a box type whose overlaps mmohem cannot compute for NMS."""


def _in_rank_order_scores(order: Tensor) -> Tensor:
    return torch.arange(
        order.numel(), 0, -1, dtype=torch.float32, device=order.device)


def horizontal_nms(boxes: Tensor, groups: Tensor, order: Tensor,
                   iou_thr: float) -> Tensor:
    """Greedy NMS of ``(x1, y1, x2, y2)`` boxes visited in ``order``; a box
    is suppressed by an earlier kept box of its group with IoU > ``iou_thr``
    (the groups' offsets are those of mmcv's ``batched_nms``).

    Returns:
        Tensor: The indices NMS keeps, in ``order``.
    """
    boxes = boxes if boxes.dtype == torch.float32 else boxes.float()
    shifted = boxes + (groups * (boxes.max() + 1)).unsqueeze(1)
    keep = NMSop.apply(
        shifted.index_select(0, order), _in_rank_order_scores(order), iou_thr,
        0, 0, -1)
    return order.index_select(0, keep)


def rotated_nms(boxes: Tensor, groups: Tensor, order: Tensor,
                iou_thr: float) -> Tensor:
    """Greedy NMS of ``(cx, cy, w, h, angle)`` boxes visited in ``order``,
    with the rotated IoU (mmcv's ``nms_rotated``; its CPU kernel suppresses
    at IoU >= ``iou_thr``, its CUDA kernel above it).

    mmcv's op does not tell labels apart (it ignores ``labels``), so each
    group's centres are moved by more than the whole image's extent plus
    the largest box's diagonal.

    Returns:
        Tensor: The indices NMS keeps, in ``order``.
    """
    boxes = boxes if boxes.dtype == torch.float32 else boxes.float()
    centres, rest = boxes[:, :2], boxes[:, 2:]
    reach = (centres.max() - centres.min()) + 2 * boxes[:, 2:4].max() + 1
    shifted = torch.cat([centres + (groups * reach).unsqueeze(1), rest], 1)
    _, keep = nms_rotated(
        shifted.index_select(0, order), _in_rank_order_scores(order), iou_thr)
    return order.index_select(0, keep)


def nms_for(priors: Union[Tensor, BaseBoxes]) -> RankOrderNMS:
    """The rank-order NMS for the box type of ``priors``.

    Args:
        priors (Tensor | BaseBoxes): The candidate RoIs.

    Returns:
        Callable: :func:`horizontal_nms` or :func:`rotated_nms`.

    Raises:
        BoxTypeNotSupportedError: For any other box type, naming it and the
            way out.
    """
    if not isinstance(priors, BaseBoxes) or isinstance(priors,
                                                       HorizontalBoxes):
        return horizontal_nms
    rotated = box_types.get('rbox')
    if rotated is not None and isinstance(priors, rotated):
        return rotated_nms
    raise BoxTypeNotSupportedError(
        f'mmohem.OHEMSampler: the candidate RoIs are {type(priors).__name__}'
        ', a box type whose overlaps mmohem cannot compute for the NMS among '
        'candidates (it knows axis-aligned HorizontalBoxes and rotated '
        "'rbox' boxes). Set nms_iou_thr=None to rank these RoIs by loss "
        'without NMS, or convert the RoIs to one of those types.')
