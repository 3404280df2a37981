"""``import mmohem`` checks versions and registers, and changes nothing else
in the process; the stack fixes are switched on one by one."""
import ast
import glob
import os
import os.path as osp
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


def torchrun_env(world_size=2):
    """What torchrun gives rank 0 of ``world_size`` processes; with more
    than one, no other rank ever comes, so starting a process group would
    block."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    return dict(
        os.environ,
        RANK='0',
        LOCAL_RANK='0',
        WORLD_SIZE=str(world_size),
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
    # torchrun with one process: the group starts without waiting for
    # another rank (two ranks training: tests/test_distributed.py)
    under_torchrun = probe(
        'mmohem.fixes.cpu_distributed', env=torchrun_env(world_size=1))
    assert under_torchrun['process group'] == 'True'


REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
# what each part of mmohem must not import: the arrows point one way, from
# the command line to the tools, the hooks and the samplers, and the
# benchmark adds its commands from outside (its entry point)
NOT_IMPORTED = [
    ('mmohem', 'mmohem_benchmark'),
    ('mmohem/hooks', 'mmohem.tools'),
    ('mmohem/sampler_configs.py', 'mmohem.tools'),
    ('mmohem/sampler_configs.py', 'mmohem.hooks'),
    ('mmohem/samplers', 'mmohem.tools'),
    ('mmohem/samplers', 'mmohem.hooks'),
]


def imported(path):
    """Every module that the source file ``path`` (in the checkout)
    imports, relative imports made absolute."""
    package = osp.relpath(osp.dirname(path), REPO).split(osp.sep)
    with open(path) as f:
        tree = ast.parse(f.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            parts = package[:len(package) + 1 - node.level]
            if not node.level:
                parts = []
            module = '.'.join(parts + [node.module] if node.module else parts)
            yield module
            # `from .. import tools` imports a module too
            yield from (f'{module}.{alias.name}' for alias in node.names)


@pytest.mark.parametrize('part, forbidden', NOT_IMPORTED)
def test_imports_point_one_way(part, forbidden):
    where = osp.join(REPO, part)
    files = [where] if where.endswith('.py') else glob.glob(
        osp.join(where, '**', '*.py'), recursive=True)
    assert files
    wrong = sorted({
        (osp.relpath(path, REPO), module)
        for path in files
        for module in imported(path)
        if module == forbidden or module.startswith(forbidden + '.')
    })
    assert wrong == []


def test_the_benchmark_adds_its_commands_to_mmohem(capsys):
    from mmohem.tools.cli import main
    with pytest.raises(SystemExit) as exit:
        main(['--help'])
    assert exit.value.code == 0
    usage = capsys.readouterr().out
    assert '{info,configs,convert,demo,ablate,sweep}' in usage
