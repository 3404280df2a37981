"""Train and evaluate one demo variant; run by ``mmohem demo`` in its own
process (clean peak memory, and mmengine's per-process singletons such as
the visualizer cannot leak from one variant into the next).

Writes ``<work_dir>/result.json``: COCO AP, AP50, AP75, AP_small on val,
seconds per iteration, peak memory, and the loss curve.
"""
import argparse
import json
import os
import os.path as osp
import resource
import statistics
from typing import List, Optional

import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

# registers the ablation's research-only samplers
from . import research_samplers  # noqa: F401
from .provenance import provenance

# the most loss values a result keeps (one every few iterations beyond it)
LOSS_POINTS = 400


def schedule_options(iters: int, eval_interval: Optional[int] = None) -> dict:
    """Overrides that stretch the demo schedule to ``iters`` iterations,
    evaluated on val (and checkpointed, to resume from) every
    ``eval_interval`` iterations and at the end."""
    interval = min(eval_interval or iters, iters)
    return {
        'train_cfg.max_iters': iters,
        'train_cfg.val_interval': interval,
        'param_scheduler.0.end': max(1, min(50, iters // 4)),
        'param_scheduler.1.end': iters,
        'param_scheduler.1.milestones': [max(1, int(iters * 0.75))],
        'default_hooks.checkpoint.interval': interval,
        'default_hooks.logger.interval': min(20, iters),
    }


class CurveHook(Hook):
    """Writes AP and AP50 of every validation, with the iteration, to
    ``curve.json`` in the work dir as it happens: a run that is stopped and
    resumed keeps the points before its checkpoint."""

    priority = 'LOW'

    def __init__(self, path: str) -> None:
        self.path = path

    def before_train(self, runner) -> None:
        # a resumed run continues after its checkpoint's iteration
        kept = [p for p in read_curve(self.path) if p['iter'] <= runner.iter]
        self._write(kept)

    def after_val_epoch(self, runner, metrics=None) -> None:
        if not metrics:
            return
        point = dict(iter=runner.iter, **_ap_of(metrics))
        self._write(read_curve(self.path) + [point])

    def _write(self, points: List[dict]) -> None:
        tmp = self.path + '.tmp'
        with open(tmp, 'w') as f:
            json.dump(points, f)
        os.replace(tmp, self.path)


def read_curve(path: str) -> List[dict]:
    """The points a :class:`CurveHook` wrote (none if the file is
    missing)."""
    if not osp.isfile(path):
        return []
    with open(path) as f:
        return json.load(f)


# the names of AP, AP50, AP75 and AP_small in CocoMetric's results and in
# mmrotate's DOTAMetric's (its mAP over IoU 0.50:0.05:0.95, as COCO's AP;
# no AP_small)
METRIC_KEYS = {
    'coco/bbox_mAP':
    dict(
        AP='coco/bbox_mAP',
        AP50='coco/bbox_mAP_50',
        AP75='coco/bbox_mAP_75',
        AP_small='coco/bbox_mAP_s'),
    'dota/mAP':
    dict(AP='dota/mAP', AP50='dota/AP50', AP75='dota/AP75'),
}


def _metric_keys(names) -> dict:
    """:data:`METRIC_KEYS` of the metric whose results have ``names``."""
    return METRIC_KEYS['coco/bbox_mAP' if 'coco/bbox_mAP' in
                       names else 'dota/mAP']


def _ap_of(metrics: dict) -> dict:
    """AP and AP50 from CocoMetric's or mmrotate's DOTAMetric's results."""
    keys = _metric_keys(metrics)
    return dict(AP=metrics[keys['AP']], AP50=metrics[keys['AP50']])


def train_one(config: str,
              work_dir: str,
              data_root: str,
              iters: int,
              seed: int,
              extra_options: Optional[dict] = None,
              eval_interval: Optional[int] = None,
              resume: bool = False) -> dict:
    """Train and evaluate one run; see the module's docstring.

    Args:
        eval_interval (int, optional): Evaluate and checkpoint every so many
            iterations (default: at the end only).
        resume (bool): Continue from the work dir's last checkpoint where
            it holds one of the same run (config, data, schedule, seed and
            options); otherwise start afresh.
    """
    cfg = Config.fromfile(config)
    root = data_root.rstrip('/') + '/'
    options = {
        'work_dir': work_dir,
        'randomness.seed': seed,
        'train_dataloader.dataset.data_root': root,
        'val_dataloader.dataset.data_root': root,
        'test_dataloader.dataset.data_root': root,
        **schedule_options(iters, eval_interval),
        **(extra_options or {})
    }
    if cfg.val_evaluator.get('type') == 'CocoMetric':
        options.update({
            'val_evaluator.ann_file': root + 'val.json',
            'test_evaluator.ann_file': root + 'val.json'
        })
    for hook in cfg.get('custom_hooks', []):
        if hook['type'] == 'mmohem.MiningStatsHook':
            # it logs on the LoggerHook's lines (schedule_options)
            hook.pop('interval', None)
            hook.update(draw_interval=max(1, iters // 4))
    cfg.merge_from_dict(options, allow_list_keys=True)
    os.makedirs(work_dir, exist_ok=True)
    cfg.resume = _same_run(
        osp.join(work_dir, 'run.json'),
        dict(config=config, seed=seed, options=options)) and resume
    runner = Runner.from_cfg(cfg)
    curve_file = osp.join(work_dir, 'curve.json')
    runner.register_hook(CurveHook(curve_file))
    runner.train()

    hub = runner.message_hub
    times, _ = hub.get_scalar('train/time').data
    losses, _ = hub.get_scalar('train/loss').data
    if torch.cuda.is_available():
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    loss_every = max(1, -(-len(losses) // LOSS_POINTS))
    result = dict(
        config=osp.basename(config),
        seed=seed,
        iters=iters,
        **_average_precision(hub),
        # the first iterations include one-off set-up
        s_per_iter=statistics.median(times[min(5,
                                               len(times) - 1):]),
        peak_mib=peak,
        # at most LOSS_POINTS values, one every loss_every iterations
        loss=[float(v) for v in losses[::loss_every]],
        loss_every=loss_every,
        curve=read_curve(curve_file),
        mining=_mining_stats(hub),
        # CPU results depend on the thread count (reduction order)
        device=_device_name(),
        threads=torch.get_num_threads(),
        provenance=provenance(
            torch.device('cuda' if torch.cuda.is_available() else 'cpu')),
        log_dir=runner.log_dir)
    with open(osp.join(work_dir, 'result.json'), 'w') as f:
        json.dump(result, f)
    return result


def _average_precision(hub) -> dict:
    """AP, AP50, AP75 (and AP_small where the metric has it) on val
    (:data:`METRIC_KEYS`)."""
    scalars = hub.log_scalars
    keys = _metric_keys({key[len('val/'):] for key in scalars})
    values = {
        name: scalars[f'val/{key}'].current()
        for name, key in keys.items()
    }
    values.setdefault('AP_small', None)
    return values


def _same_run(stamp: str, run: dict) -> bool:
    """Whether the work dir's checkpoints belong to ``run``: compares it
    with the stamp the last start wrote, then writes ``run`` there."""
    text = json.dumps(run, sort_keys=True)
    same = False
    if osp.isfile(stamp):
        with open(stamp) as f:
            same = f.read() == text
    with open(stamp, 'w') as f:
        f.write(text)
    return same


def _device_name() -> str:
    if torch.cuda.is_available():
        return torch.cuda.get_device_name()
    return 'cpu'


def _mining_stats(hub) -> dict:
    """MiningStatsHook's ``train/ohem_*`` scalars, averaged over the run's
    last quarter (what the pool looks like once the head has learnt)."""
    stats = {}
    for key, buffer in hub.log_scalars.items():
        if key.startswith('train/ohem_'):
            values, _ = buffer.data
            tail = values[-max(1, len(values) // 4):]
            stats[key[len('train/ohem_'):]] = float(tail.mean())
    return stats


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--work-dir', required=True)
    parser.add_argument('--data-root', required=True)
    parser.add_argument('--iters', type=int, required=True)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--options',
        type=json.loads,
        default=None,
        help='config overrides as a JSON object, e.g. '
        '\'{"model.train_cfg.rcnn.sampler.num": 32}\'')
    parser.add_argument(
        '--eval-interval',
        type=int,
        help='evaluate and checkpoint every so many iterations')
    parser.add_argument(
        '--resume',
        action='store_true',
        help='continue from the work dir\'s last checkpoint of this run')
    args = parser.parse_args(argv)
    train_one(args.config, args.work_dir, args.data_root, args.iters,
              args.seed, args.options, args.eval_interval, args.resume)


if __name__ == '__main__':
    main()
