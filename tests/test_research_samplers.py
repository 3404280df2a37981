"""The ablation's research-only samplers do what their rows say."""
import copy

import pytest
import torch
from helpers import BBOX_HEAD, CHANNELS, assign, build_roi_head, random_image
from mmdet.structures.bbox import bbox_overlaps
from mmengine.logging import MessageHub

import mmohem_benchmark.research_samplers  # noqa: F401 (registers them)

RESEARCH = 'mmohem_benchmark.ResearchOHEMSampler'


def run(head, seed=0, **image):
    feats, proposals, gt = random_image(seed=seed, **image)
    result = head.bbox_sampler.sample(
        assign(proposals, gt), proposals, gt, feats=feats)
    return result, head.bbox_sampler.pop_stats()[-1]


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
        first, _ = run(research)
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
    hard = build_roi_head(num=16)
    mixed = build_roi_head(num=32, type=RESEARCH, random_fraction=0.5)
    hard_result, _ = run(hard)
    mixed_result, _ = run(mixed)
    chosen = selected(mixed_result)
    assert len(chosen) == len(set(chosen)) == 32
    assert set(selected(hard_result)) <= set(chosen)


def test_random_rois_widen_the_pool_and_are_labelled_by_the_assigner():
    head = build_roi_head(num=32, type=RESEARCH, num_random_rois=200)
    sampler = head.bbox_sampler
    feats, proposals, gt = random_image(seed=3)
    num_before = len(gt.bboxes) + len(proposals.priors)

    assigned = assign(proposals, gt)
    candidates, gt_flags = sampler._candidates(assigned, proposals, gt, feats)
    assert len(candidates) == len(gt_flags) == num_before + 200
    assert len(assigned.gt_inds) == num_before + 200  # extended in place
    extra = candidates[num_before:]
    size = feats[0].shape[-1] * 4  # the extractor's stride
    assert (extra >= 0).all() and (extra <= size + 1e-3).all()
    assert ((extra[:, 2:] - extra[:, :2]) >= 8 - 1e-3).all()
    assert not gt_flags[num_before:].any()
    # labelled as the head's assigner labels them (IoU >= 0.5: foreground)
    iou = bbox_overlaps(extra, gt.bboxes).max(1).values
    assert torch.equal(assigned.gt_inds[num_before:] > 0, iou >= 0.5)
    assert torch.allclose(assigned.max_overlaps[num_before:], iou)

    sampler.sample(assign(proposals, gt), proposals, gt, feats=feats)
    assert sampler.pop_stats()[0]['num_candidates'] == num_before + 200


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
