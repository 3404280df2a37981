"""``import mmohem`` checks versions and registers, and changes nothing else
in the process; the stack fixes are switched on one by one."""
import os
import socket
import subprocess
import sys

import pytest
import torch
from mmengine.utils import digit_version

# Run in a fresh interpreter: this test process has imported the fixes
# already (the shipped configs switch them on).
PROBE = '''
import sys, torch, torch.distributed as dist
from mmdet.datasets.base_det_dataset import BaseDetDataset
from mmengine.runner import CheckpointLoader
torch_load = torch.load
loader = CheckpointLoader._schemes['']
load_proposals = BaseDetDataset.load_proposals
for name in sys.argv[1:]:
    __import__(name)
print('process group:', dist.is_initialized())
print('torch.load replaced:', torch.load is not torch_load)
print('checkpoint loader replaced:',
      CheckpointLoader._schemes[''] is not loader)
print('load_proposals replaced:',
      BaseDetDataset.load_proposals is not load_proposals)
print('benchmark imported:', 'mmohem_benchmark' in sys.modules)
'''


def probe(*modules, env=None):
    proc = subprocess.run([sys.executable, '-c', PROBE, *modules],
                          capture_output=True,
                          text=True,
                          env=env,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return dict(
        line.split(': ') for line in proc.stdout.splitlines() if ': ' in line)


def torchrun_env():
    """What torchrun gives each of two processes (this one is rank 0; no
    rank 1 ever comes, so starting a process group would block)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    return dict(
        os.environ,
        RANK='0',
        LOCAL_RANK='0',
        WORLD_SIZE='2',
        MASTER_ADDR='127.0.0.1',
        MASTER_PORT=str(port),
        CUDA_VISIBLE_DEVICES='')


def test_plain_import_under_torchrun_changes_nothing_else():
    seen = probe('mmohem', 'mmohem.tools.cli', env=torchrun_env())
    assert seen == {
        'process group': 'False',
        'torch.load replaced': 'False',
        'checkpoint loader replaced': 'False',
        'load_proposals replaced': 'False',
        'benchmark imported': 'False',
    }


# torch < 2.6 loads checkpoints without an allowlist: nothing to fix there
RESTRICTED_LOAD = digit_version(torch.__version__) >= digit_version('2.6.0')


@pytest.mark.parametrize('fix, changed', [
    ('mmohem.fixes.safe_checkpoint',
     'checkpoint loader replaced' if RESTRICTED_LOAD else None),
    ('mmohem.fixes.proposal_file_check', 'load_proposals replaced'),
])
def test_each_fix_is_switched_on_by_its_import(fix, changed):
    seen = probe('mmohem', fix)
    # what the fix changes, and nothing besides
    assert [k for k, v in seen.items()
            if v == 'True'] == ([changed] if changed else [])
    assert seen['torch.load replaced'] == 'False'


def test_cpu_distributed_fix_starts_the_group_only_under_torchrun():
    assert probe('mmohem.fixes.cpu_distributed')['process group'] == 'False'
    # under torchrun it would wait for rank 1: shown end to end by
    # tests/test_distributed.py, which starts both ranks
