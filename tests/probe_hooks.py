"""Hooks that record what a training run did, for tests that check
mmohem's own reports against it. Imported by the tests, and by training
processes through ``custom_imports`` (the distributed test puts this folder
on PYTHONPATH).

- ``RankLossProbe``: every rank writes its losses to a file.
- ``SamplingProbe``: per iteration, what each OHEMSampler call returned,
  read from its SamplingResult and from the scoring pass's losses, not from
  the sampler's own statistics.
"""
import json
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from mmohem import OHEMSampler
from mmohem.samplers.lookup import head_samplers


@HOOKS.register_module()
class RankLossProbe(Hook):

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None):
        path = osp.join(runner.work_dir, f'rank{get_rank()}_losses.jsonl')
        with open(path, 'a') as f:
            f.write(json.dumps({k: float(v) for k, v in outputs.items()}))
            f.write('\n')


@HOOKS.register_module()
class SamplingProbe(Hook):
    """Records ``self.iters[i]``: one dict per ``sample()`` call of
    iteration i+1, with ``stage`` (the sampler's index in its head's list;
    0 for a single sampler) and the statistics MiningStatsHook logs,
    computed here from the call's SamplingResult and its scored losses. With
    ``write=True`` each rank also writes them to
    ``rank<r>_sampling.jsonl``."""
    priority = 'VERY_HIGH'

    def __init__(self, write: bool = False) -> None:
        self.write = write
        self.iters = []
        self._scored = None

    def before_train(self, runner):
        for stage, _, sampler in head_samplers(runner.model):
            if isinstance(sampler, OHEMSampler):
                self._wrap(sampler, stage)

    def _wrap(self, sampler, stage):
        score, sample = sampler._score, sampler.sample

        def scored(*args, **kwargs):
            self._scored = score(*args, **kwargs)
            return self._scored

        def sampled(*args, **kwargs):
            result = sample(*args, **kwargs)
            self.iters[-1].append(_call_stats(stage, self._scored, result))
            return result

        sampler._score, sampler.sample = scored, sampled

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.iters.append([])

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None):
        if self.write:
            path = osp.join(runner.work_dir,
                            f'rank{get_rank()}_sampling.jsonl')
            with open(path, 'a') as f:
                f.write(json.dumps(self.iters[-1]) + '\n')


def _call_stats(stage, loss, result) -> dict:
    pos, neg = result.pos_inds, result.neg_inds
    selected = torch.cat([pos, neg])
    finite = torch.isfinite(loss)
    return dict(
        stage=stage,
        num_candidates=len(loss),
        num_selected=len(selected),
        fg_fraction=len(pos) / len(selected),
        loss_all=float(loss[finite].mean()),
        loss_selected=float(loss[selected][finite[selected]].mean()))


def interval_means(calls, keys) -> dict:
    """Mean of each key over ``calls`` (a list of :class:`SamplingProbe`
    records)."""
    return {k: sum(c[k] for c in calls) / len(calls) for k in keys}
