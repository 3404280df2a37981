"""MiningStatsHook logs the sampler's statistics and draws the mined RoIs."""
import glob
import json
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.runner import Runner
from probe_hooks import SamplingProbe, interval_means
from tiny_coco import shrink_config

from mmohem import config_path
from mmohem.hooks import MiningStatsHook
from mmohem.hooks.mining_stats_hook import LOGGED

# what the probe computes independently of the sampler's statistics
CHECKED = ('num_candidates', 'num_selected', 'fg_fraction', 'loss_all',
           'loss_selected')


def tiny(name, data, work_dir, **hook):
    cfg = shrink_config(Config.fromfile(config_path(name)), data, work_dir)
    cfg.custom_hooks = [dict(type='mmohem.MiningStatsHook', **hook)]
    return cfg


def train_lines(runner):
    """The lines the LoggerHook handed the local backend during training."""
    with open(osp.join(runner.log_dir, 'vis_data', 'scalars.json')) as f:
        return [line for line in map(json.loads, f) if 'loss' in line]


def expected_lines(probe, steps, suffix='', stage=0):
    """Per log line (at ``steps``), the mean of each checked statistic over
    the images sampled since the previous line."""
    expected, last = [], 0
    for step in steps:
        calls = [
            c for it in probe.iters[last:step] for c in it
            if c['stage'] == stage
        ]
        assert calls, (step, stage)  # every line has images to check
        expected.append({
            f'ohem_{k}{suffix}': v
            for k, v in interval_means(calls, CHECKED).items()
        })
        last = step
    return expected


@pytest.mark.parametrize('loop', ['epoch', 'iter'])
def test_each_line_shows_the_mean_over_its_interval(loop, tiny_coco, tmp_path):
    """Through mmdet's LoggerHook and LogProcessor (window_size 50, whose
    mean_pattern matches ohem_loss_*): every training line carries the
    statistics, each the mean over the images since the previous line, the
    shorter last interval of an epoch included; TensorBoard gets the same
    values."""
    from tensorboard.backend.event_processing.event_accumulator import \
        EventAccumulator
    cfg = tiny('faster_rcnn_ohem_r50.py', tiny_coco, str(tmp_path))
    cfg.train_dataloader.batch_size = 1  # 4 iterations per epoch
    cfg.default_hooks.logger.update(interval=3, ignore_last=False)
    cfg.log_processor = dict(
        type='LogProcessor', window_size=50, by_epoch=loop == 'epoch')
    if loop == 'epoch':
        cfg.train_cfg = dict(
            type='EpochBasedTrainLoop', max_epochs=2, val_interval=10)
    else:
        cfg.train_cfg = dict(
            type='IterBasedTrainLoop', max_iters=7, val_interval=100)
        cfg.train_dataloader.sampler = dict(
            type='InfiniteSampler', shuffle=False)
    cfg.visualizer.vis_backends = [
        dict(type='LocalVisBackend'),
        dict(type='TensorboardVisBackend')
    ]
    runner = Runner.from_cfg(cfg)
    probe = SamplingProbe()
    runner.register_hook(probe)
    runner.train()

    lines = train_lines(runner)
    steps = [line['step'] for line in lines]
    if loop == 'epoch':
        # every 3 iterations of each 4-iteration epoch, and its last one
        assert steps == [3, 4, 7, 8]
    else:
        # every 3 iterations, and where the loader's length (4) ends, as
        # mmengine's LoggerHook does in an iteration-based loop
        assert steps == [3, 4, 6]
    expected = expected_lines(probe, steps)
    assert len(expected) == len(lines)
    for line, want in zip(lines, expected):
        for key, value in want.items():
            assert line[key] == pytest.approx(value, rel=1e-4), (line, key)
    assert all(line['ohem_num_selected'] == 512 for line in lines)

    [events] = glob.glob(
        osp.join(runner.log_dir, 'vis_data', '**', 'events.out.tfevents.*'),
        recursive=True)
    board = EventAccumulator(osp.dirname(events))
    board.Reload()
    for key in LOGGED:
        assert f'ohem_{key}' in board.Tags()['scalars'], key
    for key in expected[0]:
        written = board.Scalars(key)
        assert [e.step for e in written] == steps
        for event, want in zip(written, expected):
            assert event.value == pytest.approx(want[key], rel=1e-4), key


def test_a_cascade_is_logged_per_stage(tiny_coco, tmp_path):
    from mmohem.tools.config_swap import swap_samplers
    cfg = tiny('cascade_rcnn_ohem_r50.py', tiny_coco, str(tmp_path))
    # the shipped config mines the first stage; mine all three here
    swap_samplers(cfg, stages='all')
    runner = Runner.from_cfg(cfg)
    probe = SamplingProbe()
    runner.register_hook(probe)
    runner.train()

    lines = train_lines(runner)
    assert [line['step'] for line in lines] == [1, 2]
    assert not any('ohem_num_selected' in line for line in lines)
    for stage in range(3):
        suffix = f'_stage{stage + 1}'
        expected = expected_lines(probe, [1, 2], suffix, stage)
        assert len(expected) == len(lines)
        for line, want in zip(lines, expected):
            for key, value in want.items():
                assert line[key] == pytest.approx(value, rel=1e-4), key


def test_an_interval_other_than_the_loggers_is_refused(tiny_coco, tmp_path):
    runner = Runner.from_cfg(
        tiny('faster_rcnn_ohem_r50.py', tiny_coco, str(tmp_path), interval=5))
    with pytest.raises(ValueError, match='interval=5, but the LoggerHook'):
        runner.train()


def test_a_priority_after_the_loggers_is_refused(tiny_coco, tmp_path):
    cfg = tiny('faster_rcnn_ohem_r50.py', tiny_coco, str(tmp_path))
    cfg.custom_hooks[0]['priority'] = 'LOW'
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match='runs after the LoggerHook'):
        runner.train()


def test_user_log_entries_under_other_names_keep_the_statistics_unsmoothed():
    """A user's entry that logs a statistic under another name leaves the
    statistic's own key to mmengine's smoothing: the hook still adds its
    window_size=1 entry for it, and accepts a tuple of entries."""
    from mmengine.runner import LogProcessor
    user = dict(
        data_src='ohem_loss_all',
        log_name='loss_all_global',
        window_size='global')
    processor = LogProcessor(custom_cfg=(user, ))
    hook = MiningStatsHook()
    hook._stages = [('', [])]
    hook._show_latest(processor)
    entries = {
        cfg.get('log_name', cfg['data_src']): cfg
        for cfg in processor.custom_cfg
    }
    assert entries['loss_all_global'] == user
    assert entries['ohem_loss_all'] == dict(
        data_src='ohem_loss_all', method_name='mean', window_size=1)
    assert len(entries) == len(LOGGED) + 1


def test_draws_the_mined_rois(tiny_coco, tmp_path):
    runner = Runner.from_cfg(
        tiny(
            'faster_rcnn_ohem_r50.py',
            tiny_coco,
            str(tmp_path),
            draw_interval=2))
    runner.train()
    pictures = glob.glob(
        osp.join(runner.log_dir, 'vis_data', 'vis_image',
                 'ohem_mined_rois_2.png'))
    assert len(pictures) == 1
    from mmcv import imread
    picture = imread(pictures[0])
    # green (foreground) and red (background) boxes were drawn
    assert (np.abs(picture.astype(int) - [0, 255, 0]).sum(-1) < 30).any()
    assert (np.abs(picture.astype(int) - [0, 0, 255]).sum(-1) < 30).any()


def test_refuses_a_model_without_mmohem_sampler(tiny_coco, tmp_path):
    runner = Runner.from_cfg(
        tiny('faster_rcnn_random_r50_voc0712.py', tiny_coco, str(tmp_path)))
    with pytest.raises(ValueError, match='needs a model whose R-CNN sampler'):
        runner.train()


@pytest.mark.parametrize(
    'bad', [dict(interval=0),
            dict(draw_interval=-1),
            dict(max_boxes=1.5)])
def test_bad_arguments(bad):
    with pytest.raises(ValueError, match='mmohem.MiningStatsHook'):
        MiningStatsHook(**bad)
