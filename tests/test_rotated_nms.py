"""The NMS among rotated candidates against a hand-written reference:
greedy in rank order, with the rotated IoU computed independently by
polygon intersection (tests/reference.py); on random rotated boxes with
tied losses and with overlaps just above and below the threshold."""
import functools
import math

import pytest
import torch
from mmcv.ops import box_iou_rotated
from reference import (rank_order, reference_budget, reference_rotated_nms,
                       rotated_iou)

from mmohem.samplers import select_hard
from mmohem.samplers.box_nms import horizontal_nms, rotated_nms

NUM_CLASSES = 3  # groups 0-2 foreground, 3 background


def random_rotated_boxes(n, seed, extent=100.):
    g = torch.Generator().manual_seed(seed)
    centres = torch.rand(n, 2, generator=g) * extent
    sizes = 8 + torch.rand(n, 2, generator=g) * 40
    angles = (torch.rand(n, 1, generator=g) - 0.5) * math.pi
    return torch.cat([centres, sizes, angles], 1)


def test_reference_iou_is_mmcvs_rotated_iou():
    """The reference's polygon IoU and mmcv's op agree on the convention
    (how the angle turns the box), so they can check each other."""
    a, b = random_rotated_boxes(40, 0), random_rotated_boxes(40, 1)
    expected = torch.tensor([[rotated_iou(x, y) for y in b.tolist()]
                             for x in a.tolist()])
    assert (expected > 0.05).sum() > 20  # enough overlapping pairs
    assert torch.allclose(box_iou_rotated(a, b), expected, atol=1e-4)


@pytest.mark.parametrize('seed', [0, 1, 2])
@pytest.mark.parametrize('iou_thr', [0.3, 0.7])
def test_rotated_nms_keeps_what_the_reference_keeps(seed, iou_thr):
    g = torch.Generator().manual_seed(seed + 10)
    # 80 random boxes and 40 near-duplicates of the first 10 (jittered, of
    # their group), whose overlaps fall on both sides of either threshold
    boxes = random_rotated_boxes(80, seed, extent=80.)
    groups = torch.randint(0, NUM_CLASSES + 1, (80, ), generator=g)
    source = torch.arange(40) % 10
    jitter = torch.randn(
        40, 5, generator=g) * torch.tensor([3., 3., 3., 3., 0.15])
    boxes = torch.cat([boxes, boxes[source] + jitter])
    groups = torch.cat([groups, groups[source]])
    # one decimal: many tied losses, which keep index order
    loss = (torch.rand(120, generator=g) * 3).round(decimals=1)
    selection = select_hard(
        loss,
        boxes,
        groups,
        NUM_CLASSES,
        num=120,
        nms_iou_thr=iou_thr,
        nms=rotated_nms)
    expected = reference_rotated_nms(loss, boxes, groups, iou_thr)
    assert selection.kept.tolist() == expected
    assert 20 < len(expected) < 115  # NMS suppressed some, not all
    # and had decisions to make near the threshold
    b = boxes.tolist()
    assert sum(
        abs(rotated_iou(b[i], b[j]) - iou_thr) < 0.05 for i in range(120)
        for j in range(i) if groups[i] == groups[j]) >= 10


def shifted_pair(iou, width=60., height=20., angle=0.6):
    """Two equal rotated boxes, the second moved along the first's width so
    that their IoU is ``iou``: (w - d) / (w + d) = iou."""
    d = width * (1 - iou) / (1 + iou)
    a = torch.tensor([200., 200., width, height, angle])
    b = a.clone()
    b[0] += d * math.cos(angle)
    b[1] += d * math.sin(angle)
    return a, b


@pytest.mark.parametrize('iou, suppressed', [(0.71, True), (0.69, False)])
def test_overlaps_near_the_threshold(iou, suppressed):
    a, b = shifted_pair(iou)
    assert rotated_iou(a, b) == pytest.approx(iou, abs=1e-6)
    boxes = torch.stack([a, b])
    loss = torch.tensor([2., 1.])
    same = select_hard(
        loss,
        boxes,
        torch.tensor([1, 1]),
        NUM_CLASSES,
        num=2,
        nms_iou_thr=0.7,
        nms=rotated_nms)
    assert same.kept.tolist() == ([0] if suppressed else [0, 1])
    # class-aware: another group never suppresses, however close
    other = select_hard(
        loss,
        boxes,
        torch.tensor([1, NUM_CLASSES]),
        NUM_CLASSES,
        num=2,
        nms_iou_thr=0.7,
        nms=rotated_nms)
    assert other.kept.tolist() == [0, 1]


def test_axis_aligned_nms_would_read_rotated_boxes_wrongly():
    """Why the box type matters: two rotated boxes at rotated IoU 0.6 (both
    kept at 0.7), their first four numbers read as (x1, y1, x2, y2) by the
    axis-aligned NMS, overlap at IoU 0.74, and one is suppressed (all five
    columns mmcv's nms refuses)."""
    a = torch.tensor([10., 10., 200., 40., 0.])
    b = torch.tensor([60., 10., 200., 40., 0.])
    assert rotated_iou(a, b) == pytest.approx(0.6)
    boxes = torch.stack([a, b])
    args = (torch.tensor([2., 1.]), torch.tensor([0, 0]), NUM_CLASSES)

    def kept(boxes, nms):
        loss, groups, num_classes = args
        return select_hard(
            loss, boxes, groups, num_classes, num=2, nms_iou_thr=0.7,
            nms=nms).kept.tolist()

    assert kept(boxes, rotated_nms) == [0, 1]
    assert kept(boxes[:, :4], horizontal_nms) == [0]
    with pytest.raises(AssertionError):
        kept(boxes, horizontal_nms)


@functools.lru_cache(maxsize=None)
def clustered_pool(seed):
    """300 rotated candidates: 150 random ones and 150 near-duplicates of
    30 of them (jittered, of their group; overlaps on both sides of 0.7),
    losses with one decimal (many ties), and the reference's rotated NMS of
    them, class-aware and class-agnostic."""
    g = torch.Generator().manual_seed(seed + 20)
    boxes = random_rotated_boxes(150, seed, extent=160.)
    groups = torch.randint(0, NUM_CLASSES + 1, (150, ), generator=g)
    source = torch.arange(150) % 30
    jitter = torch.randn(
        150, 5, generator=g) * torch.tensor([2., 2., 2., 2., 0.1])
    boxes = torch.cat([boxes, boxes[source] + jitter])
    groups = torch.cat([groups, groups[source]])
    loss = (torch.rand(300, generator=g) * 3).round(decimals=1)
    kept = {
        agnostic: reference_rotated_nms(loss, boxes, groups, 0.7, agnostic)
        for agnostic in (False, True)
    }
    return boxes, groups, loss, kept


MODES = {
    'pure':
    dict(),
    'ratio':
    dict(pos_fraction=0.25),
    'min_negatives':
    dict(min_negatives=20),
    'ratio_min_negatives_ub':
    dict(pos_fraction=0.5, min_negatives=10, neg_pos_ub=2),
    'pure_ub':
    dict(neg_pos_ub=1),
    'class_agnostic':
    dict(class_agnostic_nms=True),
}


@pytest.mark.parametrize('seed', [0, 1])
@pytest.mark.parametrize('mode', list(MODES))
@pytest.mark.parametrize('num', [8, 70, 400])
def test_rotated_selection_stopped_early_equals_the_full_greedy_nms(
        num, mode, seed):
    """On the CPU the rotated NMS visits the ranked candidates in blocks
    and stops once the selection is settled; what it selects is what the
    reference selects after its full greedy NMS (budget met in the first
    block, in a later one, or never), and what it kept is a prefix of the
    reference's kept list."""
    boxes, groups, loss, kept = clustered_pool(seed)
    options = dict(MODES[mode])
    if options.get('min_negatives', 0) > num:  # the sampler refuses that
        options['min_negatives'] = num // 2
    agnostic = options.get('class_agnostic_nms', False)
    selection = select_hard(
        loss,
        boxes,
        groups,
        NUM_CLASSES,
        num=num,
        nms_iou_thr=0.7,
        nms=rotated_nms,
        **options)
    expected = kept[agnostic]
    assert 40 < len(expected) < 280  # NMS suppressed some, not all
    pos, neg = reference_budget(expected, groups.tolist(), num,
                                options.get('pos_fraction'),
                                options.get('neg_pos_ub', -1),
                                options.get('min_negatives', 0))
    assert sorted(selection.pos_inds.tolist()) == pos
    assert sorted(selection.neg_inds.tolist()) == neg
    assert selection.kept.tolist() == expected[:len(selection.kept)]
    if num == 8:  # met in the first block
        assert selection.num_visited < len(loss)
    if num == 400:  # never met: every candidate examined
        assert selection.num_visited == len(loss)
        assert selection.kept.tolist() == expected


def test_a_budget_met_in_a_later_block_stops_before_the_end():
    """The 200 hardest of 400 candidates are near-duplicates of 10 boxes:
    the first block (128 ranked boxes) keeps too few of the 30 wanted, a
    later one settles it before the end, and the selection is the
    reference's."""
    g = torch.Generator().manual_seed(7)
    base = random_rotated_boxes(10, 7, extent=160.)
    duplicates = base.repeat(20, 1) + torch.randn(
        200, 5, generator=g) * torch.tensor([0.5, 0.5, 0.5, 0.5, 0.02])
    boxes = torch.cat([duplicates, random_rotated_boxes(200, 8, extent=160.)])
    groups = torch.cat([
        torch.full((200, ), NUM_CLASSES),
        torch.randint(0, NUM_CLASSES + 1, (200, ), generator=g)
    ])
    loss = torch.cat([2 + torch.rand(200, generator=g), torch.rand(200)])
    selection = select_hard(
        loss,
        boxes,
        groups,
        NUM_CLASSES,
        num=30,
        nms_iou_thr=0.7,
        nms=rotated_nms)
    assert 128 < selection.num_visited < len(loss)
    expected = reference_rotated_nms(loss, boxes, groups, 0.7)
    pos, neg = reference_budget(expected, groups.tolist(), 30, None)
    assert sorted(selection.pos_inds.tolist()) == pos
    assert sorted(selection.neg_inds.tolist()) == neg
    # the statistics count what NMS examined, the hardest first (ties in
    # index order), and what the reference keeps among those
    ranked = rank_order(loss.tolist())
    examined = set(ranked[:selection.num_visited])
    assert selection.num_examined.item() == selection.num_visited
    assert selection.num_kept.item() == len(examined.intersection(expected))
    assert selection.num_kept.item() < len(expected)


def test_only_pairs_that_can_touch_get_an_iou(monkeypatch):
    """The blocked NMS asks mmcv for the IoU of pairs in one group whose
    circumscribed circles meet and whose areas allow the threshold, never
    of every pair: far fewer than the n(n-1)/2 of the greedy op."""
    from mmohem.samplers import box_nms
    boxes, groups, loss, kept = clustered_pool(1)
    asked = []
    real = box_nms.box_iou_rotated

    def counting(a, b, **kwargs):
        asked.append(len(a))
        return real(a, b, **kwargs)

    monkeypatch.setattr(box_nms, 'box_iou_rotated', counting)
    selection = select_hard(
        loss,
        boxes,
        groups,
        NUM_CLASSES,
        num=400,
        nms_iou_thr=0.7,
        nms=rotated_nms)
    assert selection.kept.tolist() == kept[False]
    assert 0 < sum(asked) < 300 * 299 / 2 / 10


@pytest.mark.parametrize('iou, suppressed', [(0.71, True), (0.69, False)])
def test_pairs_at_the_edge_of_the_overlap_filters(iou, suppressed):
    """Pairs at IoU just above and just below the threshold that the
    blocked NMS's filters must not drop: a long thin box and its copy moved
    far along its length (centres 58 px apart), and a box nested in another
    whose area is ``iou`` times the other's (IoU = the area ratio)."""
    long_a, long_b = shifted_pair(iou, width=400., height=4., angle=1.1)
    nested_a = torch.tensor([300., 300., 80., 50., -0.4])
    nested_b = nested_a.clone()
    nested_b[2:4] *= math.sqrt(iou)
    boxes = torch.stack([long_a, long_b, nested_a, nested_b])
    assert rotated_iou(long_a, long_b) == pytest.approx(iou, abs=1e-6)
    assert rotated_iou(nested_a, nested_b) == pytest.approx(iou, abs=1e-4)
    selection = select_hard(
        torch.tensor([4., 3., 2., 1.]),
        boxes,
        torch.tensor([0, 0, 1, 1]),
        NUM_CLASSES,
        num=4,
        nms_iou_thr=0.7,
        nms=rotated_nms)
    assert selection.kept.tolist() == ([0, 2] if suppressed else [0, 1, 2, 3])


def tie_pair(x, y, angle=0.):
    """Two rotated boxes with one centre whose IoU is exactly 0.5: a 16 x
    12.5 box (area 200) inside a 20 x 20 one (area 400)."""
    return torch.tensor([[x, y, 20., 20., angle], [x, y, 16., 12.5, angle]])


def test_a_tie_at_the_threshold_is_kept_on_every_cpu_path():
    """The one rule: suppressed only where the IoU is above the threshold;
    a pair at exactly 0.5 keeps both boxes with nms_iou_thr=0.5, and at
    0.49 the second box goes, axis-aligned and rotated alike."""
    rotated = tie_pair(50., 50.)
    assert box_iou_rotated(rotated[:1], rotated[1:]).item() == 0.5
    horizontal = torch.cat([
        rotated[:, :2] - rotated[:, 2:4] / 2,
        rotated[:, :2] + rotated[:, 2:4] / 2
    ], 1)
    for nms, boxes in ((rotated_nms, rotated), (horizontal_nms, horizontal)):
        for thr, kept in ((0.5, [0, 1]), (0.49, [0])):
            selection = select_hard(
                torch.tensor([2., 1.]),
                boxes,
                torch.tensor([0, 0]),
                NUM_CLASSES,
                num=2,
                nms_iou_thr=thr,
                nms=nms)
            assert selection.kept.tolist() == kept, (nms.__name__, thr)


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_blocked_nms_keeps_what_mmcvs_nms_rotated_keeps(seed):
    """mmcv's own nms_rotated over the whole pool (one group: its CPU
    kernel ignores labels) keeps what the blocked NMS keeps, on pools where
    no pair lies exactly at the threshold, where its rule (IoU >= the
    threshold) and mmohem's (IoU >) agree."""
    from mmcv.ops import nms_rotated
    g = torch.Generator().manual_seed(seed + 20)
    boxes = random_rotated_boxes(150, seed, extent=120.)
    source = torch.arange(150) % 30
    boxes = torch.cat([
        boxes, boxes[source] +
        torch.randn(150, 5, generator=g) * torch.tensor([2., 2., 2., 2., .1])
    ])
    iou_thr = 0.5
    ious = box_iou_rotated(boxes, boxes)
    assert not (ious == iou_thr).any()
    assert ((ious > 0.3) & (ious < 0.7)).sum() > 100  # decisions near it
    loss = torch.rand(300, generator=g)
    order = torch.tensor(rank_order(loss.tolist()))
    _, keep = nms_rotated(boxes[order], -torch.arange(300.), iou_thr)
    selection = select_hard(
        loss,
        boxes,
        torch.zeros(300, dtype=torch.long),
        NUM_CLASSES,
        num=300,
        nms_iou_thr=iou_thr,
        nms=rotated_nms)
    assert selection.kept.tolist() == order[keep].tolist()
    assert 60 < len(keep) < 280
