"""Bad input end to end: a clear error or a defined behaviour, and nothing
already written is lost."""
import hashlib
import os
import os.path as osp
import pickle
import shutil
import time

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from tiny_coco import make_tiny_coco, shrink_config

from mmohem import config_path


def tiny_cfg(name, data, work_dir, **sampler):
    cfg = shrink_config(Config.fromfile(config_path(name)), data, work_dir)
    cfg.model.train_cfg.rcnn.sampler.update(sampler)
    return cfg


def digest(folder):
    """Hash of every file in a folder (the work dir must survive intact)."""
    out = {}
    for dirpath, _, files in os.walk(folder):
        for name in files:
            path = osp.join(dirpath, name)
            with open(path, 'rb') as f:
                out[osp.relpath(path, folder)] = hashlib.sha256(
                    f.read()).hexdigest()
    return out


def checkpoints(files):
    """The checkpoints of a :func:`digest` (the config the Runner dumps
    into the work dir is rewritten by every run)."""
    return {
        k: v
        for k, v in files.items()
        if k.endswith('.pth') or k == 'last_checkpoint'
    }


def ohem_stats(runner):
    return runner.model.roi_head.bbox_sampler.mining_record.pop()


def next_second():
    """Wait until the wall clock's second has changed: mmengine names a
    run's log folder by the second it starts in, so two starts in one work
    dir within one second write one log folder (docs/reliability.md)."""
    start = int(time.time())
    while int(time.time()) == start:
        time.sleep(0.05)


@pytest.fixture(scope='module')
def earlier_run(tiny_coco, tmp_path_factory):
    """A work dir holding a finished run's checkpoint and log; every start
    after it begins in a later second, so it gets a log folder of its
    own."""
    work_dir = str(tmp_path_factory.mktemp('work'))
    Runner.from_cfg(tiny_cfg('faster_rcnn_ohem_r50.py', tiny_coco,
                             work_dir)).train()
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))
    next_second()
    return work_dir


@pytest.fixture(scope='module')
def earlier_files(earlier_run):
    """:func:`digest` of the earlier run's work dir as the run left it."""
    files = digest(earlier_run)
    assert 'epoch_1.pth' in files and any(k.endswith('.log') for k in files)
    return files


@pytest.mark.parametrize('bad,message', [
    (dict(num=0), 'num must be an integer >= 1'),
    (dict(pos_fraction=2), 'pos_fraction must be None'),
    (dict(nms_iou_thr=-0.7), 'nms_iou_thr must be None'),
    (dict(loss_keys=('loss_mask', )), 'loss_keys must be a non-empty'),
])
def test_bad_ohem_value_fails_before_training_and_keeps_the_work_dir(
        tiny_coco, earlier_run, earlier_files, bad, message):
    cfg = tiny_cfg('faster_rcnn_ohem_r50.py', tiny_coco, earlier_run, **bad)
    with pytest.raises(ValueError, match='mmohem.OHEMSampler') as err:
        Runner.from_cfg(cfg)
    assert message in str(err.value)
    after = digest(earlier_run)
    # the failed start adds its own log folder and leaves the earlier run's
    # checkpoint, log and dumped config as they were
    assert {k: after.get(k) for k in earlier_files} == earlier_files
    assert len(after) > len(earlier_files)


def test_ohem_in_the_rpn_says_where_it_belongs(tiny_coco, tmp_path):
    cfg = tiny_cfg('faster_rcnn_ohem_r50.py', tiny_coco, str(tmp_path))
    cfg.model.train_cfg.rpn.sampler = dict(type='mmohem.OHEMSampler', num=256)
    with pytest.raises(TypeError) as err:
        Runner.from_cfg(cfg)
    assert 'OHEM belongs in train_cfg.rcnn.sampler' in str(err.value)
    assert 'RPNHead' in str(err.value)


def test_training_images_without_gt_mine_background(tmp_path):
    data = make_tiny_coco(str(tmp_path / 'data'), empty_images=2)
    cfg = tiny_cfg('faster_rcnn_ohem_r50.py', data, str(tmp_path / 'w'))
    cfg.train_dataloader.dataset.filter_cfg = dict(filter_empty_gt=False)
    cfg.train_dataloader.sampler = dict(type='DefaultSampler', shuffle=False)
    runner = Runner.from_cfg(cfg)
    runner.train()
    stats = ohem_stats(runner)
    assert len(stats) == 4
    assert [s['fg_fraction'].item() == 0 for s in stats].count(True) == 2
    assert all(np.isfinite(s['loss_selected'].item()) for s in stats)


def fast_rcnn_with_proposals(data, work_dir, edit):
    """Fast R-CNN on a copy of the proposal file changed by ``edit``."""
    with open(osp.join(data, 'proposals.pkl'), 'rb') as f:
        proposals = pickle.load(f)
    edit(proposals)
    path = osp.join(work_dir, 'edited_proposals.pkl')
    os.makedirs(work_dir, exist_ok=True)
    with open(path, 'wb') as f:
        pickle.dump(proposals, f)
    cfg = tiny_cfg('fast_rcnn_ohem_r50.py', data, work_dir)
    cfg.train_dataloader.dataset.proposal_file = path
    cfg.train_dataloader.sampler = dict(type='DefaultSampler', shuffle=False)
    return cfg


def test_image_with_zero_proposals_trains_on_its_gt(tiny_coco, tmp_path):

    def empty_first(proposals):
        proposals['images/0001.png'] = dict(
            bboxes=np.zeros((0, 4), np.float32))

    runner = Runner.from_cfg(
        fast_rcnn_with_proposals(tiny_coco, str(tmp_path), empty_first))
    runner.train()
    first = ohem_stats(runner)[0]  # image 0001, not shuffled
    assert first['num_candidates'] == 2  # its two GT boxes
    assert first['fg_fraction'] == 1


def test_proposal_file_missing_images_names_them_and_the_fix(
        tiny_coco, tmp_path):

    def drop_first(proposals):
        del proposals['images/0001.png']

    runner = Runner.from_cfg(
        fast_rcnn_with_proposals(tiny_coco, str(tmp_path), drop_first))
    with pytest.raises(ValueError) as err:
        runner.train()
    message = str(err.value)
    assert 'no entry for 1 of them' in message
    assert "'images/0001.png'" in message
    assert 'np.zeros((0, 4), np.float32)' in message


def test_degenerate_proposals_score_as_finite_background(tiny_coco, tmp_path):

    def flatten(proposals):
        for entry in proposals.values():
            boxes = entry['bboxes']
            boxes[::3, 2] = boxes[::3, 0]  # zero width
            boxes[1::3, 3] = boxes[1::3, 1]  # zero height

    runner = Runner.from_cfg(
        fast_rcnn_with_proposals(tiny_coco, str(tmp_path), flatten))
    runner.train()
    records = ohem_stats(runner)
    assert len(records) == 4  # 2 iterations x 2 images
    for stats in records:
        assert stats['num_nonfinite'] == 0
        assert np.isfinite(stats['loss_all'].item())
    assert np.isfinite(runner.message_hub.get_scalar('train/loss').current())


def nan_run(tiny_coco, earlier_run, work_dir, **hook):
    """A run whose features turn NaN from the first iteration, in a copy of
    a work dir that holds an earlier run's checkpoint: the checkpoint
    hook would overwrite that ``epoch_1.pth`` at the end of the epoch."""
    shutil.copytree(earlier_run, work_dir)
    cfg = tiny_cfg('faster_rcnn_ohem_r50.py', tiny_coco, work_dir)
    cfg.custom_hooks = [dict(type='mmohem.FiniteLossHook', **hook)]
    runner = Runner.from_cfg(cfg)

    def poison(module, args, output):
        return tuple(level * float('nan') for level in output)

    runner.model.neck.register_forward_hook(poison)
    return runner


def test_nan_features_stop_with_a_clear_error_and_keep_checkpoints(
        tiny_coco, earlier_run, tmp_path):
    """NaN reaching the features makes every loss NaN; the sampler ranks such
    RoIs last (tests/test_ohem_sampler.py) and mmohem's FiniteLossHook stops
    the run with an error that says so."""
    work_dir = str(tmp_path / 'nan')
    runner = nan_run(tiny_coco, earlier_run, work_dir)
    before = digest(earlier_run)  # what the copy holds
    with pytest.raises(FloatingPointError) as err:
        runner.train()
    message = str(err.value)
    assert 'The training loss is nan at iteration 1' in message
    assert 'OHEM scored' in message and 'clip_grad' in message
    assert runner.iter == 0  # stopped on the first iteration
    assert 'epoch_1.pth' in checkpoints(before)
    assert checkpoints(digest(work_dir)) == checkpoints(before)
    assert ohem_stats(runner)[0]['num_nonfinite'] > 0


def test_a_sparse_check_still_stops_before_the_checkpoint(
        tiny_coco, earlier_run, tmp_path):
    """With interval=5 no iteration of the 2-iteration epoch is checked, but
    the end-of-epoch checkpoint is: the NaN of iteration 1 stops it."""
    work_dir = str(tmp_path / 'nan')
    runner = nan_run(tiny_coco, earlier_run, work_dir, interval=5)
    before = digest(earlier_run)  # what the copy holds
    with pytest.raises(FloatingPointError, match='is nan at iteration 1'):
        runner.train()
    assert runner.iter == 2  # both iterations ran, the checkpoint did not
    assert checkpoints(digest(work_dir)) == checkpoints(before)


def test_nan_weights_after_a_finite_loss_stop_before_the_checkpoint(
        tiny_coco, earlier_run, tmp_path):
    """The loss of both iterations is finite, but the step of the last one
    leaves a NaN weight (as a NaN gradient would, or another rank's NaN
    under DDP): the end-of-epoch checkpoint is not written."""
    from mmengine.hooks import Hook
    work_dir = str(tmp_path / 'nan_weights')
    shutil.copytree(earlier_run, work_dir)
    cfg = tiny_cfg('faster_rcnn_ohem_r50.py', tiny_coco, work_dir)
    cfg.custom_hooks = [dict(type='mmohem.FiniteLossHook', interval=1)]
    runner = Runner.from_cfg(cfg)
    before = digest(earlier_run)

    class PoisonAfterTheLastStep(Hook):

        def after_train_iter(self,
                             runner,
                             batch_idx,
                             data_batch=None,
                             outputs=None):
            assert torch.isfinite(outputs['loss'])
            if runner.iter == 1:  # the epoch's last iteration
                with torch.no_grad():
                    runner.model.roi_head.bbox_head.fc_cls.weight[0, 0] = \
                        float('nan')

    runner.register_hook(PoisonAfterTheLastStep())
    with pytest.raises(FloatingPointError) as err:
        runner.train()
    message = str(err.value)
    assert ('1 weight tensor(s) to be saved after iteration 2 are not finite '
            '(roi_head.bbox_head.fc_cls.weight)') in message
    assert 'checkpoints in the work dir are unchanged' in message
    assert checkpoints(digest(work_dir)) == checkpoints(before)


def test_finite_loss_hook_without_a_data_batch():
    from types import SimpleNamespace

    from torch import nn

    from mmohem.hooks import FiniteLossHook
    hook = FiniteLossHook()
    runner = SimpleNamespace(iter=0, model=nn.Linear(1, 1))
    hook.after_train_iter(runner, 0, None, dict(loss=torch.tensor(1.0)))
    with pytest.raises(FloatingPointError, match='is inf at iteration 1'):
        hook.after_train_iter(runner, 0, None,
                              dict(loss=torch.tensor(float('inf'))))
