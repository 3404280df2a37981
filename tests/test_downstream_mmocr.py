"""mmocr's Mask R-CNN text detectors with mmohem's sampler: switched on with
``mmohem convert mmocr::...``, built in mmocr's scope, and trained through
mmocr's own ``tools/train.py`` on a tiny generated text-detection set, with
MiningStatsHook logging. Runs on the downstream stack (mmocr installed)."""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config
from tiny_textdet import make_tiny_textdet

from mmohem.samplers import ohem_samplers
from mmohem.tools.convert import convert
from mmohem.tools.scope import build_model

mmocr = pytest.importorskip('mmocr')

MASK_RCNN = 'mmocr::textdet/maskrcnn/mask-rcnn_resnet50_fpn_160e_icdar2015.py'
TRAIN_PY = osp.join(osp.dirname(mmocr.__file__), '.mim', 'tools', 'train.py')

# mmocr's own pipeline, at the tiny set's scale
TINY_RUN = '''
_base_ = './maskrcnn_ohem.py'
model = dict(cfg=dict(backbone=dict(init_cfg=None)))  # no download
train_pipeline = [
    dict(type='LoadImageFromFile', color_type='color_ignore_orientation'),
    dict(type='LoadOCRAnnotations', with_polygon=True, with_bbox=True,
         with_label=True),
    dict(type='RandomResize', scale=(256, 256), ratio_range=(1.0, 1.25),
         keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='TextDetRandomCrop', target_size=(256, 256)),
    dict(type='MMOCR2MMDet', poly2mask=True),
    dict(type='mmdet.PackDetInputs',
         meta_keys=('img_path', 'ori_shape', 'img_shape', 'flip',
                    'scale_factor', 'flip_direction')),
]
train_dataloader = dict(
    batch_size=1, num_workers=0, persistent_workers=False,
    dataset=dict(data_root={data_root!r}, pipeline=train_pipeline))
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = None
test_cfg = None
test_evaluator = None
train_cfg = dict(max_epochs=1, val_interval=100)
param_scheduler = []
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=100, save_last=False))
custom_hooks = [dict(type='mmohem.MiningStatsHook')]
randomness = dict(seed=0)
'''


def test_convert_builds_the_text_detector_in_mmocrs_scope(tmp_path):
    dst = convert(MASK_RCNN, str(tmp_path / 'maskrcnn_ohem.py'))
    cfg = Config.fromfile(dst)
    assert cfg.default_scope == 'mmocr'
    assert cfg.model.type == 'MMDetWrapper'
    model = build_model(cfg)
    samplers = ohem_samplers(model)
    assert len(samplers) == 1
    sampler = samplers[0]
    assert (sampler.num, sampler.pos_fraction,
            sampler.nms_iou_thr) == (512, None, 0.7)
    assert sampler.bbox_head.num_classes == 1  # text


def test_mmohem_config_is_inherited_by_an_mmocr_config(tmp_path):
    """A downstream config wraps mmohem's Mask R-CNN (config_path) in
    mmocr's detector wrapper; it builds in mmocr's scope."""
    path = tmp_path / 'ocr_from_mmohem.py'
    path.write_text(
        "_base_ = __import__('mmohem').config_path('mask_rcnn_ohem_r50')\n"
        "default_scope = 'mmocr'\n"
        "mask_rcnn = _base_.model\n"
        "mask_rcnn.roi_head.bbox_head.num_classes = 1\n"
        "mask_rcnn.roi_head.mask_head.num_classes = 1\n"
        "model = dict(_delete_=True, type='MMDetWrapper', cfg=mask_rcnn)\n")
    cfg = Config.fromfile(str(path))
    assert cfg.default_scope == 'mmocr'
    model = build_model(cfg)
    assert type(model).__name__ == 'MMDetWrapper'
    [sampler] = ohem_samplers(model)
    assert sampler.bbox_head.num_classes == 1


def test_text_detector_trains_through_mmocrs_train_py(tmp_path):
    data_root = make_tiny_textdet(str(tmp_path / 'data'))
    convert(MASK_RCNN, str(tmp_path / 'maskrcnn_ohem.py'))
    config = tmp_path / 'tiny_run.py'
    config.write_text(TINY_RUN.format(data_root=data_root))
    work_dir = tmp_path / 'work'
    proc = subprocess.run(
        [sys.executable, TRAIN_PY,
         str(config), '--work-dir',
         str(work_dir)],
        capture_output=True,
        text=True,
        timeout=900,
        env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    [scalars] = glob.glob(str(work_dir / '*' / 'vis_data' / 'scalars.json'))
    with open(scalars) as f:
        logged = [json.loads(line) for line in f]
    logged = [entry for entry in logged if 'ohem_num_selected' in entry]
    # one image per iteration, one line per iteration: each line is that
    # image's statistics
    assert [entry['iter'] for entry in logged] == [1, 2, 3, 4]
    for entry in logged:
        kept, selected = entry['ohem_num_kept'], entry['ohem_num_selected']
        assert 0 < kept <= entry['ohem_num_candidates']
        # pure OHEM: the budget, or every RoI NMS left when fewer
        assert selected == min(512, kept)
        # a share of a whole number of RoIs
        positives = entry['ohem_fg_fraction'] * selected
        assert abs(positives - round(positives)) < 1e-3
        assert entry['ohem_loss_selected'] > 0
