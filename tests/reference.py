"""The sampler's selection computed by hand, independently of mmohem: each
RoI's loss from the head's raw outputs (cross-entropy and L1 on hand-encoded
deltas), a plain-Python greedy NMS and the top k."""
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


def reference_losses(head, feats, priors, labels, matched, agnostic):
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
    return ce + torch.where(is_fg, l1, torch.zeros(()))


def iou(a, b):
    w = max(0., min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0., min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] -
                                                             b[1]) - inter
    return inter / union


def reference_select(loss, boxes, labels, num, pos_fraction, nms_iou_thr):
    loss, boxes, labels = loss.tolist(), boxes.tolist(), labels.tolist()
    order = sorted(range(len(loss)), key=lambda i: (-loss[i], i))
    if nms_iou_thr is not None:
        kept = []
        for i in order:
            if all(labels[j] != labels[i]
                   or iou(boxes[i], boxes[j]) <= nms_iou_thr for j in kept):
                kept.append(i)
        order = kept
    if pos_fraction is None:
        chosen = order[:num]
        pos = [i for i in chosen if labels[i] < NUM_CLASSES]
        neg = [i for i in chosen if labels[i] == NUM_CLASSES]
    else:
        pos = [i for i in order
               if labels[i] < NUM_CLASSES][:int(num * pos_fraction)]
        neg = [i for i in order if labels[i] == NUM_CLASSES][:num - len(pos)]
    return sorted(pos), sorted(neg)
