"""OHEMSampler against an independent reference written here by hand.

The reference computes each RoI's loss from the head's raw outputs
(cross-entropy and L1 on hand-encoded deltas), runs a plain-Python greedy
NMS and takes the top k, and the sampler's selection must equal it exactly.
"""
import copy
import math

import pytest
import torch
from helpers import BBOX_HEAD, assign, build_roi_head, random_image
from mmengine.structures import InstanceData
from reference import candidates, reference_losses, reference_select


def bbox_head_cfg(agnostic):
    cfg = copy.deepcopy(BBOX_HEAD)
    cfg['reg_class_agnostic'] = agnostic
    return cfg


@pytest.mark.parametrize('agnostic', [False, True])
@pytest.mark.parametrize('nms_iou_thr', [0.7, 0.3, None])
@pytest.mark.parametrize('pos_fraction', [None, 0.25])
def test_selection_equals_reference(pos_fraction, nms_iou_thr, agnostic):
    head = build_roi_head(
        bbox_head_cfg(agnostic),
        num=48,
        pos_fraction=pos_fraction,
        nms_iou_thr=nms_iou_thr)
    feats, proposals, gt = random_image(seed=1)
    assign_result = assign(proposals, gt)
    priors, labels, matched = candidates(proposals, gt, assign_result)
    expected_loss = reference_losses(head, feats, priors, labels, matched,
                                     agnostic)
    expected_pos, expected_neg = reference_select(expected_loss, priors,
                                                  labels, 48, pos_fraction,
                                                  nms_iou_thr)

    result = head.bbox_sampler.sample(
        assign_result, proposals, gt, feats=feats)

    assert sorted(result.pos_inds.tolist()) == expected_pos
    assert sorted(result.neg_inds.tolist()) == expected_neg
    assert len(expected_pos) > 0 and len(expected_neg) > 0
    assert len(expected_pos) + len(expected_neg) == 48
    # the losses behind the ranking are the reference's, not just the order
    stats = head.bbox_sampler.mining_record.pop()[-1]
    chosen = expected_pos + expected_neg
    assert stats['loss_selected'].item() == pytest.approx(
        expected_loss[chosen].mean().item(), rel=1e-5)
    assert stats['loss_all'].item() == pytest.approx(
        expected_loss.mean().item(), rel=1e-5)
    assert stats['fg_fraction'].item() == pytest.approx(
        len(expected_pos) / len(chosen))
    assert stats['num_candidates'].item() == len(priors)


def test_selection_mines_hard_examples_not_random_ones():
    """The selected RoIs carry far more loss than the average candidate."""
    head = build_roi_head(num=32)
    feats, proposals, gt = random_image(seed=2)
    head.bbox_sampler.sample(assign(proposals, gt), proposals, gt, feats=feats)
    stats = head.bbox_sampler.mining_record.pop()[0]
    assert stats['loss_selected'] > 1.5 * stats['loss_all']
    assert stats['num_kept'] < stats['num_candidates']  # NMS removed some


@pytest.mark.parametrize('nms_iou_thr', [None, 0.7])
def test_tied_losses_are_ranked_by_index(nms_iou_thr):
    """Every proposal twice: each RoI's loss ties exactly with its copy's.
    The ranking breaks ties by candidate index (a stable sort), so without
    NMS both copies of a hard RoI are taken in index order, and with NMS
    the later copy is suppressed by the earlier one; as the reference."""
    head = build_roi_head(seed=3, num=40, nms_iou_thr=nms_iou_thr)
    feats, once, gt = random_image(seed=3, num_proposals=150)
    proposals = InstanceData(priors=once.priors.repeat(2, 1))
    assign_result = assign(proposals, gt)
    priors, labels, matched = candidates(proposals, gt, assign_result)
    loss = reference_losses(head, feats, priors, labels, matched, False)
    num_gts = len(gt.bboxes)
    half = (len(priors) - num_gts) // 2
    copies = torch.arange(num_gts, num_gts + half)
    assert torch.equal(loss[copies], loss[copies + half])  # exact ties
    expected = reference_select(loss, priors, labels, 40, None, nms_iou_thr)

    result = head.bbox_sampler.sample(
        assign_result, proposals, gt, feats=feats)
    assert (sorted(result.pos_inds.tolist()),
            sorted(result.neg_inds.tolist())) == expected
    chosen = set(expected[0] + expected[1])
    pairs = sum(i in chosen and i + half in chosen for i in copies.tolist())
    if nms_iou_thr is None:
        assert pairs > 0  # both copies of some RoI, the first one first
    else:
        assert pairs == 0


def test_chunked_scoring_equals_one_pass():
    feats, proposals, gt = random_image(seed=4)
    results = []
    for chunk_size in (7, 100000):
        head = build_roi_head(num=50, chunk_size=chunk_size)
        results.append(
            head.bbox_sampler.sample(
                assign(proposals, gt), proposals, gt, feats=feats))
        results[-1].loss = head.bbox_sampler.mining_record.pop()[0]['loss_all']
    assert torch.equal(results[0].pos_inds, results[1].pos_inds)
    assert torch.equal(results[0].neg_inds, results[1].neg_inds)
    assert math.isclose(results[0].loss, results[1].loss, rel_tol=1e-6)
