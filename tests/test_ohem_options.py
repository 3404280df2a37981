"""The options other OHEM implementations offer (TF Object Detection API's
HardExampleMiner): weights on the ranking terms, a least number of
background RoIs per image, class-agnostic NMS. Each against the hand-written
reference (tests/reference.py), on cases where it changes the selection,
together with pos_fraction, neg_pos_ub and the NMS; bad values fail when the
sampler is built."""
import pytest
from helpers import BBOX_HEAD, assign, build_roi_head, random_image
from mmdet.registry import TASK_UTILS
from reference import candidates, reference_losses, reference_select

NUM = 24


def select(seed=1, **options):
    """What the sampler and the reference select on one random image."""
    head = build_roi_head(num=NUM, **options)
    feats, proposals, gt = random_image(seed=seed)
    assign_result = assign(proposals, gt)
    priors, labels, matched = candidates(proposals, gt, assign_result)
    weights = options.get('loss_weights') or {}
    loss = reference_losses(
        head,
        feats,
        priors,
        labels,
        matched,
        agnostic=False,
        cls_weight=weights.get('loss_cls', 1.),
        box_weight=weights.get('loss_bbox', 1.))
    expected = reference_select(
        loss,
        priors,
        labels,
        NUM,
        options.get('pos_fraction'),
        options.get('nms_iou_thr', 0.7),
        neg_pos_ub=options.get('neg_pos_ub', -1),
        min_negatives=options.get('min_negatives', 0),
        class_agnostic=options.get('class_agnostic_nms', False))
    result = head.bbox_sampler.sample(
        assign_result, proposals, gt, feats=feats)
    return (sorted(result.pos_inds.tolist()),
            sorted(result.neg_inds.tolist())), expected


def default_selection(**options):
    picked, _ = select(**options)
    return picked


@pytest.mark.parametrize('options', [
    dict(loss_weights=dict(loss_bbox=4.)),
    dict(loss_weights=dict(loss_cls=0.25, loss_bbox=1.)),
    dict(loss_weights=dict(loss_cls=0.)),
    dict(loss_weights=dict(loss_bbox=10.), pos_fraction=0.25),
])
def test_loss_weights_rank_by_the_weighted_sum(options):
    picked, expected = select(**options)
    assert picked == expected
    unweighted = {k: v for k, v in options.items() if k != 'loss_weights'}
    assert picked != default_selection(**unweighted)  # it mattered


@pytest.mark.parametrize('options', [
    dict(min_negatives=20),
    dict(min_negatives=20, nms_iou_thr=None),
    dict(min_negatives=20, pos_fraction=0.5),
    dict(min_negatives=6, neg_pos_ub=0),
    dict(min_negatives=20, neg_pos_ub=1),
])
def test_min_negatives(options):
    picked, expected = select(**options)
    assert picked == expected
    pos, neg = picked
    assert len(neg) >= options['min_negatives']
    without = {k: v for k, v in options.items() if k != 'min_negatives'}
    assert len(default_selection(**without)[1]) < options['min_negatives']


def test_min_negatives_that_already_hold_change_nothing():
    _, neg = default_selection()
    assert default_selection(min_negatives=len(neg)) == default_selection()


@pytest.mark.parametrize('options', [
    dict(class_agnostic_nms=True, nms_iou_thr=0.5),
    dict(class_agnostic_nms=True, nms_iou_thr=0.3),
    dict(class_agnostic_nms=True, pos_fraction=0.25),
    dict(class_agnostic_nms=True, min_negatives=20, neg_pos_ub=2),
])
def test_class_agnostic_nms(options):
    picked, expected = select(**options)
    assert picked == expected
    per_class = {k: v for k, v in options.items() if k != 'class_agnostic_nms'}
    assert picked != default_selection(**per_class)


def test_the_images_foreground_is_hard_enough_for_these_cases():
    """The cases above change the selection only if pure OHEM picks mostly
    foreground here; this says so, so that a change of the image does not
    make them vacuous."""
    pos, neg = default_selection()
    assert len(pos) > len(neg)


@pytest.mark.parametrize('options, message', [
    (dict(loss_weights=[1., 2.]), 'must be a dict'),
    (dict(loss_weights=dict(loss_bbox=-1.)), r"\['loss_bbox'\] must be a "
     'finite number >= 0'),
    (dict(loss_weights=dict(loss_bbox=True)), 'finite number'),
    (dict(loss_weights=dict(loss_cls=0., loss_bbox=0.)), 'every '
     'loss_weights value is 0'),
    (dict(loss_weights=dict(loss_mask=1.)), "names 'loss_mask', which this "
     'sampler does not score'),
    (dict(loss_keys=('loss_cls', ),
          loss_weights=dict(loss_bbox=2.)), "names 'loss_bbox'"),
    (dict(min_negatives=-1), 'min_negatives must be an integer >= 0'),
    (dict(min_negatives=2.5), 'min_negatives must be an integer'),
    (dict(min_negatives=100), r'min_negatives \(100\) exceeds num \(64\)'),
    (dict(class_agnostic_nms='yes'), 'class_agnostic_nms must be True or '
     'False'),
])
def test_bad_values_fail_when_the_sampler_is_built(options, message):
    head = build_roi_head()
    with pytest.raises(ValueError, match=message):
        TASK_UTILS.build(
            dict(type='mmohem.OHEMSampler', num=64, **options),
            default_args=dict(context=head))


def test_a_weight_for_the_box_term_of_a_head_without_one_fails():
    """Grid R-CNN's head predicts no deltas: the sampler ranks by loss_cls
    alone, and a weight for loss_bbox names the problem."""
    head_cfg = dict(BBOX_HEAD, with_reg=False)
    with pytest.raises(ValueError, match="names 'loss_bbox'"):
        build_roi_head(head_cfg, loss_weights=dict(loss_bbox=2.))


def test_weights_of_one_are_the_heads_own_sum():
    """Weights of 1 rank by loss_cls + loss_bbox as the hand-written
    reference computes them from the head's outputs; the sampler may run
    them as unweighted, so the reference, not the unweighted sampler, is
    the comparison."""
    picked, expected = select(loss_weights=dict(loss_cls=1., loss_bbox=1.))
    assert picked == expected
    # the box term decides part of this selection: without it, it differs
    _, cls_only = select(loss_weights=dict(loss_cls=1., loss_bbox=0.))
    assert cls_only != expected
