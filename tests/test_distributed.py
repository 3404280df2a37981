"""Two processes on CPU (gloo) with torchrun and mmdet's own train script."""
import glob
import json
import math
import os
import os.path as osp
import socket
import subprocess
import sys

import mmdet
import pytest
from mmengine.config import Config
from tiny_coco import cli_options, make_tiny_coco, shrink_options

from mmohem import config_path

TESTS = osp.dirname(osp.abspath(__file__))
TRAIN = osp.join(osp.dirname(mmdet.__file__), '.mim', 'tools', 'train.py')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


# the shipped config as it is (its custom_imports switch on the CPU fix),
# plus the probes
CPU_DDP_CONFIG = '''
_base_ = {base!r}
custom_imports = dict(imports={imports!r})
custom_hooks = [
    dict(type='RankLossProbe'),
    dict(type='SamplingProbe', write=True),
    dict(type='mmohem.MiningStatsHook'),
]
'''


def test_torchrun_two_cpu_processes_train_with_ohem(tmp_path):
    config = str(tmp_path / 'cpu_ddp.py')
    shipped = config_path('faster_rcnn_ohem_r50.py')
    imports = Config.fromfile(shipped).custom_imports.imports
    assert 'mmohem.fixes.cpu_distributed' in imports
    with open(config, 'w') as f:
        f.write(
            CPU_DDP_CONFIG.format(
                base=shipped, imports=imports + ['probe_hooks']))
    data = make_tiny_coco(str(tmp_path / 'data'), num_images=8)
    work_dir = str(tmp_path / 'work')
    options = shrink_options(Config.fromfile(config), data, work_dir)
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([TESTS,
                                    os.environ.get('PYTHONPATH', '')]),
        OMP_NUM_THREADS='1')
    proc = subprocess.run([
        sys.executable, '-m', 'torch.distributed.run', '--nnodes=1',
        '--nproc_per_node=2', f'--master_port={free_port()}', TRAIN, config,
        '--launcher', 'pytorch', '--cfg-options', *cli_options(options)
    ],
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert 'started a gloo process group (rank 0 of 2)' in log

    for rank in (0, 1):
        with open(osp.join(work_dir, f'rank{rank}_losses.jsonl')) as f:
            records = [json.loads(line) for line in f]
        # 8 images, 2 per batch per process: 2 iterations on each rank
        assert len(records) == 2
        for record in records:
            assert math.isfinite(record['loss'])
            assert math.isfinite(record['loss_cls'])

    # MiningStatsHook's line of each iteration (logger interval 1) is the
    # mean over both ranks' images, not rank 0's
    calls = []
    for rank in (0, 1):
        with open(osp.join(work_dir, f'rank{rank}_sampling.jsonl')) as f:
            calls.append([json.loads(line) for line in f])
    [scalars] = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    with open(scalars) as f:
        lines = [line for line in map(json.loads, f) if 'loss' in line]
    assert len(lines) == 2
    differs = []
    for i, line in enumerate(lines):
        images = calls[0][i] + calls[1][i]
        assert len(images) == 4
        for key in ('num_candidates', 'fg_fraction', 'loss_all'):
            want = sum(c[key] for c in images) / len(images)
            assert line[f'ohem_{key}'] == pytest.approx(want, rel=1e-4), key
        rank0 = sum(c['num_candidates'] for c in calls[0][i]) / 2
        differs.append(rank0 != line['ohem_num_candidates'])
    # rank 0's own mean is not what was logged (this run tells them apart)
    assert any(differs)
