from helpers import build_roi_head
from mmdet.models.task_modules.samplers import OHEMSampler as MMDetOHEM
from mmdet.registry import TASK_UTILS

import mmohem


def test_scoped_name_builds_mmohem_sampler_through_mmdet_registry():
    head = build_roi_head()  # train_cfg.sampler type='mmohem.OHEMSampler'
    sampler = TASK_UTILS.build(
        dict(type='mmohem.OHEMSampler', num=100),
        default_args=dict(context=head))
    assert type(sampler) is mmohem.OHEMSampler
    assert type(head.bbox_sampler) is mmohem.OHEMSampler
    assert sampler.num == 100 and sampler.pos_fraction is None
    assert sampler.nms_iou_thr == 0.7
    assert sampler.loss_keys == ('loss_cls', 'loss_bbox')
    assert sampler.bbox_head is head.bbox_head


def test_bare_name_still_builds_mmdet_sampler():
    head = build_roi_head()
    sampler = TASK_UTILS.build(
        dict(type='OHEMSampler', num=512, pos_fraction=0.25),
        default_args=dict(context=head))
    assert type(sampler) is MMDetOHEM
