"""Every script under benchmarks/ runs with the smallest budget it accepts
and writes the figures it promises, so that none breaks unseen. These are
smoke runs: their figures are not measurements (docs/benchmarks.md gives
the commands that measure). Scripts that need mmrotate run on the
downstream stack; the others on the main stack."""
import importlib.util
import json
import math
import os
import os.path as osp
import subprocess
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
HAS_MMROTATE = importlib.util.find_spec('mmrotate') is not None
main_stack = pytest.mark.skipif(
    HAS_MMROTATE, reason='runs on the main stack (tools/run_tests.sh)')
needs_mmrotate = pytest.mark.skipif(
    not HAS_MMROTATE, reason='needs mmrotate (the downstream stack)')


def run(command, **env):
    """Run ``command`` in the repository, one torch thread; its output."""
    proc = subprocess.run(
        command,
        cwd=ROOT,
        env=dict(os.environ, OMP_NUM_THREADS='1', **env),
        capture_output=True,
        text=True)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    return proc.stdout


def load(path):
    with open(path) as f:
        record = json.load(f)
    assert record['provenance']['commit']  # what produced it
    return record


def seconds(summary):
    """A timing summary's median, checked to be a time."""
    assert summary['n'] >= 1
    assert 0 < summary['median'] < 600
    return summary['median']


def script(name, *args):
    return [sys.executable, osp.join('benchmarks', name), *args]


@main_stack
def test_gpu_all_runs_every_step_that_needs_no_gpu(tmp_path):
    out = run(['bash', 'benchmarks/gpu_all.sh',
               str(tmp_path), 'smoke'],
              DEVICE='cpu',
              SMOKE='1',
              PYTHON=sys.executable)
    overhead = load(tmp_path / 'sampler_overhead_smoke.json')
    for key in ('random_s', 'mmdet_ohem_s', 'mmohem_s', 'limit_s'):
        assert 0 < overhead[key] < 600, key
    seconds(overhead['sampler_calls']['mmohem'])
    # the agreement part, CPU against itself: the same selection
    for image in load(tmp_path /
                      'gpu_check_smoke.json')['agreement']['images']:
        assert image['same_selected'] == image['selected'] > 0
        assert image['max_abs_loss_diff'] == 0
    nms = load(tmp_path / 'rotated_nms_smoke.json')['seconds']
    assert set(nms) == {
        'mmohem rotated_nms', 'mmohem horizontal_nms', "mmcv's nms_rotated"
    }
    for summary in nms.values():
        seconds(summary)
    # without mmrotate its rotated step says so (test_rotated_sample runs
    # the script on the downstream stack)
    assert not (tmp_path / 'rotated_sample_smoke.json').exists()
    assert 'rotated_sample.py skipped: mmrotate is not installed' in out
    # no step needs a GPU in this mode
    assert not (tmp_path / 'sampler_overhead_smoke_amp.json').exists()


@main_stack
def test_sampler_calls(tmp_path):
    run(
        script('sampler_calls.py', '--size', '256', '256', '--reps', '2',
               '--warmup', '1', '--out', str(tmp_path / 'calls.json')))
    calls = load(tmp_path / 'calls.json')
    beyond = calls['aten_calls_beyond_forward']
    assert beyond['mmohem'] > calls['nms_op_aten_calls'] > 0
    assert beyond['mmdet_ohem'] > 0
    for name in ('mmdet_ohem', 'mmohem', 'nms'):
        seconds(calls['standin_seconds'][name])
    assert 0 < calls['standin_ratio'] < 1000


@main_stack
def test_scaling(tmp_path):
    run(
        script('scaling.py', '--rois', '500', '--classes', '20',
               '--unchunked-up-to', '500', '--reps', '1', '--device', 'cpu',
               '--out', str(tmp_path / 'scaling.json')))
    points = load(tmp_path / 'scaling.json')['points']
    assert [(p['rois'], p['classes'], p['chunk_size'])
            for p in points] == [(500, 20, 2048), (500, 20, None)]
    for point in points:
        seconds(point['time'])
        assert point['peak_extra_mib'] > 0


@needs_mmrotate
def test_rotated_sample(tmp_path):
    run(
        script('rotated_sample.py', '--reps', '1', '--case', 'shapes',
               '--device', 'cpu', '--out', str(tmp_path / 'sample.json')))
    [row] = load(tmp_path / 'sample.json')['rows']
    assert row['case'] == 'shapes' and row['num_examined'] > 0
    assert math.isfinite(row['nms_share'])
    for key in ('sample_nms', 'sample_no_nms', 'mmcv_nms_rotated_all'):
        assert 0 < row['median'][key] < 600, key


@needs_mmrotate
def test_oriented_step(tmp_path):
    run(
        script('oriented_step.py', '--iters', '2', '--num-train', '4',
               '--num-val', '2', '--out', str(tmp_path / 'step.json')))
    rows = load(tmp_path / 'step.json')['rows']
    assert set(rows) == {'random', 'mmdet_ohem', 'mmohem'}
    assert rows['random']['vs_random'] == 1
    for row in rows.values():
        assert 0 < row['s_per_iter'] < 600
    assert rows['mmohem']['mining']['num_selected'] > 0


# the scripts gpu_all.sh runs (test_gpu_all_runs_every_step_that_needs_no_gpu)
GPU_ALL_STEPS = ('sampler_overhead.py', 'gpu_check.py', 'rotated_nms.py',
                 'rotated_sample.py')


def test_every_script_is_run_here():
    """A new script under benchmarks/ needs its smoke run in this file, or
    a step in gpu_all.sh."""
    with open(osp.join(ROOT, 'benchmarks', 'gpu_all.sh')) as f:
        gpu_all = f.read()
    for name in GPU_ALL_STEPS:
        assert f'benchmarks/{name}' in gpu_all, name
    with open(__file__) as f:
        here = f.read()
    for name in sorted(os.listdir(osp.join(ROOT, 'benchmarks'))):
        if name.endswith(('.py', '.sh')) and name != 'bench_utils.py':
            assert name in GPU_ALL_STEPS or f"'{name}'" in here, name
