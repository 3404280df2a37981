"""MiningStatsHook logs the sampler's statistics and draws the mined RoIs."""
import glob
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner
from tiny_coco import shrink_config

from mmohem import config_path
from mmohem.hooks import MiningStatsHook
from mmohem.hooks.mining_stats_hook import LOGGED
from mmohem.samplers import ohem_samplers


class ExpectedStats(Hook):
    """Runs before MiningStatsHook and averages the same statistics."""
    priority = 'VERY_HIGH'

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None):
        stats = [
            s for sampler in ohem_samplers(runner.model)
            for s in sampler.peek_stats()
        ]
        self.means = {
            key: float(torch.stack([s[key].float() for s in stats]).mean())
            for key in LOGGED
        }


def tiny(name, data, work_dir, **hook):
    cfg = shrink_config(Config.fromfile(config_path(name)), data, work_dir)
    cfg.custom_hooks = [dict(type='mmohem.MiningStatsHook', **hook)]
    return cfg


def test_logs_the_statistics_and_draws_the_mined_rois(tiny_coco, tmp_path):
    runner = Runner.from_cfg(
        tiny(
            'faster_rcnn_ohem_r50.py',
            tiny_coco,
            str(tmp_path),
            interval=1,
            draw_interval=2))
    expected = ExpectedStats()
    runner.register_hook(expected)
    runner.train()

    hub = runner.message_hub
    for key in LOGGED:
        logged = hub.get_scalar(f'train/ohem_{key}').current()
        assert logged == pytest.approx(expected.means[key], rel=1e-5), key
    assert hub.get_scalar('train/ohem_num_selected').current() == 512
    assert 0 < hub.get_scalar('train/ohem_fg_fraction').current() < 1
    # the visualizer backends got the scalars and the picture
    with open(
            glob.glob(osp.join(runner.log_dir, 'vis_data',
                               'scalars.json'))[0]) as f:
        assert any('ohem_loss_selected' in json.loads(line) for line in f)
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


def test_statistics_reach_tensorboard(tiny_coco, tmp_path):
    """With the `tensorboard` extra installed, TensorBoard's event file holds
    the same mining statistics as the local backend."""
    from tensorboard.backend.event_processing.event_accumulator import \
        EventAccumulator
    cfg = tiny('faster_rcnn_ohem_r50.py', tiny_coco, str(tmp_path), interval=1)
    cfg.visualizer.vis_backends = [
        dict(type='LocalVisBackend'),
        dict(type='TensorboardVisBackend')
    ]
    runner = Runner.from_cfg(cfg)
    runner.train()

    events = glob.glob(
        osp.join(runner.log_dir, 'vis_data', '**', 'events.out.tfevents.*'),
        recursive=True)
    assert events, 'no TensorBoard event file was written'
    board = EventAccumulator(osp.dirname(events[0]))
    board.Reload()
    # what the local backend wrote, per iteration (the logger's smoothed
    # values; every backend gets the same)
    with open(osp.join(runner.log_dir, 'vis_data', 'scalars.json')) as f:
        local = [json.loads(line) for line in f]
    local = [r for r in local if 'ohem_fg_fraction' in r]
    assert [r['step'] for r in local] == [1, 2]
    for key in LOGGED:
        tag = f'ohem_{key}'
        assert tag in board.Tags()['scalars'], (tag, board.Tags())
        written = board.Scalars(tag)
        assert [e.step for e in written] == [1, 2]
        for event, record in zip(written, local):
            assert event.value == pytest.approx(record[tag], rel=1e-5), tag
    # the first iteration's value is that iteration's mean over the images
    first = runner.message_hub.get_scalar('train/ohem_num_selected')
    assert board.Scalars('ohem_num_selected')[0].value == first.data[0][0]
