"""Finding a built model's R-CNN samplers wherever its RoI heads sit: the
hooks and the sweep use one walk over the model's modules."""
from types import SimpleNamespace

from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmohem
from mmohem.hooks import MiningStatsHook
from mmohem.samplers import ohem_samplers, rcnn_samplers
from mmohem.tools.config_swap import swap_samplers
from mmohem.tools.convert import resolve_config

SOFT_TEACHER = ('mmdet::soft_teacher/soft-teacher_faster-rcnn_r50-caffe_'
                'fpn_180k_semi-0.1-coco.py')


def test_samplers_of_soft_teachers_student_and_teacher_are_found():
    cfg = Config.fromfile(resolve_config(SOFT_TEACHER))
    swap_samplers(cfg)
    cfg.model.detector.backbone.init_cfg = None
    init_default_scope('mmdet')
    model = MODELS.build(cfg.model)
    assert not hasattr(model, 'roi_head')  # the heads sit a level deeper
    found = ohem_samplers(model)
    assert found == [
        model.student.roi_head.bbox_sampler,
        model.teacher.roi_head.bbox_sampler
    ]
    assert all(type(s) is mmohem.OHEMSampler for s in found)
    # the RPNs' samplers are not R-CNN samplers
    assert rcnn_samplers(model) == found
    # the hook accepts the model it would have refused before
    MiningStatsHook().before_train(SimpleNamespace(model=model, hooks=[]))
