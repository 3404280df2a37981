"""Finding a built model's R-CNN samplers wherever its RoI heads sit: the
hooks and the sweep use one walk over the model's modules."""
from types import SimpleNamespace

import pytest
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.hooks import LoggerHook
from mmengine.registry import init_default_scope

import mmohem
from mmohem.hooks import MiningStatsHook
from mmohem.hooks.mining_stats_hook import LOGGED
from mmohem.samplers import ohem_samplers, ohem_stages, rcnn_samplers
from mmohem.tools.config_swap import swap_samplers
from mmohem.tools.convert import resolve_config

SOFT_TEACHER = ('mmdet::soft_teacher/soft-teacher_faster-rcnn_r50-caffe_'
                'fpn_180k_semi-0.1-coco.py')


@pytest.fixture(scope='module')
def soft_teacher():
    """SoftTeacher with mmohem's sampler: its RoI heads sit in the student
    and the teacher, a level below the model."""
    cfg = Config.fromfile(resolve_config(SOFT_TEACHER))
    swap_samplers(cfg)
    cfg.model.detector.backbone.init_cfg = None
    init_default_scope('mmdet')
    return MODELS.build(cfg.model)


def test_samplers_of_soft_teachers_student_and_teacher_are_found(soft_teacher):
    model = soft_teacher
    assert not hasattr(model, 'roi_head')  # the heads sit a level deeper
    found = ohem_samplers(model)
    assert found == [
        model.student.roi_head.bbox_sampler,
        model.teacher.roi_head.bbox_sampler
    ]
    assert all(type(s) is mmohem.OHEMSampler for s in found)
    # the RPNs' samplers are not R-CNN samplers
    assert rcnn_samplers(model) == found
    # both mine at the same place: one group, without a stage suffix
    assert ohem_stages(model) == [('', found)]


def test_mining_stats_hook_logs_soft_teachers_samplers(soft_teacher):
    """The hook finds the samplers through the same walk: it sets up each
    statistic of the one group for the LoggerHook, under its plain name."""
    hook = MiningStatsHook()
    runner = SimpleNamespace(
        model=soft_teacher,
        hooks=[hook, LoggerHook()],
        log_processor=SimpleNamespace(custom_cfg=None))
    hook.before_train(runner)
    assert [cfg['data_src'] for cfg in runner.log_processor.custom_cfg
            ] == [f'ohem_{key}' for key in LOGGED]
