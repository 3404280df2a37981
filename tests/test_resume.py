"""Resume on torch >= 2.6 without turning the weights_only check off."""
import copy
import os
import os.path as osp
import pickle
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner import Runner, load_checkpoint
from tiny_coco import shrink_config

from mmohem import config_path


class Probe(Hook):
    """Records what the runner holds when training (re)starts."""

    def before_train(self, runner):
        self.iter = runner.iter
        self.weights = copy.deepcopy(runner.model.state_dict())
        self.optimizer = copy.deepcopy(runner.optim_wrapper.state_dict())


class Marker:
    """An arbitrary object: unpickling it would create a file."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path), ))


class AttributeProbe:
    """Asks the unpickler for getattr(HistoryBuffer, '__init__')."""

    def __reduce__(self):
        return (getattr, (HistoryBuffer, '__init__'))


@pytest.fixture(scope='module')
def trained(tiny_coco, tmp_path_factory):
    """Two iterations of the OHEM Faster R-CNN, checkpointed."""
    root = tiny_coco
    work_dir = str(tmp_path_factory.mktemp('work'))
    cfg = shrink_config(
        Config.fromfile(config_path('faster_rcnn_ohem_r50.py')), root,
        work_dir)
    cfg.optim_wrapper.optimizer.lr = 0.01  # so that momentum is non-zero
    Runner.from_cfg(copy.deepcopy(cfg)).train()
    return cfg, osp.join(work_dir, 'epoch_1.pth')


def test_plain_weights_only_load_refuses_an_mmengine_checkpoint(trained):
    """Why mmohem's loader is needed; and its allowlist is not global."""
    assert os.environ.get('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD') is None
    _, checkpoint = trained
    with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer'):
        torch.load(checkpoint, weights_only=True)
    assert HistoryBuffer not in torch.serialization.get_safe_globals()


def test_resume_continues_iterations_optimizer_and_weights(trained):
    cfg, checkpoint = trained
    saved = torch.load(checkpoint, weights_only=False)  # our own file
    cfg = copy.deepcopy(cfg)
    cfg.train_cfg.max_epochs = 2
    cfg.resume = True
    runner = Runner.from_cfg(cfg)
    probe = Probe()
    runner.register_hook(probe, priority='LOWEST')
    runner.train()

    assert probe.iter == 2 and saved['meta']['iter'] == 2
    for key, value in saved['state_dict'].items():
        assert torch.equal(probe.weights[key], value), key
    momentum = saved['optimizer']['state']
    assert momentum and len(momentum) == len(probe.optimizer['state'])
    for index, state in momentum.items():
        assert torch.equal(probe.optimizer['state'][index]['momentum_buffer'],
                           state['momentum_buffer'])
    assert runner.iter == 4
    # training went on from there: the weights moved
    moved = runner.model.state_dict()
    assert any(not torch.equal(moved[k], v)
               for k, v in saved['state_dict'].items())


def test_checkpoint_with_an_arbitrary_object_is_refused(trained, tmp_path):
    cfg, checkpoint = trained
    evil = torch.load(checkpoint, weights_only=False)
    marker = tmp_path / 'unpickled'
    evil['meta']['payload'] = Marker(str(marker))
    torch.save(evil, tmp_path / 'evil.pth')

    runner = Runner.from_cfg(copy.deepcopy(cfg))
    with pytest.raises(pickle.UnpicklingError, match='Weights only load'):
        load_checkpoint(runner.model, str(tmp_path / 'evil.pth'))
    with pytest.raises(pickle.UnpicklingError, match='Weights only load'):
        runner.resume(str(tmp_path / 'evil.pth'))
    assert not marker.exists()


def test_getattr_is_limited_to_history_buffer_statistics(trained, tmp_path):
    """The checkpoint needs getattr(HistoryBuffer, 'min') and its kin; any
    other lookup is refused."""
    cfg, checkpoint = trained
    probe = torch.load(checkpoint, weights_only=False)
    probe['meta']['payload'] = AttributeProbe()
    torch.save(probe, tmp_path / 'probe.pth')
    runner = Runner.from_cfg(copy.deepcopy(cfg))
    with pytest.raises(pickle.UnpicklingError, match='mmohem refused getattr'):
        load_checkpoint(runner.model, str(tmp_path / 'probe.pth'))
    assert getattr not in torch.serialization.get_safe_globals()
