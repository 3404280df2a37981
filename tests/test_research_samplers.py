"""The ablation's research-only samplers do what their rows say."""
import copy

import pytest
import torch
from helpers import (BBOX_HEAD, CHANNELS, NUM_CLASSES, assign, build_roi_head,
                     random_image)
from mmdet.structures.bbox import bbox_overlaps
from mmengine.logging import MessageHub
from reference import candidates, reference_losses, reference_select

import mmohem_benchmark.research_samplers  # noqa: F401 (registers them)

RESEARCH = 'mmohem_benchmark.ResearchOHEMSampler'


def run(head, seed=0, **image):
    feats, proposals, gt = random_image(seed=seed, **image)
    result = head.bbox_sampler.sample(
        assign(proposals, gt), proposals, gt, feats=feats)
    stats = head.bbox_sampler.mining_record.pop()
    return result, stats[-1] if stats else None


def at_iteration(iteration):
    MessageHub.get_current_instance().update_info('iter', iteration)


def selected(result):
    return sorted(torch.cat([result.pos_inds, result.neg_inds]).tolist())


def test_warmup_samples_at_random_with_a_quota_then_mines():
    plain = build_roi_head(num=32)
    research = build_roi_head(num=32, type=RESEARCH, warmup_iters=5)
    try:
        at_iteration(4)
        torch.manual_seed(0)
        first, mined = run(research)
        assert mined is None  # no scoring pass: nothing mined to record
        torch.manual_seed(1)
        second, _ = run(research)
        assert selected(first) != selected(second)  # random
        for result in (first, second):
            assert len(result.pos_inds) <= 8  # int(32 * 0.25)
            assert len(selected(result)) == 32
        at_iteration(5)  # warm-up over: the same RoIs as mmohem's sampler
        assert selected(run(research)[0]) == selected(run(plain)[0])
    finally:
        at_iteration(0)


def test_random_fraction_keeps_the_hard_half_and_draws_the_rest():
    """The mined half is the reference's top 16 (losses and NMS computed by
    hand, tests/reference.py); the other 16 are distinct candidates that
    mining did not pick, none ignored, and they differ with the seed."""
    mixed = build_roi_head(num=32, type=RESEARCH, random_fraction=0.5)
    feats, proposals, gt = random_image(seed=0)
    assigned = assign(proposals, gt)
    priors, labels, matched = candidates(proposals, gt, assigned)
    loss = reference_losses(mixed, feats, priors, labels, matched, False)
    hard_pos, hard_neg = reference_select(loss, priors, labels, 16, None, 0.7)
    draws = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        result = mixed.bbox_sampler.sample(
            assign(proposals, gt), proposals, gt, feats=feats)
        chosen = selected(result)
        assert len(chosen) == len(set(chosen)) == 32
        assert set(hard_pos + hard_neg) <= set(chosen)
        drawn = set(chosen) - set(hard_pos + hard_neg)
        assert len(drawn) == 16
        # foreground or background by their own labels
        assert set(result.pos_inds.tolist()) == {
            i
            for i in chosen if labels[i] < NUM_CLASSES
        }
        draws.append(drawn)
    assert draws[0] != draws[1]


def test_random_rois_widen_the_pool_and_are_labelled_by_the_assigner():
    head = build_roi_head(num=32, type=RESEARCH, num_random_rois=200)
    sampler = head.bbox_sampler
    feats, proposals, gt = random_image(seed=3)
    num_before = len(gt.bboxes) + len(proposals.priors)

    assigned = assign(proposals, gt)
    result = sampler.sample(assigned, proposals, gt, feats=feats)
    candidates = sampler.mining_record[-1].priors
    assert len(candidates) == num_before + 200
    assert len(assigned.gt_inds) == num_before + 200  # extended in place
    extra = candidates[num_before:]
    size = feats[0].shape[-1] * 4  # the extractor's stride
    assert (extra >= 0).all() and (extra <= size + 1e-3).all()
    assert ((extra[:, 2:] - extra[:, :2]) >= 8 - 1e-3).all()
    # a random box selected as foreground is not flagged as a GT box
    assert not result.pos_is_gt[result.pos_inds >= num_before].any()
    # labelled as the head's assigner labels them (IoU >= 0.5: foreground)
    iou = bbox_overlaps(extra, gt.bboxes).max(1).values
    assert torch.equal(assigned.gt_inds[num_before:] > 0, iou >= 0.5)
    assert torch.allclose(assigned.max_overlaps[num_before:], iou)
    assert sampler.mining_record.pop()[0]['num_candidates'] == num_before + 200


def test_train_mode_scoring_uses_batch_statistics():
    bn_head = dict(
        BBOX_HEAD,
        type='Shared4Conv1FCBBoxHead',
        conv_out_channels=CHANNELS,
        norm_cfg=dict(type='BN'))
    eval_head = build_roi_head(bn_head, num=16)
    train_head = build_roi_head(
        bn_head, num=16, type='mmohem_benchmark.TrainModeScoringOHEMSampler')
    eval_head.train()
    train_head.train()
    bn = next(m for m in train_head.modules()
              if isinstance(m, torch.nn.BatchNorm2d))
    before = copy.deepcopy(bn.running_mean)
    _, eval_stats = run(eval_head)
    _, train_stats = run(train_head)
    # the same weights, other losses: the scoring ran with batch statistics
    assert eval_stats['loss_all'].item() != pytest.approx(
        train_stats['loss_all'].item(), rel=1e-3)
    assert not torch.equal(bn.running_mean, before)  # and moved them
