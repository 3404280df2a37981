"""Hooks that record what a training run did, for tests that check
mmohem's own reports against it. Imported by the tests, and by training
processes through ``custom_imports`` (the distributed test puts this folder
on PYTHONPATH).

- ``RankLossProbe``: every rank writes its losses to a file.
- ``SamplingProbe``: per iteration, what each OHEMSampler call returned,
  read from its SamplingResult, with every candidate's loss computed by the
  RoI head's own loss (``helpers.heads_own_losses``), not by the sampler.
"""
import json
import os.path as osp

import torch
from helpers import heads_own_losses
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
    computed here from the call's SamplingResult and the head's own losses
    of its candidates (in eval mode, as mmohem scores). With ``write=True``
    each rank also writes them to ``rank<r>_sampling.jsonl``."""
    priority = 'VERY_HIGH'

    def __init__(self, write: bool = False) -> None:
        self.write = write
        self.iters = []

    def before_train(self, runner):
        for index, _, sampler in head_samplers(runner.model):
            if isinstance(sampler, OHEMSampler):
                self._wrap(sampler, index)

    def _wrap(self, sampler, index):
        sample, head = sampler.sample, sampler.context

        def sampled(assign_result,
                    pred_instances,
                    gt_instances,
                    feats=None,
                    **kwargs):
            result = sample(
                assign_result,
                pred_instances,
                gt_instances,
                feats=feats,
                **kwargs)
            # the candidates, as sample() extended them with the GT
            priors = sampler.mining_record[-1].priors
            was_training = head.training
            head.eval()
            with torch.no_grad():
                loss, _ = heads_own_losses(head, sampler.stage, feats, priors,
                                           gt_instances, assign_result)
            head.train(was_training)
            self.iters[-1].append(_call_stats(index, loss, result))
            return result

        sampler.sample = sampled

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
