"""``mmohem ablate``: one change at a time from mmohem's default, on the
shapes benchmark, with every result kept in one JSON file.

Each variant is one of the demo's configs plus a few config overrides, so
``mmohem ablate VARIANT --regime R --seed S`` reruns any row of
docs/results.md. Runs already in the results file are skipped (pass
``--force`` to rerun them): a long ablation can be run in chunks, across
sessions, and every finished run is written to the file at once.
"""
import fcntl
import json
import os
import os.path as osp
from typing import Dict, List, NamedTuple, Optional, Sequence

from .demo import (ORIENTED_REGIMES, TREE_REGIMES, prepare_data,
                   regime_data_root, train_variant)
from .markdown import mean_std
from .shapes import ShapesSpec
from .verdict import Verdict, verdict

SAMPLER = 'model.train_cfg.rcnn.sampler.'


class Variant(NamedTuple):
    """One row of the ablation.

    Attributes:
        base (str): The demo variant whose config it starts from
            (a name of :data:`mmohem_benchmark.SAMPLER_LABELS`).
        change (str): What differs from ``base``, for the table.
        options (dict): Config overrides (``--cfg-options`` style keys).
        regimes (tuple): The regimes it applies to.
    """
    base: str
    change: str
    options: dict = {}
    regimes: tuple = ('fast', 'faster')


RESEARCH = {SAMPLER + 'type': 'mmohem_benchmark.ResearchOHEMSampler'}
# the demo's regimes with a config per sampler (configs/shapes/)
ALL_REGIMES = ('fast', 'faster', 'cascade', 'oriented',
               'rotated_fast') + TREE_REGIMES

VARIANTS: Dict[str, Variant] = {
    'random':
    Variant(
        'random', 'RandomSampler (64 RoIs, 1:3 quota)', regimes=ALL_REGIMES),
    'mmdet_ohem':
    Variant('mmdet_ohem', "mmdet's built-in OHEMSampler", regimes=ALL_REGIMES),
    'mmohem':
    Variant(
        'mmohem',
        'mmohem default: pure OHEM, full loss, NMS 0.7, num 64',
        regimes=ALL_REGIMES),
    # a cascade's later stages mine the previous stage's refined RoIs
    'ohem_first_stage':
    Variant(
        'mmohem',
        'mmohem.OHEMSampler in the first stage only, RandomSampler in '
        'stages 2 and 3', {
            f'model.train_cfg.rcnn.{stage}.sampler':
            dict(
                _delete_=True,
                type='RandomSampler',
                num=64,
                pos_fraction=0.25,
                neg_pos_ub=-1,
                add_gt_as_proposals=True)
            for stage in (1, 2)
        },
        regimes=('cascade', )),
    'ratio':
    Variant('mmohem', 'ratio mode: pos_fraction=0.25',
            {SAMPLER + 'pos_fraction': 0.25}),
    'cls_only':
    Variant('mmohem', "rank by loss_cls only",
            {SAMPLER + 'loss_keys': ['loss_cls']}),
    'no_nms':
    Variant('mmohem', 'no NMS: nms_iou_thr=None',
            {SAMPLER + 'nms_iou_thr': None}),
    'train_mode':
    Variant(
        'mmohem', 'scoring in train mode (research-only sampler)',
        {SAMPLER + 'type': 'mmohem_benchmark.TrainModeScoringOHEMSampler'}),
    'num16':
    Variant('mmohem', 'num=16 of ~1000 candidates', {SAMPLER + 'num': 16}),
    'num32':
    Variant('mmohem', 'num=32', {SAMPLER + 'num': 32}),
    'num128':
    Variant('mmohem', 'num=128', {SAMPLER + 'num': 128}),
    # the other implementations' options (TF's HardExampleMiner)
    'box_weight2':
    Variant(
        'mmohem',
        'rank by loss_cls + 2 x loss_bbox: loss_weights=dict(loss_bbox=2.)',
        {SAMPLER + 'loss_weights': dict(loss_bbox=2.)},
        regimes=('fast', )),
    'min_neg48':
    Variant(
        'mmohem',
        'at least 48 of the 64 background: min_negatives=48',
        {SAMPLER + 'min_negatives': 48},
        regimes=('fast', )),
    'agnostic_nms':
    Variant(
        'mmohem',
        'class-agnostic NMS: class_agnostic_nms=True',
        {SAMPLER + 'class_agnostic_nms': True},
        regimes=('fast', )),
    # end-to-end remedies: bring back a pool worth mining
    'pool2000':
    Variant(
        'mmohem',
        'twice the train-time RPN proposals (2000 per image)', {
            'model.train_cfg.rpn_proposal.nms_pre': 4000,
            'model.train_cfg.rpn_proposal.max_per_img': 2000
        },
        regimes=('faster', )),
    'random_rois':
    Variant(
        'mmohem',
        '+1000 random boxes per image among the candidates', {
            **RESEARCH, SAMPLER + 'num_random_rois': 1000
        },
        regimes=('faster', )),
    'warmup':
    Variant('mmohem', 'random sampling (1:3) for the first 100 iterations', {
        **RESEARCH, SAMPLER + 'warmup_iters': 100
    }),
    'half_random':
    Variant('mmohem', 'half the budget hard, half random', {
        **RESEARCH, SAMPLER + 'random_fraction': 0.5
    }),
    # not one change: the two remedies that came closest, together
    'warmup_half':
    Variant(
        'mmohem',
        'warmup and half_random together', {
            **RESEARCH, SAMPLER + 'warmup_iters': 100,
            SAMPLER + 'random_fraction': 0.5
        },
        regimes=('faster', )),
}

# the rows' names before 0.2, accepted on the command line until 0.3
# (CHANGELOG.md), mapped to the names results are recorded under
OLD_NAMES = {'ohem': 'mmohem', 'mmdetohem': 'mmdet_ohem'}


def canonical_names(names: Sequence[str]) -> List[str]:
    """``names`` with the rows' old names replaced, saying so once."""
    renamed = [OLD_NAMES.get(name, name) for name in names]
    for old in sorted(set(names) & set(OLD_NAMES)):
        print(f'[ablate] {old!r} is now called {OLD_NAMES[old]!r}; the old '
              'name works until mmohem 0.3')
    return renamed


def load_results(path: str) -> dict:
    """``{regime: {variant: {seed: result}}}`` from ``path`` (empty if
    missing)."""
    if not osp.isfile(path):
        return {}
    with open(path) as f:
        return json.load(f)


def _save_run(path: str, regime: str, name: str, seed: int,
              result: dict) -> None:
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    # chunks may run at once: re-read and replace under one lock, or one
    # chunk's write would drop the run another wrote meanwhile
    with open(path + '.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        results = load_results(path)
        results.setdefault(regime, {}).setdefault(name, {})[str(seed)] = result
        tmp = f'{path}.{os.getpid()}.tmp'
        with open(tmp, 'w') as f:
            json.dump(results, f, indent=1, sort_keys=True)
        os.replace(tmp, path)


def run_ablation(names: Sequence[str],
                 regime: str,
                 seeds: Sequence[int],
                 iters: int,
                 work_dir: str,
                 results_path: str,
                 spec: Optional[ShapesSpec] = None,
                 force: bool = False,
                 eval_interval: Optional[int] = None) -> dict:
    """Train the named variants for every seed; skip runs already recorded.

    With ``eval_interval``, each run is evaluated (its AP curve) and
    checkpointed every so many iterations, and a run that was interrupted
    continues from its last checkpoint.

    Returns:
        dict: The results file's content after the runs.
    """
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise ValueError(f'unknown ablation variant(s) {unknown}; known: '
                         f"{', '.join(VARIANTS)}")
    elsewhere = [n for n in names if regime not in VARIANTS[n].regimes]
    if elsewhere:
        raise ValueError(f'variant(s) {elsewhere} apply to the '
                         f"{'/'.join(VARIANTS[elsewhere[0]].regimes)} "
                         f'regime only, not {regime!r}')
    spec = spec or ShapesSpec()
    data = osp.join(work_dir, 'data')
    prepare_data(spec, data, (regime, ))
    for seed in seeds:
        for name in names:
            done = load_results(results_path).get(regime, {}).get(name, {})
            old = done.get(str(seed))
            if old is not None and old['iters'] == iters and not force:
                print(f'[ablate] {regime} {name} seed {seed}: recorded, '
                      'skipped (--force reruns it)')
                continue
            variant = VARIANTS[name]
            result = train_variant(
                regime,
                variant.base,
                name,
                seed,
                iters,
                regime_data_root(regime, data),
                osp.join(work_dir, regime, name, f'seed{seed}'),
                options=variant.options,
                eval_interval=eval_interval,
                resume=eval_interval is not None)
            result['variant'] = name
            result.pop('log_dir', None)  # a path on this machine only
            _save_run(results_path, regime, name, seed, result)
            print(f"[ablate] {regime} {name} seed {seed}: "
                  f"AP {100 * result['AP']:.1f}, recorded in {results_path}")
    return load_results(results_path)


def markdown_name(regime: str, results_path: str) -> str:
    """Name of the markers a table goes between: ``ablation-fast`` for
    ablation.json, ``ablation-faster-h200`` for ablation_h200.json."""
    stem = osp.splitext(osp.basename(results_path))[0]
    if stem.startswith('ablation'):
        stem = stem[len('ablation'):].lstrip('_-')
    return f'ablation-{regime}' + (f'-{stem}' if stem else '')


def _machine(runs: List[dict]) -> str:
    """Where the runs ran: 'CPU, 2 threads', 'NVIDIA H200', ..."""
    names = []
    for run in runs:
        device = run.get('device', '?')
        if device == 'cpu':
            device = f"CPU, {run.get('threads', '?')} thr"
        if device not in names:
            names.append(device)
    return ' + '.join(names)


def _paired(runs: dict, ref: Optional[dict], key: str) -> List[float]:
    """Differences per seed, in points, over the seeds both rows ran: rows
    with more seeds than the reference are not compared against a different
    set of seeds."""
    return [
        100 * (runs[s][key] - ref[s][key]) for s in sorted(runs, key=int)
        if ref and s in ref
    ]


def _paired_cell(runs: dict, ref: Optional[dict]) -> str:
    """The mean paired difference of AP and its 90 % t-interval
    (:meth:`Verdict.cell`), or '' with no seed in common."""
    ap = _paired(runs, ref, 'AP')
    return verdict(ap, _paired(runs, ref, 'AP50')).cell() if ap else ''


def random_verdict(runs: dict, name: str) -> Optional[Verdict]:
    """The decision rule (:mod:`.verdict`) for row ``name`` of a regime's
    ``runs`` against RandomSampler; None for RandomSampler itself or with
    no seed in common."""
    random = runs.get('random')
    if name == 'random' or not random:
        return None
    ap = _paired(runs[name], random, 'AP')
    if not ap:
        return None
    return verdict(ap, _paired(runs[name], random, 'AP50'))


def ablation_table(results: dict,
                   regime: str,
                   names: Optional[Sequence[str]] = None) -> str:
    """Markdown table of one regime: mean ± std over the recorded seeds,
    per-seed AP, the differences of AP to mmohem's default and of AP and
    AP50 to RandomSampler (paired: the mean difference over the seeds both
    rows ran, with the 90 % t-interval of AP's), the decision rule's verdict
    against RandomSampler (:mod:`.verdict`), and the machine each row ran
    on."""
    runs = results.get(regime, {})
    names = [n for n in (names or VARIANTS) if runs.get(n)]
    default = runs.get('mmohem')
    # mmrotate's DOTAMetric has AP75 and no AP_small
    third = 'AP75' if regime in ORIENTED_REGIMES else 'AP_small'
    lines = [
        f'| variant | change from the default | seeds | AP | AP50 | {third} '
        '| AP per seed | Δ AP vs default (90 % CI) | Δ AP vs random (90 % CI) '
        '| Δ AP50 vs random | verdict vs random | machine |',
        '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ]
    for name in names:
        by_seed = [runs[name][s] for s in sorted(runs[name], key=int)]

        def col(key):
            return mean_std([100 * r[key] for r in by_seed])

        per_seed = ' / '.join(f"{100 * r['AP']:.1f}" for r in by_seed)
        seeds = ','.join(sorted(runs[name], key=int))
        vs_default = '' if name == 'mmohem' else _paired_cell(
            runs[name], default)
        rule = random_verdict(runs, name)
        vs_random, vs_random50, word = ('', '', '') if rule is None else (
            rule.cell(), f'{rule.ap50:+.1f}', rule.word)
        lines.append(f'| `{name}` | {VARIANTS[name].change} | {seeds} | '
                     f"{col('AP')} | {col('AP50')} | {col(third)} | "
                     f'{per_seed} | {vs_default} | {vs_random} | '
                     f'{vs_random50} | {word} | {_machine(by_seed)} |')
    return '\n'.join(lines)
