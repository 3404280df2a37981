"""`mmohem demo` and `mmohem ablate` on a smoke budget (a few iterations on
a small generated set): the table, the results and the pictures exist and
hold finite numbers (smoke tests: they check that the pipeline runs end to
end, not what it measures), and the ablation's bookkeeping."""
import glob
import json
import math
import os.path as osp
import subprocess
import sys

import pytest
from mmcv import imread

from mmohem.tools.cli import main
from mmohem_benchmark.ablation import ablation_table, markdown_name
from mmohem_benchmark.demo import VARIANTS as DEMO_VARIANTS

MMOHEM = osp.join(osp.dirname(sys.executable), 'mmohem')
# the smoke budget: a logged line per run and mined RoIs drawn (every
# iters // 4 iterations), on one epoch of 8 training images and 4
# validation images
ITERS = 2


def test_demo_smoke_budget(tmp_path):
    # the installed console script, as users call it
    work_dir = tmp_path / 'demo'
    proc = subprocess.run([
        MMOHEM, 'demo', '--iters',
        str(ITERS), '--num-train', '8', '--num-val', '4', '--work-dir',
        str(work_dir)
    ],
                          capture_output=True,
                          text=True,
                          timeout=1800)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    # progress was visible while it ran
    assert ('[fast | mmohem.OHEMSampler | seed 0] '
            f'Iter(train) [{ITERS}/{ITERS}]') in out
    rows = [line for line in out.splitlines() if line.startswith('| fast |')]
    assert [r.split('|')[2].strip() for r in rows] == [
        'RandomSampler', "mmdet's OHEMSampler", 'mmohem.OHEMSampler'
    ]
    for row in rows:
        numbers = [float(x) for x in row.split('|')[3:8]]
        assert all(math.isfinite(x) and x >= 0 for x in numbers)

    with open(work_dir / 'results.json') as f:
        results = json.load(f)
    labels = dict(DEMO_VARIANTS)
    for variant, runs in results['fast'].items():
        assert len(runs) == 1 and runs[0]['iters'] == ITERS
        # AP, AP50 and AP75 recorded as the evaluator printed them
        label = labels[variant]
        printed = [
            line.split('copypaste: ')[1].split()[:3]
            for line in out.splitlines()
            if line.startswith(f'[fast | {label} | seed 0] bbox_mAP_copypaste')
        ]
        assert printed == [[
            f'{runs[0][key]:.3f}' for key in ('AP', 'AP50', 'AP75')
        ]], label
        assert math.isfinite(runs[0]['AP']) and runs[0]['AP'] >= 0
        assert len(runs[0]['loss']) == ITERS
        assert all(math.isfinite(v) for v in runs[0]['loss'])
    for picture in ('summary.png', 'mined_rois.png'):
        image = imread(str(work_dir / picture))
        assert image is not None and image.shape[0] > 200
        assert image.std() > 10  # not a blank canvas


def test_ablate_records_a_row_applies_its_change_and_skips_it_next_time(
        tmp_path, capsys):
    """`mmohem ablate` run here (each run trains in a process of its own,
    started by the command, as in the demo), in the end-to-end regime
    (Faster R-CNN, pure OHEM; the demo's smoke run covers the Fast R-CNN
    one): two iterations with finite losses, the mining statistics
    recorded."""
    results = tmp_path / 'ablation.json'
    args = [
        'ablate', 'num32', '--seed', '0', '--iters', '2', '--num-train', '4',
        '--num-val', '2', '--work-dir',
        str(tmp_path / 'work'), '--results',
        str(results), '--regime', 'faster'
    ]
    assert main(args) == 0, capsys.readouterr().out[-3000:]
    with open(results) as f:
        run = json.load(f)['faster']['num32']['0']
    assert run['iters'] == 2 and run['variant'] == 'num32'
    assert run['device'] == 'cpu' and run['threads'] >= 1
    assert math.isfinite(run['AP'])
    assert len(run['loss']) == 2
    assert all(math.isfinite(v) for v in run['loss'])
    assert run['mining']['num_selected'] == 32  # the row's change
    assert run['mining']['num_candidates'] > 32
    dumped = glob.glob(
        str(tmp_path / 'work' / 'faster' / 'num32' / 'seed0' / '*.py'))
    assert 'num=32' in open(dumped[0]).read()

    capsys.readouterr()
    assert main(args) == 0
    again = capsys.readouterr().out
    assert 'recorded, skipped' in again
    assert '| `num32` | num=32 | 0 |' in again

    with pytest.raises(
            ValueError, match="apply to the faster regime only, not 'fast'"):
        main(args[:1] + ['pool2000'] + args[2:-2] + ['--regime', 'fast'])


def _run(ap, ap50, device='cpu', threads=2):
    return dict(
        AP=ap / 100,
        AP50=ap50 / 100,
        AP_small=0.1,
        device=device,
        threads=threads)


def _table_rows(results):
    """The faster regime's table as ``{variant cell: [other cells]}``."""
    return {
        line.split('|')[1].strip(): [c.strip() for c in line.split('|')[2:-1]]
        for line in ablation_table(results, 'faster').splitlines()[2:]
    }


def test_ablation_table_deltas_to_default_and_random_and_the_machine():
    results = {
        'faster': {
            'random': {
                '0': _run(20, 30),
                '1': _run(22, 32)
            },
            'mmohem': {
                '0': _run(21, 27),
                '1': _run(23, 29)
            },
            'warmup': {
                '1': _run(24, 33, threads=1),
                '0': _run(25, 30, device='NVIDIA H200')
            },
        }
    }
    rows = _table_rows(results)
    assert list(rows) == ['`random`', '`mmohem`', '`warmup`']
    # mean AP 24.5 (seeds in order 0, 1), AP50 31.5; paired differences
    # +4 and +1 against the default, +5 and +2 against random: mean ±
    # t(0.95, 1) * 2.12 / sqrt(2) = 9.47 -- straddling zero, at least 1 AP,
    # 2 seeds: more seeds
    assert rows['`warmup`'][1:] == [
        '0,1', '24.5 ± 0.7', '31.5 ± 2.1', '10.0 ± 0.0', '25.0 / 24.0',
        '+2.5 (-7.0, +12.0)', '+3.5 (-6.0, +13.0)', '+0.5', 'more seeds',
        'NVIDIA H200 + CPU, 1 thr'
    ]
    # +1 AP on both seeds, but AP50 lower: no gain shown
    assert rows['`mmohem`'][6:10] == [
        '', '+1.0 (+1.0, +1.0)', '-3.0', 'no gain shown'
    ]
    assert rows['`random`'][6:10] == ['-1.0 (-1.0, -1.0)', '', '', '']


def test_ablation_table_deltas_are_paired_over_the_shared_seeds():
    # seed 2 of half_random has no RandomSampler run to compare with: the
    # deltas use seeds 0 and 1 only (+1.0 AP, +0.5 AP50), not the means over
    # different seeds (+4.7 AP)
    results = {
        'faster': {
            'random': {
                '0': _run(20, 30),
                '1': _run(22, 32)
            },
            'half_random': {
                '0': _run(21, 31),
                '1': _run(23, 32),
                '2': _run(33, 40)
            },
            'warmup': {
                '5': _run(25, 30)
            },
        }
    }
    rows = _table_rows(results)
    assert rows['`half_random`'][2] == '25.7 ± 6.4'
    assert rows['`half_random`'][6:10] == [
        '', '+1.0 (+1.0, +1.0)', '+0.5', 'pays'
    ]
    # nothing shared, nothing compared
    assert rows['`warmup`'][6:10] == ['', '', '', '']


def test_oriented_ablation_table_reports_dotas_ap75():
    oriented = dict(AP=0.30, AP50=0.60, AP75=0.25, AP_small=None)
    results = {
        'rotated_fast': {
            'random': {
                '0': dict(oriented, device='cpu', threads=2)
            },
            'mmohem': {
                '0':
                dict(oriented, AP=0.32, AP75=0.29, device='cpu', threads=2)
            },
        }
    }
    lines = ablation_table(results, 'rotated_fast').splitlines()
    assert lines[0].split('|')[4:7] == [' AP ', ' AP50 ', ' AP75 ']
    mmohem = [c.strip() for c in lines[3].split('|')[1:-1]]
    assert mmohem[3:6] == ['32.0', '60.0', '29.0']  # one seed: no spread
    assert mmohem[8] == '+2.0'  # AP vs RandomSampler


def test_ablation_markers_are_named_after_the_results_file():
    assert markdown_name('fast', 'benchmarks/results/ablation.json') == \
        'ablation-fast'
    assert markdown_name('faster', 'x/ablation_h200.json') == \
        'ablation-faster-h200'
    assert markdown_name('fast', 'mine.json') == 'ablation-fast-mine'


def _record_runs(path: str, regime: str, seeds: range, start) -> None:
    from mmohem_benchmark.ablation import _save_run
    start.wait()
    for seed in seeds:
        _save_run(path, regime, 'mmohem', seed, {'AP': seed / 100})


def test_ablation_chunks_running_at_once_keep_each_others_runs(tmp_path):
    import multiprocessing
    path = str(tmp_path / 'ablation.json')
    ctx = multiprocessing.get_context('spawn')
    start = ctx.Barrier(2)
    chunks = [
        ctx.Process(
            target=_record_runs, args=(path, regime, range(200), start))
        for regime in ('fast', 'faster')
    ]
    for chunk in chunks:
        chunk.start()
    for chunk in chunks:
        chunk.join(timeout=120)
        assert chunk.exitcode == 0
    with open(path) as f:
        results = json.load(f)
    for regime in ('fast', 'faster'):
        assert sorted(map(int, results[regime]['mmohem'])) == list(range(200))
        assert results[regime]['mmohem']['199'] == {'AP': 1.99}
