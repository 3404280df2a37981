"""The shipped configs: they load, build, train, and run under mim."""
import glob
import os
import os.path as osp
import subprocess
import sys

import pytest
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.registry import init_default_scope
from tiny_coco import cli_options, shrink_options, train_two_iterations

import mmohem
from mmohem import config_path, list_configs
from mmohem.fixes.safe_checkpoint import load_local_checkpoint
from mmohem.samplers import rcnn_samplers
from mmohem.tools.scope import build_model

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = list_configs()
MIM = osp.join(osp.dirname(sys.executable), 'mim')


def test_the_expected_configs_ship():
    assert set(CONFIGS) >= {
        'faster_rcnn_ohem_r50.py', 'fast_rcnn_ohem_r50.py',
        'mask_rcnn_ohem_r50.py', 'cascade_rcnn_ohem_r50.py',
        'faster_rcnn_ohem_r50_voc0712.py', 'faster_rcnn_random_r50_voc0712.py'
    }
    # in a checkout, the packaged directory is the repository's configs/
    assert osp.dirname(config_path('faster_rcnn_ohem_r50')) == osp.join(
        REPO, 'configs')


def test_unknown_config_names_the_ones_that_exist():
    with pytest.raises(FileNotFoundError, match='faster_rcnn_ohem_r50.py'):
        config_path('faster_rcnn_ohem_r500')


@pytest.mark.parametrize('name', CONFIGS)
def test_config_builds_with_ohem_where_it_says(name):
    cfg = Config.fromfile(config_path(name))
    init_default_scope('mmdet')
    model = MODELS.build(cfg.model)
    samplers = rcnn_samplers(model)
    if 'random' in name:
        assert all(type(s).__name__ == 'RandomSampler' for s in samplers)
        return
    fixes = ['mmohem.fixes.safe_checkpoint', 'mmohem.fixes.cpu_distributed']
    if name.startswith('fast_rcnn'):  # reads a proposal file
        fixes.append('mmohem.fixes.proposal_file_check')
    assert cfg.custom_imports.imports == ['mmohem', *fixes]
    if 'cascade' in name:
        # OHEM mines the RPN's proposals; stages 2 and 3 keep mmdet's
        # RandomSampler (docs/results.md, the cascade regime)
        later = samplers[1:]
        samplers = samplers[:1]
        assert [type(s).__name__ for s in later] == ['RandomSampler'] * 2
        assert all(s.num == 512 and s.pos_fraction == 0.25 for s in later)
        assert samplers[0].stage == 0
    assert all(type(s) is mmohem.OHEMSampler for s in samplers)
    assert [s.num for s in samplers] == [512] * len(samplers)
    assert all(s.pos_fraction is None and s.nms_iou_thr == 0.7
               for s in samplers)
    if hasattr(model, 'rpn_head'):  # the RPN keeps mmdet's RandomSampler
        assert type(model.rpn_head.sampler).__name__ == 'RandomSampler'


@pytest.mark.parametrize('name', CONFIGS)
def test_config_trains_on_cpu_smoke(name, tiny_coco, tmp_path):
    """A smoke test: each shipped config, shrunk, trains two iterations and
    validates once, and its OHEM sampler sampled every image; what the
    sampler selects is checked by the selection and reference tests."""
    runner = train_two_iterations(
        Config.fromfile(config_path(name)), tiny_coco, str(tmp_path))
    assert runner.iter == 2
    samplers = rcnn_samplers(runner.model)
    if 'random' in name:  # the baseline configs keep mmdet's sampler
        assert [type(s).__name__ for s in samplers] == ['RandomSampler']
        return
    [sampler] = [s for s in samplers if isinstance(s, mmohem.OHEMSampler)]
    stats = sampler.mining_record.pop()
    assert len(stats) == 4  # 2 iterations x 2 images
    for s in stats:
        # pure OHEM keeps the hardest 512 of what NMS kept, or all of it
        assert 0 < s['num_kept'] <= s['num_candidates']
        assert s['num_selected'] == min(512, s['num_kept'])


def test_mim_train_runs_a_shipped_config(tiny_coco, tmp_path):
    cfg = Config.fromfile(config_path('faster_rcnn_ohem_r50.py'))
    options = shrink_options(cfg, tiny_coco, str(tmp_path))
    # the run must not rely on switching torch.load's check off
    env = {
        k: v
        for k, v in os.environ.items()
        if k != 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'
    }
    proc = subprocess.run([
        MIM, 'train', 'mmdet', 'configs/faster_rcnn_ohem_r50.py', '--gpus',
        '0', '--cfg-options', *cli_options(options)
    ],
                          cwd=REPO,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert 'Iter(train) [2/2]' in log or 'Epoch(train) [1][2/2]' in log, \
        log[-3000:]
    assert 'coco/bbox_mAP' in log
    # what it wrote loads under torch.load's weights_only check
    checkpoint = load_local_checkpoint(osp.join(tmp_path, 'epoch_1.pth'))
    assert checkpoint['meta']['iter'] == 2


CONFIG_DIR = osp.dirname(config_path('faster_rcnn_ohem_r50.py'))
# the benchmark's configs: the shapes set's regimes and the trees'
SHAPES = sorted(
    osp.relpath(p, CONFIG_DIR) for folder in ('shapes', 'trees')
    for p in glob.glob(osp.join(CONFIG_DIR, folder, '*.py')))
SHAPES_SAMPLER = {
    'random': 'RandomSampler',
    'mmdet_ohem': 'mmdet.models.task_modules.samplers.ohem_sampler',
    'mmohem': 'mmohem.samplers.ohem_sampler'
}


def test_the_demo_configs_ship():
    # one config per regime and compared sampler, named after both
    assert SHAPES == sorted([
        f'shapes/{regime}_rcnn_{sampler}_r18_shapes.py'
        for regime in ('fast', 'faster', 'cascade', 'oriented', 'rotated_fast')
        for sampler in SHAPES_SAMPLER
    ] + [
        f'trees/{regime}_rcnn_{sampler}_r18_trees.py'
        for regime in ('fast', 'faster') for sampler in SHAPES_SAMPLER
    ])


DETECTOR = {
    'fast': 'FastRCNN',
    'faster': 'FasterRCNN',
    'cascade': 'CascadeRCNN',
    'oriented': 'FasterRCNN',
    'rotated_fast': 'BoxedFastRCNN'
}


@pytest.mark.parametrize('name', SHAPES)
def test_demo_config_builds_with_its_sampler(name):
    regime = osp.basename(name).split('_rcnn_')[0]
    if regime in ('oriented', 'rotated_fast'):
        pytest.importorskip('mmrotate')
    cfg = Config.fromfile(osp.join(CONFIG_DIR, name))
    model = build_model(cfg)  # in the config's scope (mmrotate's, oriented)
    samplers = rcnn_samplers(model)
    assert len(samplers) == (3 if regime == 'cascade' else 1)
    variant = osp.basename(name).split('_rcnn_')[1].rsplit('_r18_', 1)[0]
    if name.startswith('trees/'):  # one class, the trees' own data
        assert model.roi_head.bbox_head.num_classes == 1
        assert cfg.train_dataloader.dataset.data_root == 'data/trees/'
        assert 'mmohem.fixes.safe_checkpoint' in cfg.custom_imports.imports
    expected = SHAPES_SAMPLER[variant]
    for sampler in samplers:
        assert expected in (type(sampler).__module__, type(sampler).__name__)
        assert sampler.num == 64
    assert type(model).__name__ == DETECTOR[regime]
