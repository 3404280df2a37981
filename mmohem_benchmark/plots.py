"""The demo's pictures: loss curves and AP bars; a gallery of mined RoIs."""
import glob
import os.path as osp
import re
import statistics
from typing import Dict, List, Sequence, Tuple

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
from mmcv import imread  # noqa: E402

METRICS = (('AP', 'AP'), ('AP50', 'AP50'), ('AP_small', 'AP small'))


def _smooth(values: List[float], window: int = 20) -> List[float]:
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def draw_summary(results: Dict[str, Dict[str, List[dict]]],
                 variants: Sequence[Tuple[str, str]], path: str) -> str:
    """One row per regime: training loss (first seed, smoothed) and AP bars
    (mean over seeds, error bars one standard deviation)."""
    regimes = list(results)
    fig, axes = plt.subplots(
        len(regimes), 2, figsize=(11, 4 * len(regimes)), squeeze=False)
    for row, regime in zip(axes, regimes):
        for variant, label in variants:
            loss = results[regime][variant][0]['loss']
            row[0].plot(range(1, len(loss) + 1), _smooth(loss), label=label)
        row[0].set(
            title=f'{regime}: training loss on each sampler\'s own RoIs '
            f"(smoothed, seed {results[regime][variants[0][0]][0]['seed']})",
            xlabel='iteration',
            ylabel='loss')
        row[0].legend()
        width = 0.8 / len(variants)
        for i, (variant, label) in enumerate(variants):
            runs = results[regime][variant]
            means, errs = [], []
            for key, _ in METRICS:
                # DOTAMetric has no AP_small
                values = [100 * (r[key] or 0) for r in runs]
                means.append(statistics.mean(values))
                errs.append(statistics.stdev(values) if len(values) > 1 else 0)
            xs = [
                m + (i - (len(variants) - 1) / 2) * width
                for m in range(len(METRICS))
            ]
            row[1].bar(xs, means, width, yerr=errs, capsize=3, label=label)
        row[1].set_xticks(range(len(METRICS)), [m[1] for m in METRICS])
        row[1].set(
            title=f'{regime}: AP on val ({len(runs)} seed(s))',
            ylabel='AP (%)')
        row[1].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def draw_gallery(runs: Sequence[Tuple[str, str]],
                 path: str,
                 per_run: int = 4) -> str:
    """The mined-RoI pictures MiningStatsHook saved, the latest ``per_run``
    of each ``(title, log_dir)`` run (foreground green, background red)."""
    rows = []
    for title, log_dir in runs:
        found = glob.glob(
            osp.join(log_dir, 'vis_data', 'vis_image', 'ohem_mined_rois_*'))
        steps = sorted(found, key=lambda p: int(re.findall(r'\d+', p)[-1]))
        rows.append((title, steps[-per_run:]))
    cols = max([len(images) for _, images in rows] + [1])
    fig, axes = plt.subplots(
        len(rows), cols, figsize=(3 * cols, 3.2 * len(rows)), squeeze=False)
    for (title, images), row in zip(rows, axes):
        for ax in row:
            ax.axis('off')
        for ax, image in zip(row, images):
            ax.imshow(imread(image, channel_order='rgb'))
            step = re.findall(r'\d+', osp.basename(image))[-1]
            ax.set_title(f'{title}: iteration {step}', fontsize=9)
    fig.suptitle('RoIs mined by mmohem.OHEMSampler '
                 '(green: foreground, red: background)')
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def draw_ablation(results: dict, regime: str, names: Sequence[str],
                  path: str) -> str:
    """AP of each recorded ablation variant of ``regime``: mean over seeds
    (bar), one standard deviation (error bar) and every seed (dots)."""
    runs = results.get(regime, {})
    names = [n for n in names if runs.get(n)]
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(names) + 2), 4.5))
    for x, name in enumerate(names):
        values = [100 * r['AP'] for r in runs[name].values()]
        err = statistics.stdev(values) if len(values) > 1 else 0
        # mmohem's default, the two baselines, the changes from the default
        colour = 'tab:green' if name == 'mmohem' else ('tab:gray' if name in (
            'random', 'mmdet_ohem') else 'tab:blue')
        ax.bar(
            x, statistics.mean(values), 0.7, yerr=err, capsize=3, color=colour)
        ax.plot([x] * len(values), values, 'k.', markersize=4)
    if runs.get('random'):
        ax.axhline(
            statistics.mean(100 * r['AP'] for r in runs['random'].values()),
            color='tab:gray',
            linestyle='--',
            linewidth=1,
            label='RandomSampler (mean)')
        ax.legend(loc='lower right', fontsize=8)
    ax.set_xticks(
        range(len(names)), names, rotation=30, ha='right', fontsize=8)
    ax.set(
        title=f'{regime}: COCO AP on val, mean ± std over seeds '
        '(dots: seeds)',
        ylabel='AP (%)')
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def draw_curves(results: dict, regime: str, names: Sequence[str],
                path: str) -> str:
    """AP and AP50 on val against the iteration, one line per recorded run
    of ``regime`` that has a curve (colour: variant; AP solid, AP50
    dashed)."""
    runs = results.get(regime, {})
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharex=True)
    for colour, name in zip(plt.rcParams['axes.prop_cycle'].by_key()['color'],
                            [n for n in names if runs.get(n)]):
        for i, seed in enumerate(sorted(runs[name], key=int)):
            curve = runs[name][seed].get('curve') or []
            iters = [p['iter'] for p in curve]
            for ax, key in zip(axes, ('AP', 'AP50')):
                ax.plot(
                    iters, [100 * p[key] for p in curve],
                    color=colour,
                    marker='.',
                    label=name if i == 0 else None)
    for ax, key in zip(axes, ('AP', 'AP50')):
        ax.set(
            title=f'{regime}: {key} on val during training',
            xlabel='iteration',
            ylabel=f'{key} (%)')
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
