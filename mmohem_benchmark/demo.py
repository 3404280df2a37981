"""``mmohem demo``: three samplers trained side by side on the shapes set.

Generates the dataset and its proposals if missing, trains the
RandomSampler, mmdet's OHEMSampler and mmohem's OHEMSampler variants of a
regime with the same seed and iteration budget (each in its own process),
evaluates COCO AP on val, prints a table and draws the pictures.
"""
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import time
from dataclasses import asdict
from typing import Dict, List, Optional, Sequence

from mmohem.tools.config_files import CONFIG_DIR
from . import SAMPLER_LABELS
from .markdown import mean_std
from .plots import draw_gallery, draw_summary
from .proposals import write_proposals
from .shapes import (ShapesSpec, ensure_dataset, ensure_dota, stamp_matches,
                     write_stamp)
from .trees import ensure_trees

# the demo's variants: the three samplers compared, with their labels
VARIANTS = tuple(SAMPLER_LABELS.items())
NUM_PROPOSALS = 1000
REGIMES = ('fast', 'faster')  # mmohem demo --regime both
# the regimes that detect the shapes' oriented boxes (needs mmrotate):
# end-to-end Oriented R-CNN, and Rotated Faster R-CNN's head on the
# precomputed proposals (the paper's regime)
ORIENTED_REGIMES = ('oriented', 'rotated_fast')
# the regimes on real aerial images (mmohem_benchmark/trees.py): Fast R-CNN
# on precomputed proposals (the paper's regime) and Faster R-CNN end to end
TREE_REGIMES = ('trees_fast', 'trees_faster')


def config_file(regime: str, variant: str) -> str:
    if regime in TREE_REGIMES:
        return osp.join(
            CONFIG_DIR, 'trees',
            f"{regime[len('trees_'):]}_rcnn_{variant}_r18_trees.py")
    return osp.join(CONFIG_DIR, 'shapes',
                    f'{regime}_rcnn_{variant}_r18_shapes.py')


def regime_data_root(regime: str, root: str) -> str:
    """Where a regime's data lies under the work dir's data folder."""
    return osp.join(root, 'trees') if regime in TREE_REGIMES else root


def prepare_data(spec: ShapesSpec,
                 root: str,
                 regimes: Sequence[str] = REGIMES) -> None:
    """The data of ``regimes`` under ``root``, written only if missing: the
    tree set (fetched into the cache if it is not there), or the shapes
    set with its proposals, and the oriented boxes in DOTA's format for the
    regimes that detect them.

    Raises:
        TreesUnavailable: If a tree regime's data is neither cached nor
            fetchable.
    """
    if set(regimes) & set(TREE_REGIMES):
        ensure_trees(regime_data_root('trees_fast', root))
    if not set(regimes) - set(TREE_REGIMES):
        return
    if set(regimes) & set(ORIENTED_REGIMES):
        ensure_dota(spec, root)
    stamp = osp.join(root, 'proposals.json')
    wanted = json.dumps(
        dict(spec=asdict(spec), num=NUM_PROPOSALS), sort_keys=True)
    files = ensure_dataset(spec, root)
    if stamp_matches(stamp, wanted):
        return
    print(f'[demo] writing {NUM_PROPOSALS} proposals per image', flush=True)
    for split, ann_file in files.items():
        write_proposals(root, split, ann_file, NUM_PROPOSALS, spec.seed)
    write_stamp(stamp, wanted)


def train_variant(regime: str,
                  variant: str,
                  label: str,
                  seed: int,
                  iters: int,
                  data_root: str,
                  work_dir: str,
                  options: Optional[dict] = None,
                  eval_interval: Optional[int] = None,
                  resume: bool = False) -> dict:
    """Run one variant in a child process, echoing its progress.

    ``options`` are config overrides on top of the variant's config (the
    ablation's changes); ``eval_interval`` and ``resume`` are
    :func:`mmohem_benchmark.train_one.train_one`'s.
    """
    os.makedirs(work_dir, exist_ok=True)
    cmd = [
        sys.executable, '-m', 'mmohem_benchmark.train_one',
        config_file(regime, variant), '--work-dir', work_dir, '--data-root',
        data_root, '--iters',
        str(iters), '--seed',
        str(seed)
    ]
    if options:
        cmd += ['--options', json.dumps(options)]
    if eval_interval:
        cmd += ['--eval-interval', str(eval_interval)]
    if resume:
        cmd += ['--resume']
    tag = f'[{regime} | {label} | seed {seed}]'
    print(f'{tag} training {iters} iterations', flush=True)
    tail: List[str] = []
    with open(osp.join(work_dir, 'output.log'), 'w') as log, \
            subprocess.Popen(cmd, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True) as proc:
        for line in proc.stdout:
            log.write(line)
            tail = (tail + [line])[-40:]
            if ('Iter(train)' in line or 'bbox_mAP_copypaste' in line
                    or 'dota/mAP' in line):
                print(
                    f"{tag} {line.split(' - INFO - ')[-1].strip()}",
                    flush=True)
    if proc.returncode:
        sys.stderr.write(''.join(tail))
        raise RuntimeError(f'{tag} failed (exit {proc.returncode}); the '
                           f"full output is in {work_dir}/output.log")
    with open(osp.join(work_dir, 'result.json')) as f:
        return json.load(f)


def table(results: Dict[str, Dict[str, List[dict]]]) -> str:
    """Markdown table, mean ± std over seeds (AP in percent)."""
    lines = [
        '| regime | sampler | AP | AP50 | AP_small | s/iter | peak MiB |',
        '|---|---|---|---|---|---|---|'
    ]
    for regime, variants in results.items():
        for variant, label in VARIANTS:
            runs = variants[variant]

            def pct(key):
                if any(r[key] is None for r in runs):
                    return 'n/a'  # DOTAMetric has no AP_small
                return mean_std([100 * r[key] for r in runs])

            s_iter = statistics.mean(r['s_per_iter'] for r in runs)
            peak = max(r['peak_mib'] for r in runs)
            lines.append(f'| {regime} | {label} | {pct("AP")} | '
                         f'{pct("AP50")} | {pct("AP_small")} | '
                         f'{s_iter:.2f} | {peak:.0f} |')
    return '\n'.join(lines)


def run_demo(regimes: Sequence[str],
             iters: int,
             seeds: Sequence[int],
             work_dir: str,
             spec: ShapesSpec,
             eval_interval: Optional[int] = None) -> dict:
    """Train every variant of every regime for every seed.

    Returns:
        dict: ``{regime: {variant: [result per seed]}}``; the table, the
        results and the pictures are written under ``work_dir``.
    """
    start = time.time()
    data = osp.join(work_dir, 'data')
    print(f'[demo] data: {data}', flush=True)
    prepare_data(spec, data, regimes)
    results: Dict[str, Dict[str, List[dict]]] = {}
    for regime in regimes:
        results[regime] = {variant: [] for variant, _ in VARIANTS}
        for seed in seeds:
            for variant, label in VARIANTS:
                results[regime][variant].append(
                    train_variant(
                        regime,
                        variant,
                        label,
                        seed,
                        iters,
                        regime_data_root(regime, data),
                        osp.join(work_dir, regime, f'seed{seed}', variant),
                        eval_interval=eval_interval))
    text = table(results)
    with open(osp.join(work_dir, 'results.json'), 'w') as f:
        json.dump(results, f)
    with open(osp.join(work_dir, 'results.md'), 'w') as f:
        f.write(text + '\n')
    summary = draw_summary(results, VARIANTS, osp.join(work_dir,
                                                       'summary.png'))
    gallery = draw_gallery([(r, results[r]['mmohem'][0]['log_dir'])
                            for r in regimes],
                           osp.join(work_dir, 'mined_rois.png'))
    print(f'\n{text}\n')
    print(f'[demo] pictures: {summary}, {gallery}')
    print(f'[demo] done in {time.time() - start:.0f} s; work dir {work_dir}')
    return results
