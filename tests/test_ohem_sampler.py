"""OHEMSampler behaviour: side effects, heads, losses, bad input."""
import copy

import pytest
import torch
from helpers import (BBOX_HEAD, CHANNELS, NUM_CLASSES, assign,
                     build_cascade_head, build_roi_head, random_image)
from helpers import sample_image as sample
from mmdet.registry import MODELS, TASK_UTILS
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import bbox2roi
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData
from reference import candidates, reference_losses

from mmohem.samplers import per_roi_loss, select_hard
from mmohem.samplers.mining_record import MAX_IMAGES

# --- side effects -------------------------------------------------------

# a bbox head with BatchNorm, whose statistics scoring must not move
BN_HEAD = dict(
    BBOX_HEAD,
    type='Shared4Conv1FCBBoxHead',
    conv_out_channels=CHANNELS,
    norm_cfg=dict(type='BN'))


def test_scoring_keeps_bn_statistics_and_every_module_mode():
    head = build_roi_head(BN_HEAD, num=32)
    head.train()
    # a user froze part of the head: that must stay frozen afterwards
    head.bbox_head.shared_convs[0].eval()
    modes = {name: m.training for name, m in head.named_modules()}
    bns = [m for m in head.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(bns) == 4
    before = copy.deepcopy([bn.state_dict() for bn in bns])

    feats, proposals, gt = random_image(seed=5)
    head.bbox_sampler.sample(assign(proposals, gt), proposals, gt, feats=feats)

    for bn, state in zip(bns, before):
        for key, value in bn.state_dict().items():
            assert torch.equal(value, state[key]), key
    assert {n: m.training for n, m in head.named_modules()} == modes
    assert not head.bbox_head.shared_convs[0].training
    assert head.bbox_head.training


def test_scoring_runs_in_eval_mode():
    """The ranking losses are those of the eval-mode head; with BN they
    differ from what the same head computes in train mode."""
    head = build_roi_head(BN_HEAD, num=16)
    feats, proposals, _ = random_image(seed=6)
    no_gt = InstanceData(
        bboxes=torch.zeros(0, 4), labels=torch.zeros(0).long())
    rois = bbox2roi([proposals.priors])
    background = torch.full((len(rois), ), NUM_CLASSES)

    def mean_loss(module, training):
        module.train(training)
        with torch.no_grad():
            cls, _ = module.bbox_head(module.bbox_roi_extractor(feats, rois))
        return torch.nn.functional.cross_entropy(cls, background).item()

    eval_loss = mean_loss(head, False)
    train_loss = mean_loss(copy.deepcopy(head), True)
    head.train()
    head.bbox_sampler.sample(
        assign(proposals, no_gt), proposals, no_gt, feats=feats)
    stats = head.bbox_sampler.mining_record.pop()[0]
    assert eval_loss != pytest.approx(train_loss, rel=1e-3)
    assert stats['loss_all'].item() == pytest.approx(eval_loss, rel=1e-5)


def test_scoring_needs_no_gradient_and_builds_no_graph():
    head = build_roi_head(num=16)
    feats, proposals, gt = random_image(seed=7)
    feats = [f.requires_grad_() for f in feats]
    saved = []  # tensors autograd keeps for a backward pass
    with torch.autograd.graph.saved_tensors_hooks(
            lambda t: saved.append(t.shape) or t, lambda t: t):
        head.bbox_sampler.sample(
            assign(proposals, gt), proposals, gt, feats=feats)
    stats = head.bbox_sampler.mining_record.pop()[0]
    assert not stats['loss_all'].requires_grad
    # with features and weights that require gradients, nothing was saved:
    # the scoring forward ran without autograd
    assert saved == []


# --- heads and losses ----------------------------------------------------


@pytest.mark.parametrize('loss_cls,loss_bbox,decoded', [
    (dict(type='CrossEntropyLoss', loss_weight=1.0),
     dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0), False),
    (dict(type='CrossEntropyLoss', use_sigmoid=True,
          loss_weight=1.0), dict(type='L1Loss', loss_weight=2.0), False),
    (dict(type='CrossEntropyLoss',
          loss_weight=1.0), dict(type='GIoULoss', loss_weight=10.0), True),
    (dict(type='CrossEntropyLoss', loss_weight=1.0),
     dict(type='BalancedL1Loss', alpha=0.5, gamma=1.5, beta=1.0), False),
    (dict(type='FocalLoss', use_sigmoid=True,
          loss_weight=1.0), dict(type='IoULoss', loss_weight=1.0), True),
])
@pytest.mark.parametrize('agnostic', [False, True])
def test_per_roi_loss_equals_head_loss(loss_cls, loss_bbox, decoded, agnostic):
    """Sum over RoIs and per-foreground-RoI values match BBoxHead.loss."""
    cfg = dict(
        BBOX_HEAD,
        loss_cls=loss_cls,
        loss_bbox=loss_bbox,
        reg_decoded_bbox=decoded,
        reg_class_agnostic=agnostic)
    head = build_roi_head(cfg)
    bbox_head = head.bbox_head
    feats, proposals, gt = random_image(seed=8)
    result = head.bbox_sampler.sample(
        assign(proposals, gt), proposals, gt, feats=feats)
    rois = bbox2roi([result.priors])
    labels, _, targets, weights = bbox_head.get_targets([result],
                                                        head.train_cfg)
    head.eval()
    with torch.no_grad():
        cls, reg = bbox_head(head.bbox_roi_extractor(feats, rois))
    matched = torch.cat(
        [result.pos_gt_bboxes,
         torch.zeros(len(result.neg_inds), 4)])
    ours = per_roi_loss(bbox_head, cls, reg, rois, labels, matched,
                        ('loss_cls', 'loss_bbox'))
    theirs = bbox_head.loss(
        cls,
        reg,
        rois,
        labels,
        torch.ones_like(labels, dtype=torch.float),
        targets,
        weights,
        reduction_override='none')
    cls_part = theirs['loss_cls']
    if cls_part.dim() > 1:
        cls_part = cls_part.sum(1)
    box_part = theirs['loss_bbox']
    if box_part.dim() > 1:
        box_part = box_part.sum(1)
    num_pos = len(result.pos_inds)
    expected = cls_part.clone()
    expected[:num_pos] += box_part
    assert num_pos > 0
    assert torch.allclose(ours, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('return_dict', [True, False])
@pytest.mark.parametrize('one_fg', [False, True])
def test_per_roi_loss_of_seesaw_puts_the_class_term_on_foreground_rows(
        return_dict, one_fg):
    """SeesawLoss has two terms, the class term on foreground rows only:
    each RoI gets its objectness term, foreground RoIs their class term too,
    and the totals equal the loss module's own sum. With return_dict=False
    the module adds the terms itself, which unreduced do not line up (a size
    mismatch; with one foreground RoI, its class loss on every row)."""
    seesaw = dict(
        type='SeesawLoss',
        p=0.8,
        q=2.0,
        num_classes=NUM_CLASSES,
        loss_weight=1.0,
        return_dict=return_dict)
    head = build_roi_head(
        dict(BBOX_HEAD, loss_cls=seesaw), loss_keys=('loss_cls', ))
    bbox_head = head.bbox_head
    feats, proposals, gt = random_image(seed=9)
    result = head.bbox_sampler.sample(
        assign(proposals, gt), proposals, gt, feats=feats)
    rois = bbox2roi([result.priors])
    labels = bbox_head.get_targets([result], head.train_cfg)[0]
    head.eval()
    with torch.no_grad():
        cls, reg = bbox_head(head.bbox_roi_extractor(feats, rois))
    if one_fg:
        labels = torch.full_like(labels, NUM_CLASSES)
        labels[3] = 1
    fg = labels < NUM_CLASSES
    assert 0 < fg.sum() < len(labels)

    # the loss counts samples: the reference starts from the same counts
    reference = copy.deepcopy(bbox_head.loss_cls)
    reference.return_dict = True  # the terms apart, to compare with
    ours = per_roi_loss(bbox_head, cls, reg, rois, labels,
                        torch.zeros(len(labels), 4), ('loss_cls', ))
    assert bbox_head.loss_cls.return_dict is return_dict
    terms = reference(cls, labels, reduction_override='sum')
    assert ours.sum() == pytest.approx(float(sum(terms.values())), rel=1e-5)
    objectness = torch.nn.functional.cross_entropy(
        cls[:, -2:], (labels == NUM_CLASSES).long(), reduction='none')
    assert torch.allclose(ours[~fg], objectness[~fg], atol=1e-6)
    assert (ours[fg] > objectness[fg] + 1e-6).all()


@pytest.mark.parametrize('loss_cls,name', [
    (dict(type='EQLV2Loss', num_classes=NUM_CLASSES), 'EQLV2Loss'),
    (dict(type='GHMC', use_sigmoid=True), 'GHMC'),
])
def test_a_classification_loss_without_per_roi_values_is_refused_at_build(
        loss_cls, name):
    with pytest.raises(ValueError, match=f'its loss_cls, {name}') as err:
        build_roi_head(dict(BBOX_HEAD, loss_cls=loss_cls))
    assert "loss_keys=('loss_bbox',)" in str(err.value)
    # ranking by the box loss alone does not need it
    head = build_roi_head(
        dict(BBOX_HEAD, loss_cls=loss_cls), loss_keys=('loss_bbox', ))
    assert head.bbox_sampler.loss_keys == ('loss_bbox', )


def test_a_loss_that_reduces_the_batch_anyway_is_refused_when_scored(register):
    from mmdet.models.losses import CrossEntropyLoss

    class BatchMeanLoss(CrossEntropyLoss):
        """Ignores reduction_override: one value for the whole batch."""

        def forward(self, cls_score, label, *args, **kwargs):
            return super().forward(cls_score, label).mean()

    register.module(MODELS, BatchMeanLoss)
    head = build_roi_head(dict(BBOX_HEAD, loss_cls=dict(type='BatchMeanLoss')))
    with pytest.raises(ValueError, match='returned one value for all'):
        sample(head, seed=3)


@pytest.mark.parametrize('keys,weights', [
    (('loss_cls', ), (1., 0.)),
    (('loss_bbox', ), (0., 1.)),
    (('loss_cls', 'loss_bbox'), (1., 1.)),
])
def test_loss_keys_select_the_ranking_terms(keys, weights):
    """Each RoI's ranking loss is the hand-written reference's
    cross-entropy, L1 or their sum, as ``loss_keys`` says."""
    feats, proposals, gt = random_image(seed=9)
    head = build_roi_head(num=400, nms_iou_thr=None, loss_keys=keys)
    assign_result = assign(proposals, gt)
    priors, labels, matched = candidates(proposals, gt, assign_result)
    expected = reference_losses(head, feats, priors, labels, matched, False,
                                *weights)
    head.bbox_sampler.sample(assign_result, proposals, gt, feats=feats)
    scored = head.bbox_sampler.mining_record[-1].loss
    assert torch.allclose(scored, expected, rtol=1e-5, atol=1e-6)
    assert expected.abs().sum() > 0


def test_cascade_stage_samplers_score_with_their_own_stage():
    head = build_cascade_head(num=32)
    assert [s.stage for s in head.bbox_sampler] == [0, 1]
    assert [s.bbox_head for s in head.bbox_sampler] == list(head.bbox_head)
    feats, proposals, gt = random_image(seed=10)
    priors, labels, matched = candidates(proposals, gt, assign(proposals, gt))

    def stage_loss(stage):
        """Mean reference loss with one stage's extractor and head."""
        modules = torch.nn.Module()
        modules.bbox_roi_extractor = head.bbox_roi_extractor[stage]
        modules.bbox_head = head.bbox_head[stage]
        return reference_losses(modules, feats, priors, labels, matched,
                                False).mean().item()

    own = [stage_loss(0), stage_loss(1)]
    assert own[0] != pytest.approx(own[1], rel=1e-3)
    for stage, sampler in enumerate(head.bbox_sampler):
        sampler.sample(
            assign(proposals.clone(), gt), proposals.clone(), gt, feats=feats)
        stats = sampler.mining_record.pop()[0]
        assert stats['loss_all'].item() == pytest.approx(own[stage], rel=1e-5)


def roi_head_inputs(seed):
    """Features, proposals and a data sample as RoIHead.loss takes them."""
    feats, proposals, gt = random_image(seed=seed)
    proposals.bboxes = proposals.pop('priors')
    sample = DetDataSample(metainfo=dict(img_shape=(128, 128)))
    sample.gt_instances = gt
    return tuple(feats), [proposals], [sample]


def test_cascade_roi_head_trains_with_ohem_in_every_stage_smoke():
    head = build_cascade_head(num=32)
    losses = head.loss(*roi_head_inputs(seed=11))
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
    for sampler in head.bbox_sampler:
        stats = sampler.mining_record.pop()
        assert len(stats) == 1
        assert stats[0]['num_selected'] == 32


def test_standard_roi_head_loss_uses_the_mined_rois():
    """The RoIs of the head's training forward are the ones the sampler
    returned, in its order; the scoring forwards come before it."""
    head = build_roi_head(num=24)
    results, calls = [], []
    sample_fn = head.bbox_sampler.sample

    def recorded(*args, **kwargs):
        results.append(sample_fn(*args, **kwargs))
        return results[-1]

    head.bbox_sampler.sample = recorded
    head.bbox_roi_extractor.register_forward_hook(
        lambda module, args, out: calls.append(args[1]))
    losses = head.loss(*roi_head_inputs(seed=12))
    assert torch.isfinite(losses['loss_cls'] + losses['loss_bbox'])
    [result] = results
    trained = calls[-1]
    assert len(calls) == 2  # the scoring forward, then the training one
    assert len(calls[0]) > len(trained) == 24
    assert torch.equal(trained, bbox2roi([result.priors]))
    # positives first, then negatives, as the head's targets expect
    candidates = calls[0][:, 1:]
    chosen = torch.cat([result.pos_inds, result.neg_inds])
    assert torch.equal(trained[:, 1:], candidates[chosen])


# --- edge cases ------------------------------------------------------------


def test_image_without_gt_mines_background_only():
    head = build_roi_head(num=32)
    result, stats = sample(head, seed=13, num_gts=0)
    assert len(result.pos_inds) == 0
    assert len(result.neg_inds) == 32
    assert stats['fg_fraction'] == 0


def test_zero_proposals_keeps_the_gt_boxes():
    head = build_roi_head(num=32)
    result, stats = sample(head, seed=14, num_gts=3, num_proposals=0)
    assert sorted(result.pos_inds.tolist()) == [0, 1, 2]
    assert len(result.neg_inds) == 0
    assert stats['fg_fraction'] == 1


def test_zero_proposals_and_no_gt_selects_nothing():
    head = build_roi_head(num=32)
    result, stats = sample(head, seed=15, num_gts=0, num_proposals=0)
    assert len(result.pos_inds) == 0 and len(result.neg_inds) == 0
    assert stats['num_candidates'] == 0 and stats['num_selected'] == 0


def test_fewer_candidates_than_num_keeps_them_all():
    head = build_roi_head(num=512, nms_iou_thr=None)
    result, stats = sample(head, seed=16, num_gts=2, num_proposals=30)
    assert len(result.pos_inds) + len(result.neg_inds) == 32
    assert stats['num_selected'] == stats['num_candidates'] == 32


def test_only_foreground_candidates():
    head = build_roi_head(num=8, nms_iou_thr=None, add_gt_as_proposals=False)
    feats, _, gt = random_image(seed=17, num_gts=2, num_proposals=0)
    proposals = InstanceData(priors=gt.bboxes.repeat(10, 1) + 0.5)
    result = head.bbox_sampler.sample(
        assign(proposals, gt), proposals, gt, feats=feats)
    assert len(result.pos_inds) == 8 and len(result.neg_inds) == 0


def test_neg_pos_ub_caps_background():
    head = build_roi_head(num=64, nms_iou_thr=None, neg_pos_ub=2)
    result, _ = sample(head, seed=18)
    assert 0 < len(result.neg_inds) <= 2 * len(result.pos_inds)


def test_non_finite_losses_rank_after_finite_ones():
    loss = torch.tensor([float('nan'), 1., float('inf'), 3., 2., 5.])
    boxes = torch.arange(6.)[:, None] * 10 + torch.tensor([0., 0., 5., 5.])
    groups = torch.tensor([3, 3, 3, 3, 0, 4])  # last one is ignored
    picked = select_hard(loss, boxes, groups, 3, num=3, nms_iou_thr=0.5)
    assert picked.pos_inds.tolist() == [4]
    assert picked.neg_inds.tolist() == [3, 1]
    # with room to spare the non-finite ones come last, the ignored never
    picked = select_hard(loss, boxes, groups, 3, num=6, nms_iou_thr=None)
    assert picked.neg_inds.tolist() == [3, 1, 0, 2]
    assert picked.num_kept == 5


def test_nan_features_do_not_crowd_out_finite_rois():
    head = build_roi_head(num=16, nms_iou_thr=None)
    feats, proposals, gt = random_image(seed=19, num_gts=0)
    feats[0][..., :8, :8] = float('nan')  # top-left corner poisoned
    result = head.bbox_sampler.sample(
        assign(proposals, gt), proposals, gt, feats=feats)
    stats = head.bbox_sampler.mining_record.pop()[0]
    assert stats['num_nonfinite'] > 0
    assert torch.isfinite(stats['loss_selected'])
    assert len(result.neg_inds) == 16


# --- bad configuration ---------------------------------------------------


@pytest.mark.parametrize('bad,message', [
    (dict(num=0), 'num must be an integer >= 1'),
    (dict(num=-5), 'num must be an integer >= 1'),
    (dict(num=12.5), 'num must be an integer >= 1'),
    (dict(pos_fraction=0), 'pos_fraction must be None'),
    (dict(pos_fraction=1.5), 'pos_fraction must be None'),
    (dict(pos_fraction='0.25'), 'pos_fraction must be None'),
    (dict(nms_iou_thr=0), 'nms_iou_thr must be None'),
    (dict(nms_iou_thr=1.2), 'nms_iou_thr must be None'),
    (dict(loss_keys=('loss_cls', 'loss_iou')), "subset of ('loss_cls', "),
    (dict(loss_keys=()), 'loss_keys must be a non-empty subset'),
    (dict(neg_pos_ub=-2), 'neg_pos_ub must be an integer >= -1'),
    (dict(chunk_size=0), 'chunk_size must be an integer >= 1'),
])
def test_bad_config_value_fails_at_build_time(bad, message):
    with pytest.raises(ValueError, match='mmohem.OHEMSampler') as err:
        build_roi_head(**bad)
    assert message in str(err.value)


def test_unknown_parameter_fails_at_build_time():
    with pytest.raises(TypeError, match='nms_thr'):
        build_roi_head(nms_thr=0.5)


def test_ohem_in_rpn_says_where_it_belongs():
    rpn = ConfigDict(
        type='RPNHead',
        in_channels=CHANNELS,
        feat_channels=CHANNELS,
        anchor_generator=dict(
            type='AnchorGenerator', scales=[8], ratios=[1.0], strides=[4]),
        train_cfg=dict(
            assigner=dict(
                type='MaxIoUAssigner',
                pos_iou_thr=0.7,
                neg_iou_thr=0.3,
                min_pos_iou=0.3),
            sampler=dict(type='mmohem.OHEMSampler', num=256),
            allowed_border=-1,
            pos_weight=-1,
            debug=False))
    with pytest.raises(TypeError, match='train_cfg.rcnn.sampler') as err:
        MODELS.build(rpn)
    assert 'RPNHead' in str(err.value)


def test_sampler_without_context_is_rejected():
    with pytest.raises(TypeError, match='train_cfg.rcnn.sampler'):
        TASK_UTILS.build(dict(type='mmohem.OHEMSampler', num=8))


def test_sample_without_features_is_rejected():
    head = build_roi_head()
    _, proposals, gt = random_image()
    with pytest.raises(ValueError, match='feats'):
        head.bbox_sampler.sample(assign(proposals, gt), proposals, gt)


def test_stats_are_kept_for_the_last_images_only():
    head = build_roi_head(num=4)
    sampler = head.bbox_sampler
    seen = []
    for seed in range(MAX_IMAGES + 5):
        feats, proposals, gt = random_image(
            seed=seed, num_gts=1, num_proposals=seed % 7)
        seen.append(len(proposals) + 1)  # candidates: proposals + the GT
        sampler.sample(assign(proposals, gt), proposals, gt, feats=feats)
    assert [
        int(s['num_candidates']) for s in sampler.mining_record.peek(last=3)
    ] == seen[-3:]
    stats = sampler.mining_record.pop()
    assert [int(s['num_candidates']) for s in stats] == seen[-MAX_IMAGES:]
    assert sampler.mining_record.pop() == []
    assert sampler.mining_record.peek() == []


def test_pool_statistics_count_far_and_easy_candidates():
    head = build_roi_head(num=32)
    feats, proposals, gt = random_image(seed=21)
    assigned = assign(proposals, gt)
    sampler = head.bbox_sampler
    sampler.sample(assigned, proposals, gt, feats=feats)
    stats = sampler.mining_record.pop()[0]
    # the candidates: the GT boxes (IoU 1 with themselves), then proposals
    overlaps = assigned.max_overlaps  # extended with the GT rows by sample
    boxes, labels, matched = candidates(proposals, gt, assign(proposals, gt))
    loss = reference_losses(head, feats, boxes, labels, matched, False)
    n = len(boxes)
    assert len(overlaps) == n
    far = (overlaps < 0.1).sum().item() / n
    easy = (loss < 0.1).sum().item() / n
    assert 0 < far < 1 and 0 < easy < 1
    assert stats['far_bg_fraction'].item() == pytest.approx(far)
    assert stats['easy_fraction'].item() == pytest.approx(easy)


@pytest.mark.parametrize('means', [(0.1, 0., -0.1, 0.), (0., 0., 0., 0.)])
@pytest.mark.parametrize('stds', [(0.1, 0.1, 0.2, 0.2), (1., 1., 1., 1.)])
def test_delta_targets_equal_the_coders_own_bit_for_bit(means, stds):
    """The few-op encoding of DeltaXYWHBBoxCoder targets is the coder's
    arithmetic, so it gives the very same floats; another coder is called
    as it is."""
    from mmdet.models.task_modules.coders import (DeltaXYWHBBoxCoder,
                                                  TBLRBBoxCoder)

    from mmohem.samplers.roi_loss import encode
    gen = torch.Generator().manual_seed(0)

    def boxes(n):
        xy = torch.rand(n, 2, generator=gen) * 800
        return torch.cat([xy, xy + 1 + torch.rand(n, 2, generator=gen) * 300],
                         1)

    priors, targets = boxes(5000), boxes(5000)
    coder = DeltaXYWHBBoxCoder(target_means=means, target_stds=stds)
    assert torch.equal(
        encode(coder, priors, targets), coder.encode(priors, targets))
    # another coder is called as it is: TBLR's distances from the prior's
    # centre to the target's edges, by hand
    other = TBLRBBoxCoder(normalizer=4.0)
    centre = (priors[:, :2] + priors[:, 2:]) / 2
    size = priors[:, 2:] - priors[:, :2]
    tblr = torch.stack([
        (centre[:, 1] - targets[:, 1]) / size[:, 1],
        (targets[:, 3] - centre[:, 1]) / size[:, 1],
        (centre[:, 0] - targets[:, 0]) / size[:, 0],
        (targets[:, 2] - centre[:, 0]) / size[:, 0],
    ], 1) / 4.0
    assert torch.allclose(
        encode(other, priors, targets), tblr, rtol=1e-5, atol=1e-6)
