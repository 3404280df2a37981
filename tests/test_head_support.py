"""What is decided when the sampler is built: the ranking loss of heads that
predict no box deltas, heads that cannot host OHEM, and heads whose
``_bbox_forward`` takes inputs of their own."""
import logging

import pytest
import torch
from helpers import (ASSIGNER, BBOX_HEAD, ROI_EXTRACTOR, assign,
                     build_roi_head, random_image, randomise)
from mmdet.models.roi_heads import HybridTaskCascadeRoIHead, StandardRoIHead
from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox2roi
from mmengine.config import Config, ConfigDict
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope

from mmohem.samplers import HeadNotSupportedError
from mmohem.samplers.head_support import check_head
from mmohem.tools.config_swap import swap_samplers
from mmohem.tools.convert import resolve_config

NO_DELTAS = dict(BBOX_HEAD, with_reg=False)


@pytest.fixture
def log_records():
    logger = MMLogger.get_current_instance()
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def test_head_without_deltas_ranks_by_classification_loss(log_records):
    head = build_roi_head(NO_DELTAS)
    sampler = head.bbox_sampler
    assert sampler.loss_keys == ('loss_cls', )
    said = [r.getMessage() for r in log_records]
    said = [message for message in said if 'loss_cls' in message]
    assert len(said) == 1
    assert 'StandardRoIHead' in said[0] and 'with_reg=False' in said[0]

    # the ranking loss is the cross-entropy alone, for fg and bg alike
    feats, proposals, gt = random_image(seed=3)
    assigned = assign(proposals, gt)
    boxes = proposals.priors
    labels = torch.where(assigned.gt_inds > 0, assigned.labels,
                         torch.full_like(assigned.labels, 3))
    targets = gt.bboxes[(assigned.gt_inds - 1).clamp(min=0)]
    assert (labels < 3).sum() > 10
    with torch.no_grad():
        scored = sampler.roi_losses(feats, boxes, labels, targets)
        head.eval()
        cls, _ = head.bbox_head(
            head.bbox_roi_extractor(feats, bbox2roi([boxes])))
    expected = torch.nn.functional.cross_entropy(cls, labels, reduction='none')
    assert torch.allclose(scored, expected, atol=1e-5)


def test_explicit_box_loss_on_a_head_without_deltas_fails_at_build():
    with pytest.raises(
            ValueError,
            match="loss_keys has 'loss_bbox'.*"
            r"with_reg=False.*loss_keys=\('loss_cls',\)"):
        build_roi_head(NO_DELTAS, loss_keys=('loss_cls', 'loss_bbox'))


def test_neg_pos_ub_error_says_it_is_a_ratio():
    with pytest.raises(ValueError, match='ratio, not a count'):
        build_roi_head(neg_pos_ub=-3)


@pytest.mark.parametrize(
    'config, head, alternative',
    [('mmdet::pisa/faster-rcnn_r50_fpn_pisa_1x_coco.py', 'PISARoIHead',
      'ScoreHLRSampler'),
     ('mmdet::crowddet/crowddet-rcnn_r50_fpn_8xb2-30e_crowdhuman.py',
      'MultiInstanceRoIHead', 'RandomSampler'),
     ('mmdet::sparse_rcnn/sparse-rcnn_r50_fpn_1x_coco.py', 'SparseRoIHead',
      'PseudoSampler'),
     ('mmdet::queryinst/queryinst_r50_fpn_1x_coco.py', 'SparseRoIHead',
      'PseudoSampler')])
def test_heads_that_cannot_host_ohem_are_refused_at_build(
        config, head, alternative):
    cfg = Config.fromfile(resolve_config(config))
    swap_samplers(cfg)
    init_default_scope('mmdet')
    with pytest.raises(HeadNotSupportedError) as error:
        MODELS.build(cfg.model)
    message = str(error.value)
    assert f'mmohem.OHEMSampler cannot be used in {head}' in message
    assert alternative in message


# --- custom heads with inputs of their own -------------------------------


class ScaledRoIHead(StandardRoIHead):
    """A custom head whose training forward scales the RoI features by a
    per-image factor that its loss() computes from the features."""

    def _bbox_forward(self, x, rois, scale=None):
        feats = self.bbox_roi_extractor(x[:self.bbox_roi_extractor.num_inputs],
                                        rois)
        cls_score, bbox_pred = self.bbox_head(feats * scale)
        return dict(cls_score=cls_score, bbox_pred=bbox_pred)


def image_scale(head, feats):
    return dict(scale=feats[0].abs().mean() * 3)


def scaled_head(**sampler):
    cfg = ConfigDict(
        type='ScaledRoIHead',
        bbox_roi_extractor=ROI_EXTRACTOR,
        bbox_head=BBOX_HEAD,
        train_cfg=dict(
            assigner=ASSIGNER,
            sampler=dict(type='mmohem.OHEMSampler', num=32, **sampler),
            pos_weight=-1,
            debug=False))
    head = MODELS.build(cfg)
    randomise(head, 0)
    return head


def test_custom_head_with_unknown_inputs_is_refused_at_build(register):
    register.module(MODELS, ScaledRoIHead)
    with pytest.raises(HeadNotSupportedError) as error:
        scaled_head()
    message = str(error.value)
    assert 'ScaledRoIHead._bbox_forward' in message and 'scale' in message
    assert 'mmohem.register_scoring_inputs(ScaledRoIHead)' in message


def test_registered_scoring_inputs_are_used_in_the_scoring_pass(register):
    register.module(MODELS, ScaledRoIHead)
    register.scoring_inputs(ScaledRoIHead, image_scale)
    head = scaled_head()
    feats, proposals, gt = random_image(seed=4)
    boxes = proposals.priors
    labels = torch.full((len(boxes), ), 3)
    with torch.no_grad():
        scored = head.bbox_sampler.roi_losses(feats, boxes, labels, boxes)
        head.eval()
        out = head._bbox_forward(feats, bbox2roi([boxes]),
                                 **image_scale(head, feats))
        expected = torch.nn.functional.cross_entropy(
            out['cls_score'], labels, reduction='none')
        unscaled = head._bbox_forward(
            feats, bbox2roi([boxes]), scale=1.0)['cls_score']
    assert torch.allclose(scored, expected, atol=1e-5)
    assert not torch.allclose(
        expected,
        torch.nn.functional.cross_entropy(unscaled, labels, reduction='none'),
        atol=1e-3)


def test_scoring_inputs_serve_subclasses_unless_they_redefine_the_forward():

    class MyHTC(HybridTaskCascadeRoIHead):
        pass

    class MyHTCWithMore(HybridTaskCascadeRoIHead):

        def _bbox_forward(self, stage, x, rois, semantic_feat=None, extra=1):
            return super()._bbox_forward(stage, x, rois, semantic_feat)

    def bare(cls):
        head = cls.__new__(cls)
        torch.nn.Module.__init__(head)
        head.num_stages = 3
        return head

    assert check_head(bare(MyHTC)).__name__ == 'htc_inputs'
    with pytest.raises(
            TypeError,
            match='MyHTCWithMore._bbox_forward.*'
            'semantic_feat, extra'):
        check_head(bare(MyHTCWithMore))
