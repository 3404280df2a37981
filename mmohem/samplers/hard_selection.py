"""Rank RoIs by loss, suppress overlaps, keep the hardest (tensor-only).

Every step is a handful of whole-tensor ops with no host round trip until
the final foreground/background split (whose sizes depend on the data): on
a GPU each op is a kernel launch, so the op count, not the arithmetic, is
what this path costs.
"""
from typing import NamedTuple, Optional

import torch
from torch import Tensor

from .box_nms import Budget, RankOrderNMS, horizontal_nms


class HardSelection(NamedTuple):
    """Result of :func:`select_hard`.

    Attributes:
        pos_inds (Tensor): Selected foreground RoIs, hardest first.
        neg_inds (Tensor): Selected background RoIs, hardest first.
        kept (Tensor): The candidates NMS left among those it examined,
            hardest first, the ignored ones last; the budget is taken from
            its front.
        groups (Tensor): The candidates' groups, as given to
            :func:`select_hard`.
        num_classes (int): Number of foreground classes.
        num_visited (int): How many ranked candidates NMS examined, hardest
            first: every one, unless it stopped once the selection was
            settled (rotated RoIs on the CPU).
    """
    pos_inds: Tensor
    neg_inds: Tensor
    kept: Tensor
    groups: Tensor
    num_classes: int
    num_visited: int

    @property
    def num_kept(self) -> Tensor:
        """Valid candidates NMS left among those it examined (0-dim);
        computed on request, as only the mining statistics need it."""
        return (self.groups[self.kept] <= self.num_classes).sum()

    @property
    def num_examined(self) -> Tensor:
        """Valid candidates NMS examined (0-dim): the invalid ones are
        ranked last, so at most ``num_visited``."""
        valid = (self.groups <= self.num_classes).sum()
        return valid.clamp(max=self.num_visited)


def _rank(loss: Tensor, invalid: Tensor) -> Tensor:
    """Order RoIs hardest first.

    Valid RoIs with a finite loss come first, by loss, highest first; then
    valid RoIs whose loss is NaN or infinite; then invalid (ignored) RoIs.
    Ties keep index order, so the ranking is deterministic.
    """
    # One stable ascending sort on a key with three tiers: finite losses
    # (negated, hardest first), then every non-finite loss (+inf), then the
    # invalid RoIs (NaN, which torch.sort puts after +inf).
    inf = float('inf')
    key = loss.neg().nan_to_num_(nan=inf, posinf=inf, neginf=inf)
    key.masked_fill_(invalid, float('nan'))
    return torch.sort(key, stable=True).indices


def _budget(groups: Tensor, num_classes: int, num: int,
            pos_fraction: Optional[float], min_negatives: int) -> Budget:
    """The kept candidates that settle the selection (derived from the
    rules in :func:`select_hard`): in pure OHEM the first ``num`` and
    ``min_negatives`` background ones; in ratio mode the foreground quota
    and the background that fills the rest. ``neg_pos_ub`` only ever takes
    fewer."""
    if pos_fraction is None:
        return Budget(groups, num_classes, total=num, neg=min_negatives)
    quota = int(num * pos_fraction)
    return Budget(
        groups, num_classes, pos=quota, neg=max(num - quota, min_negatives))


def select_hard(loss: Tensor,
                boxes: Tensor,
                groups: Tensor,
                num_classes: int,
                num: int,
                pos_fraction: Optional[float] = None,
                nms_iou_thr: Optional[float] = 0.7,
                neg_pos_ub: int = -1,
                nms: RankOrderNMS = horizontal_nms,
                min_negatives: int = 0,
                class_agnostic_nms: bool = False) -> HardSelection:
    """Select the hardest RoIs of one image as the OHEM paper does.

    RoIs are ranked hardest first (finite losses, highest first, then
    non-finite ones, then the invalid RoIs; ties in index order), then
    greedy NMS at ``nms_iou_thr`` (``nms``, the one for the RoIs' box type)
    removes every RoI that overlaps a higher-ranked RoI of the same group
    (class-aware: foreground classes and background never suppress each
    other; with ``class_agnostic_nms`` any RoI suppresses any other), and
    the top ``num`` remain. With ``pos_fraction`` (ratio mode) at most
    ``int(num * pos_fraction)`` of them are foreground and the rest of the
    budget goes to background, each group in loss order. With
    ``min_negatives`` the foreground gives up its lowest-ranked places until
    at least that many background RoIs are selected (or every one NMS left).
    With ``neg_pos_ub >= 0`` at most ``max(min_negatives, neg_pos_ub *
    max(1, num_pos))`` background RoIs are kept, and the budget is not
    refilled.

    Args:
        loss (Tensor): Loss per RoI, shape (n, ).
        boxes (Tensor): RoI boxes, (n, 4) ``(x1, y1, x2, y2)`` for the
            default ``nms``, (n, 5) ``(cx, cy, w, h, angle)`` for
            :func:`~mmohem.samplers.box_nms.rotated_nms`.
        groups (Tensor): Label per RoI: ``0..num_classes-1`` foreground,
            ``num_classes`` background, anything larger is never selected.
        num_classes (int): Number of foreground classes.
        num (int): RoIs to keep.
        pos_fraction (float, optional): Foreground quota; None for none.
        nms_iou_thr (float, optional): NMS IoU threshold; None disables NMS.
        neg_pos_ub (int): Upper bound of negatives per positive; -1: none.
        nms (Callable): The rank-order NMS of the box type
            (:func:`~mmohem.samplers.box_nms.nms_for`). Defaults to the
            axis-aligned one. It is told which kept candidates settle the
            selection and may stop there.
        min_negatives (int): Least background RoIs selected, where NMS left
            that many. Defaults to 0.
        class_agnostic_nms (bool): Suppress across groups too. Defaults to
            False (the paper's per-class NMS).

    Returns:
        HardSelection: Selected indices and what NMS kept.
    """
    invalid = groups > num_classes
    kept = _rank(loss, invalid)
    num_visited = kept.numel()
    if nms_iou_thr is not None and kept.numel() > 0:
        # ignored RoIs stay a group of their own (ranked last, they never
        # suppress a valid one)
        nms_groups = invalid.long() if class_agnostic_nms else groups
        kept, num_visited = nms(
            boxes, nms_groups, kept, nms_iou_thr,
            _budget(groups, num_classes, num, pos_fraction, min_negatives))
    if pos_fraction is None and neg_pos_ub < 0 and not min_negatives:
        # pure OHEM: the first `num` that NMS kept, whatever their group
        top = kept[:num]
        top_groups = groups.index_select(0, top)
        return HardSelection(
            _pick(top, top_groups < num_classes),
            _pick(top, top_groups == num_classes), kept, groups, num_classes,
            num_visited)
    ranked_groups = groups.index_select(0, kept)
    is_pos = ranked_groups < num_classes
    is_neg = ranked_groups == num_classes
    pos_rank = is_pos.cumsum(0)
    neg_rank = is_neg.cumsum(0)
    # pure OHEM: the foreground among the first `num`; ratio mode: its quota
    pos_quota = is_pos[:num].sum() if pos_fraction is None else int(
        num * pos_fraction)
    if min_negatives:
        # room for the hardest `min_negatives` background RoIs, or for all
        # that NMS left if fewer
        room = num - is_neg.sum().clamp(max=min_negatives)
        pos_quota = room.clamp(max=pos_quota) if isinstance(
            pos_quota, int) else torch.minimum(room, pos_quota)
    take_pos = is_pos & (pos_rank <= pos_quota)
    take_neg = is_neg & (neg_rank <= num - take_pos.sum())
    if neg_pos_ub >= 0:
        neg_cap = (neg_pos_ub *
                   take_pos.sum().clamp(min=1)).clamp(min=min_negatives)
        take_neg = take_neg & (neg_rank <= neg_cap)
    return HardSelection(
        _pick(kept, take_pos), _pick(kept, take_neg), kept, groups,
        num_classes, num_visited)


def _pick(values: Tensor, mask: Tensor) -> Tensor:
    """``values[mask]``, with fewer device ops than boolean indexing. Each
    call waits for the device once (the size of ``nonzero`` depends on the
    data); a selection makes two, for its foreground and its background."""
    return values.index_select(0, mask.nonzero().view(-1))
