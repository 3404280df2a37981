"""The paper's class-aware NMS for the box type of the RoIs being mined.

Axis-aligned RoIs (mmdet's ``HorizontalBoxes``, or plain ``(x1, y1, x2,
y2)`` tensors, mmdet's convention for boxes without a type) go through
mmcv's NMS op; rotated RoIs (the box type registered as ``'rbox'``, e.g.
mmrotate's ``RotatedBoxes``, ``(cx, cy, w, h, angle)``) through the rotated
IoU. The kind is decided by the box type, never by a tensor's width. Any
other box type is refused, never suppressed with the wrong overlap.

Every NMS here visits the candidates in the given rank order and keeps a
box unless a kept box of its group ranked before it overlaps it with an IoU
**above** the threshold (IoU > ``iou_thr``), on every path and device: the
rule of mmcv's ``nms`` on CPU and GPU, of its ``nms_rotated`` on a GPU and
of the paper's code (mmcv's CPU ``nms_rotated`` suppresses at IoU >= the
threshold, which is why the CPU rotated path is mmohem's own). Greedy NMS is
prefix-closed (what it keeps among the first k boxes does not depend on the
boxes after them), so an NMS may stop once the boxes it has kept meet the
selection's :class:`Budget`.
"""
from typing import Callable, NamedTuple, Optional, Tuple, Union

import torch
from mmcv.ops import box_iou_rotated, nms, nms_rotated
from mmdet.structures.bbox import BaseBoxes, HorizontalBoxes
from mmdet.structures.bbox.box_type import box_types
from torch import Tensor


class Budget(NamedTuple):
    """The kept boxes that settle a selection: at least ``total`` valid
    ones (label at most ``num_classes``), ``pos`` foreground ones (below
    it) and ``neg`` background ones (equal to it), or every box.

    Attributes:
        labels (Tensor): Label of every box (not the NMS groups, which are
            all alike under class-agnostic NMS).
        num_classes (int): Number of foreground classes.
    """
    labels: Tensor
    num_classes: int
    total: int = 0
    pos: int = 0
    neg: int = 0

    def met_by(self, kept: Tensor) -> bool:
        """Whether the boxes ``kept`` (indices) meet it; waits for the
        device once."""
        labels = self.labels.index_select(0, kept)
        total, pos, neg = torch.stack([(labels <= self.num_classes).sum(),
                                       (labels < self.num_classes).sum(),
                                       (labels == self.num_classes).sum()
                                       ]).tolist()
        return total >= self.total and pos >= self.pos and neg >= self.neg

    @property
    def num_boxes(self) -> int:
        """The fewest kept boxes that can meet it."""
        return max(self.total, self.pos + self.neg)


class Kept(NamedTuple):
    """What a rank-order NMS returns.

    Attributes:
        inds (Tensor): The indices it keeps, in rank order.
        num_visited (int): How many boxes it examined: the first
            ``num_visited`` of the rank order (all of them unless it stopped
            at a :class:`Budget`).
    """
    inds: Tensor
    num_visited: int


# (boxes, groups, order, iou_thr, budget) -> what it kept
RankOrderNMS = Callable[[Tensor, Tensor, Tensor, float, Optional[Budget]],
                        Kept]

# The CPU rotated NMS visits a first block of FIRST_BLOCK_FACTOR times the
# boxes the budget needs (at least BLOCK), which settles it where NMS
# suppresses little, as among an RPN's proposals; then blocks of BLOCK.
# Within a block every pair of survivors that can touch gets an IoU, also
# where the earlier one is suppressed later in the block: small blocks
# waste little of that where NMS suppresses much.
FIRST_BLOCK_FACTOR = 1.25
BLOCK = 128


class BoxTypeNotSupportedError(TypeError):
    """RoIs of a box type whose overlaps mmohem cannot compute for NMS."""


def _in_rank_order_scores(order: Tensor) -> Tensor:
    return torch.arange(
        order.numel(), 0, -1, dtype=torch.float32, device=order.device)


def horizontal_nms(boxes: Tensor,
                   groups: Tensor,
                   order: Tensor,
                   iou_thr: float,
                   budget: Optional[Budget] = None) -> Kept:
    """Greedy NMS of ``(x1, y1, x2, y2)`` boxes visited in ``order``; a box
    is suppressed by an earlier kept box of its group with IoU > ``iou_thr``
    (mmcv's ``nms``, the groups apart by the offsets of its
    ``batched_nms``). It visits every box in one call, a few milliseconds
    for thousands on a CPU, so ``budget`` is not consulted: it examines
    every box.
    """
    boxes = boxes if boxes.dtype == torch.float32 else boxes.float()
    # batched_nms selects the same but copies a constant to the device
    # (torch.tensor(1).to(boxes)): a host sync per call on a GPU
    shifted = boxes + (groups * (boxes.max() + 1)).unsqueeze(1)
    _, keep = nms(
        shifted.index_select(0, order), _in_rank_order_scores(order), iou_thr)
    return Kept(order.index_select(0, keep), order.numel())


def rotated_nms(boxes: Tensor,
                groups: Tensor,
                order: Tensor,
                iou_thr: float,
                budget: Optional[Budget] = None) -> Kept:
    """Greedy NMS of ``(cx, cy, w, h, angle)`` boxes visited in ``order``,
    with the rotated IoU of mmcv's ops; a box is suppressed by an earlier
    kept box of its group with IoU > ``iou_thr``.

    On a GPU, mmcv's ``nms_rotated`` kernel visits every box of a group in
    one pass. On the CPU that kernel computes the IoU of every pair it
    reaches, about a second per thousand boxes, and suppresses at IoU >=
    the threshold, so :func:`_rotated_nms_in_blocks` computes the selection
    from the overlaps that can matter: it visits the candidates in blocks,
    hardest first, until the boxes kept meet ``budget``, and computes the
    IoU only of pairs in one group that can touch.
    """
    boxes = boxes if boxes.dtype == torch.float32 else boxes.float()
    if boxes.device.type == 'cpu':
        return _rotated_nms_in_blocks(boxes, groups, order, iou_thr, budget)
    # one call per group, not mmcv's batched_nms: its kernel ignores labels,
    # and the offsets batched_nms moves each group's centres by are rounded
    # in float32, which can move an IoU at the threshold across it
    ranked = boxes.index_select(0, order)
    ranked_groups = groups.index_select(0, order)
    keep = []
    for group in ranked_groups.unique():
        members = (ranked_groups == group).nonzero().view(-1)
        _, kept = nms_rotated(
            ranked.index_select(0, members), _in_rank_order_scores(members),
            iou_thr)
        keep.append(members.index_select(0, kept))
    # ranked positions: ascending is rank order
    keep = torch.cat(keep).sort().values
    return Kept(order.index_select(0, keep), order.numel())


def _rotated_nms_in_blocks(boxes: Tensor, groups: Tensor, order: Tensor,
                           iou_thr: float, budget: Optional[Budget]) -> Kept:
    """:func:`rotated_nms` on the CPU, one block of ranked boxes at a time.

    A pair's IoU is computed only where it can reach ``iou_thr``: the two
    boxes are in one group, finite, their circumscribed circles meet and
    the smaller area is at least ``iou_thr`` times the larger (IoU is at
    most that ratio). mmcv gives a box of area below 1e-14 an IoU of 0,
    which the area test drops too. The IoU of every other pair is the one
    mmcv's ``box_iou_rotated`` computes, the function its ``nms_rotated``
    calls per pair; a pair is suppressed where it exceeds ``iou_thr``.
    """
    num = order.numel()
    ranked = boxes.index_select(0, order)
    ranked_groups = groups.index_select(0, order)
    centres = ranked[:, :2]
    radius = ranked[:, 2:4].norm(dim=1) / 2
    area = ranked[:, 2] * ranked[:, 3]
    usable = torch.isfinite(ranked).all(1)
    pool = (ranked, ranked_groups, centres, radius, area, usable)
    kept = torch.zeros(0, dtype=torch.long)  # ranked positions
    start = 0
    block = BLOCK
    if budget is not None:
        block = max(BLOCK, int(budget.num_boxes * FIRST_BLOCK_FACTOR))
    while start < num:
        stop = min(num, start + block)
        later = torch.arange(start, stop)
        # first what the boxes kept so far suppress, then the survivors
        # among themselves, in rank order
        hit_i, hit_j = _overlapping(kept, later, pool, iou_thr)
        alive = torch.ones(stop - start, dtype=torch.bool)
        alive[hit_j - start] = False
        survivors = later[alive]
        hit_i, hit_j = _overlapping(survivors, survivors, pool, iou_thr)
        kept = torch.cat([kept, _greedy(survivors, hit_i, hit_j)])
        start, block = stop, BLOCK
        if budget is not None and budget.met_by(order.index_select(0, kept)):
            break
    return Kept(order.index_select(0, kept), start)


def _overlapping(earlier: Tensor, later: Tensor, pool: tuple,
                 iou_thr: float) -> Tuple[Tensor, Tensor]:
    """The pairs (ranked positions ``i < j``, ``i`` in ``earlier``, ``j``
    in ``later``) of one group whose IoU exceeds ``iou_thr``; the IoU is
    computed only for the pairs that can reach it."""
    ranked, groups, centres, radius, area, usable = pool
    gap = centres[earlier][:, None, :] - centres[later][None, :, :]
    reach = radius[earlier][:, None] + radius[later][None, :]
    a, b = area[earlier][:, None], area[later][None, :]
    # slack for rounding: a pair is dropped only if it is clearly apart
    slack = 1 + 1e-4
    pairs = ((earlier[:, None] < later[None, :])
             & (groups[earlier][:, None] == groups[later][None, :])
             & usable[earlier][:, None] & usable[later][None, :]
             & (gap.square().sum(-1) <= reach.square() * slack)
             & (torch.minimum(a, b) * slack >= torch.maximum(a, b) * iou_thr))
    rows, cols = pairs.nonzero(as_tuple=True)
    i, j = earlier[rows], later[cols]
    if not len(i):
        return i, j
    hit = box_iou_rotated(ranked[i], ranked[j], aligned=True) > iou_thr
    return i[hit], j[hit]


def _greedy(candidates: Tensor, sources: Tensor, targets: Tensor) -> Tensor:
    """The ``candidates`` (ranked positions, ascending) that greedy NMS
    keeps, given the overlapping pairs among them (``sources`` before
    ``targets``): a candidate is kept unless a kept one suppressed it,
    which is settled by the time it is reached in rank order."""
    if not len(sources):
        return candidates
    order = sources.argsort(stable=True)
    suppressed = set()
    for s, t in zip(sources[order].tolist(), targets[order].tolist()):
        if s not in suppressed:
            suppressed.add(t)
    flags = [c not in suppressed for c in candidates.tolist()]
    return candidates[torch.tensor(flags, dtype=torch.bool)]


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
