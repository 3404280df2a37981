"""The NMS among rotated candidates against a hand-written reference:
greedy in rank order, with the rotated IoU computed independently by
polygon intersection (tests/reference.py); on random rotated boxes with
tied losses and with overlaps just above and below the threshold."""
import math

import pytest
import torch
from mmcv.ops import box_iou_rotated
from reference import reference_rotated_nms, rotated_iou

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
    kept at 0.7), read as (x1, y1, x2, y2) by the axis-aligned NMS, overlap
    at IoU 0.74, and one is suppressed."""
    a = torch.tensor([10., 10., 200., 40., 0.])
    b = torch.tensor([60., 10., 200., 40., 0.])
    assert rotated_iou(a, b) == pytest.approx(0.6)
    args = (torch.tensor([2., 1.]), torch.stack([a, b]), torch.tensor([0, 0]),
            NUM_CLASSES)
    assert select_hard(
        *args, num=2, nms_iou_thr=0.7,
        nms=rotated_nms).kept.tolist() == [0, 1]
    assert select_hard(
        *args, num=2, nms_iou_thr=0.7,
        nms=horizontal_nms).kept.tolist() == [0]
