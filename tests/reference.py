"""The sampler's selection computed by hand, independently of mmohem: each
RoI's loss from the head's raw outputs (cross-entropy and L1 on hand-encoded
deltas), a plain-Python greedy NMS and the top k."""
import math

import torch
from helpers import BBOX_HEAD, NUM_CLASSES
from mmdet.structures.bbox import bbox2roi

STDS = BBOX_HEAD['bbox_coder']['target_stds']


def encode(priors, gts):
    """Faster R-CNN box deltas, normalised by the coder's stds."""
    pw, ph = priors[:, 2] - priors[:, 0], priors[:, 3] - priors[:, 1]
    px, py = priors[:, 0] + 0.5 * pw, priors[:, 1] + 0.5 * ph
    gw, gh = gts[:, 2] - gts[:, 0], gts[:, 3] - gts[:, 1]
    gx, gy = gts[:, 0] + 0.5 * gw, gts[:, 1] + 0.5 * gh
    deltas = torch.stack([(gx - px) / pw, (gy - py) / ph,
                          torch.log(gw / pw),
                          torch.log(gh / ph)], 1)
    return deltas / deltas.new_tensor(STDS)


def candidates(proposals, gt, assign_result):
    """Priors, labels (bg = NUM_CLASSES) and matched GT as sample() sees."""
    priors = torch.cat([gt.bboxes, proposals.priors])
    gt_inds = torch.cat(
        [torch.arange(1,
                      len(gt.bboxes) + 1), assign_result.gt_inds])
    labels = torch.cat([gt.labels, assign_result.labels])
    labels = torch.where(gt_inds > 0, labels, torch.tensor(NUM_CLASSES))
    matched = gt.bboxes[(gt_inds - 1).clamp(min=0)]
    return priors, labels, matched


def reference_losses(head,
                     feats,
                     priors,
                     labels,
                     matched,
                     agnostic,
                     cls_weight=1.,
                     box_weight=1.):
    was_training = head.training
    head.eval()
    with torch.no_grad():
        rois = bbox2roi([priors])
        cls_score, bbox_pred = head.bbox_head(
            head.bbox_roi_extractor(feats, rois))
    head.train(was_training)
    ce = torch.logsumexp(cls_score, 1) - cls_score.gather(
        1, labels[:, None]).squeeze(1)
    if not agnostic:
        bbox_pred = bbox_pred.view(len(priors), NUM_CLASSES,
                                   4)[torch.arange(len(priors)),
                                      labels.clamp(max=NUM_CLASSES - 1)]
    is_fg = labels < NUM_CLASSES
    l1 = (bbox_pred - encode(priors, matched)).abs().sum(1)
    return cls_weight * ce + box_weight * torch.where(is_fg, l1, torch.zeros(
        ()))


def iou(a, b):
    w = max(0., min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0., min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] -
                                                             b[1]) - inter
    return inter / union


def rank_order(loss):
    """Indices hardest first (a list of losses), ties in index order."""
    return sorted(range(len(loss)), key=lambda i: (-loss[i], i))


def reference_select(loss,
                     boxes,
                     labels,
                     num,
                     pos_fraction,
                     nms_iou_thr,
                     neg_pos_ub=-1,
                     min_negatives=0,
                     class_agnostic=False):
    """Sorted (pos, neg) indices: greedy NMS in loss order (per label, or
    across labels), then the budget, the foreground quota, the least
    background count and the background bound, as the docs state them."""
    loss, boxes, labels = loss.tolist(), boxes.tolist(), labels.tolist()
    order = rank_order(loss)
    if nms_iou_thr is not None:
        kept = []
        for i in order:
            if all(not class_agnostic and labels[j] != labels[i]
                   or iou(boxes[i], boxes[j]) <= nms_iou_thr for j in kept):
                kept.append(i)
        order = kept
    return reference_budget(order, labels, num, pos_fraction, neg_pos_ub,
                            min_negatives)


def reference_budget(order,
                     labels,
                     num,
                     pos_fraction,
                     neg_pos_ub=-1,
                     min_negatives=0):
    """Sorted (pos, neg) indices taken from ``order`` (what NMS kept,
    hardest first) by the budget rules of :func:`reference_select`."""
    positives = [i for i in order if labels[i] < NUM_CLASSES]
    negatives = [i for i in order if labels[i] == NUM_CLASSES]
    if pos_fraction is None:
        quota = len([i for i in order[:num] if labels[i] < NUM_CLASSES])
    else:
        quota = int(num * pos_fraction)
    quota = min(quota, num - min(min_negatives, len(negatives)))
    pos = positives[:quota]
    neg = negatives[:num - len(pos)]
    if neg_pos_ub >= 0:
        neg = neg[:max(min_negatives, neg_pos_ub * max(1, len(pos)))]
    return sorted(pos), sorted(neg)


def rotated_corners(box):
    """Corners of a rotated box (cx, cy, w, h, angle in radians), in order
    around it; the width runs along (cos a, sin a), as mmrotate's RotatedBoxes
    and mmcv's rotated ops (clockwise=True) take it in image coordinates."""
    cx, cy, w, h, a = (float(v) for v in box)
    c, s = math.cos(a), math.sin(a)
    return [(cx + c * dx - s * dy, cy + s * dx + c * dy)
            for dx, dy in ((-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2),
                           (-w / 2, h / 2))]


def _area(polygon):
    return 0.5 * abs(
        sum(x1 * y2 - x2 * y1
            for (x1, y1), (x2, y2) in zip(polygon, polygon[1:] + polygon[:1])))


def _clip(subject, clipper):
    """Sutherland-Hodgman: the part of convex ``subject`` inside convex
    ``clipper`` (both counter-clockwise in the plane's orientation)."""

    def inside(p, a, b):
        return (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] -
                                                                a[0]) >= 0

    def cross(p, q, a, b):
        x1, y1, x2, y2 = p[0], p[1], q[0], q[1]
        x3, y3, x4, y4 = a[0], a[1], b[0], b[1]
        den = (x1 - x2) * (y3 - y4) - (y1 - y2) * (x3 - x4)
        t = ((x1 - x3) * (y3 - y4) - (y1 - y3) * (x3 - x4)) / den
        return (x1 + t * (x2 - x1), y1 + t * (y2 - y1))

    output = subject
    for a, b in zip(clipper, clipper[1:] + clipper[:1]):
        points, output = output, []
        for p, q in zip(points, points[1:] + points[:1]):
            if inside(q, a, b):
                if not inside(p, a, b):
                    output.append(cross(p, q, a, b))
                output.append(q)
            elif inside(p, a, b):
                output.append(cross(p, q, a, b))
        if not output:
            return []
    return output


def rotated_iou(a, b):
    """IoU of two rotated boxes by polygon intersection."""
    pa, pb = rotated_corners(a), rotated_corners(b)
    inter = _clip(pa, pb)
    inter_area = _area(inter) if len(inter) >= 3 else 0.
    union = _area(pa) + _area(pb) - inter_area
    return inter_area / union if union > 0 else 0.


def reference_rotated_nms(loss, boxes, labels, iou_thr, agnostic=False):
    """Greedy class-aware NMS in loss order (ties by index) with the rotated
    IoU; a box is suppressed at IoU > ``iou_thr`` with a kept one of its
    label (any label with ``agnostic``), mmohem's rule on every path."""
    loss, boxes, labels = loss.tolist(), boxes.tolist(), labels.tolist()
    kept = []
    for i in rank_order(loss):
        if all(not agnostic and labels[j] != labels[i]
               or rotated_iou(boxes[i], boxes[j]) <= iou_thr for j in kept):
            kept.append(i)
    return kept
