"""Rank RoIs by loss, suppress overlaps, keep the hardest (tensor-only)."""
from typing import NamedTuple, Optional

import torch
from mmcv.ops import batched_nms
from torch import Tensor


class HardSelection(NamedTuple):
    """Result of :func:`select_hard`.

    Attributes:
        pos_inds (Tensor): Selected foreground RoIs, hardest first.
        neg_inds (Tensor): Selected background RoIs, hardest first.
        num_kept (Tensor): Valid candidates left after NMS (0-dim).
    """
    pos_inds: Tensor
    neg_inds: Tensor
    num_kept: Tensor


def rank_by_loss(loss: Tensor, valid: Tensor) -> Tensor:
    """Order RoIs hardest first.

    Valid RoIs with a finite loss come first, by loss, highest first; then
    valid RoIs whose loss is NaN or infinite; then invalid (ignored) RoIs.
    Ties keep index order, so the ranking is deterministic.

    Args:
        loss (Tensor): Loss per RoI, shape (n, ).
        valid (Tensor): Bool mask of RoIs that may be selected, shape (n, ).

    Returns:
        Tensor: Permutation of ``range(n)``.
    """
    finite = torch.isfinite(loss)
    key = torch.where(finite, loss, loss.new_full((), float('-inf')))
    order = torch.sort(key, descending=True, stable=True).indices
    # Non-finite losses must not crowd out finite ones: move them, and the
    # invalid RoIs after them, behind every finite loss (stable sort on tier).
    tier = (~finite).to(torch.uint8) + 2 * (~valid).to(torch.uint8)
    return order[torch.sort(tier[order], stable=True).indices]


def select_hard(loss: Tensor,
                boxes: Tensor,
                groups: Tensor,
                num_classes: int,
                num: int,
                pos_fraction: Optional[float] = None,
                nms_iou_thr: Optional[float] = 0.7,
                neg_pos_ub: int = -1) -> HardSelection:
    """Select the hardest RoIs of one image as the OHEM paper does.

    RoIs are ranked by :func:`rank_by_loss`, then greedy NMS at
    ``nms_iou_thr`` removes every RoI that overlaps a higher-ranked RoI of the
    same group (class-aware: foreground classes and background never
    suppress each other), and the top ``num`` remain. With ``pos_fraction``
    (ratio mode) at most ``int(num * pos_fraction)`` of them are foreground
    and the rest of the budget goes to background, each group in loss order.
    With ``neg_pos_ub >= 0`` at most ``neg_pos_ub * max(1, num_pos)``
    background RoIs are kept, and the budget is not refilled.

    Args:
        loss (Tensor): Loss per RoI, shape (n, ).
        boxes (Tensor): RoI boxes (x1, y1, x2, y2), shape (n, 4).
        groups (Tensor): Label per RoI: ``0..num_classes-1`` foreground,
            ``num_classes`` background, anything larger is never selected.
        num_classes (int): Number of foreground classes.
        num (int): RoIs to keep.
        pos_fraction (float, optional): Foreground quota; None for none.
        nms_iou_thr (float, optional): NMS IoU threshold; None disables NMS.
        neg_pos_ub (int): Upper bound of negatives per positive; -1: none.

    Returns:
        HardSelection: Selected indices and the number kept after NMS.
    """
    valid = groups <= num_classes
    order = rank_by_loss(loss, valid)
    if nms_iou_thr is not None and order.numel() > 0:
        # NMS runs on ranks, not raw losses: every score is finite and
        # distinct, so the order above (and its tie-breaking) is preserved.
        rank_score = torch.empty_like(loss)
        rank_score[order] = torch.arange(
            order.numel(), 0, -1, device=loss.device, dtype=loss.dtype)
        _, order = batched_nms(boxes.float(), rank_score, groups,
                               dict(type='nms', iou_threshold=nms_iou_thr))
    ranked_groups = groups[order]
    is_pos = ranked_groups < num_classes
    is_neg = ranked_groups == num_classes
    pos_rank = is_pos.cumsum(0)
    neg_rank = is_neg.cumsum(0)
    if pos_fraction is None:
        in_budget = torch.arange(order.numel(), device=order.device) < num
        take_pos = is_pos & in_budget
        take_neg = is_neg & in_budget
    else:
        take_pos = is_pos & (pos_rank <= int(num * pos_fraction))
        num_neg = num - take_pos.sum()
        take_neg = is_neg & (neg_rank <= num_neg)
    if neg_pos_ub >= 0:
        neg_cap = neg_pos_ub * take_pos.sum().clamp(min=1)
        take_neg = take_neg & (neg_rank <= neg_cap)
    return HardSelection(order[take_pos], order[take_neg],
                         (is_pos | is_neg).sum())
