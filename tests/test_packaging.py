"""The configs ship in the sdist and the wheel, and a downstream repository
inherits them from a plain (non-editable) install, outside the checkout."""
import glob
import os
import os.path as osp
import shutil
import subprocess
import sys
import tarfile
import zipfile

import pytest
from mmengine.config import Config
from tiny_coco import cli_options, shrink_options

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
MIM = osp.join(osp.dirname(sys.executable), 'mim')
SHIPPED = 'mmohem/.mim/configs/faster_rcnn_ohem_r50.py'

DOWNSTREAM_CONFIG = """\
# A downstream project's config: inherit mmohem's, change a few fields.
_base_ = __import__('mmohem').config_path('faster_rcnn_ohem_r50.py')

model = dict(
    roi_head=dict(bbox_head=dict(num_classes=20)),
    train_cfg=dict(rcnn=dict(sampler=dict(num=64, nms_iou_thr=0.5))))
"""


def run(cmd, **kwargs):
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=600, **kwargs)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    return proc.stdout + proc.stderr


def build(backend_call, cwd, out_dir):
    """Run a PEP 517 hook of setuptools (no network, no isolation)."""
    os.makedirs(out_dir, exist_ok=True)
    code = ('from setuptools import build_meta as b; '
            f'print("built:", b.{backend_call}({out_dir!r}))')
    out = run([sys.executable, '-c', code], cwd=cwd)
    return osp.join(out_dir, out.split('built: ')[-1].split()[0])


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    """sdist from a copy of the checkout, wheel from that sdist, installed
    with ``pip install --target``: what a user without a checkout gets."""
    tmp = tmp_path_factory.mktemp('packaging')
    src = tmp / 'src'
    shutil.copytree(
        REPO,
        src,
        symlinks=True,
        # not the virtual environments: the downstream one alone is
        # gigabytes, and the sdist takes nothing from them
        ignore=shutil.ignore_patterns('.venv*', '.git', '*.egg-info', 'build',
                                      'dist', 'work_dirs', '__pycache__',
                                      '.pytest_cache', '.dist_test'))
    sdist = build('build_sdist', str(src), str(tmp / 'sdist'))
    with tarfile.open(sdist) as tar:
        tar.extractall(tmp / 'unpacked')
        members = tar.getnames()
    unpacked = glob.glob(str(tmp / 'unpacked' / 'mmohem-*'))[0]
    wheel = build('build_wheel', unpacked, str(tmp / 'wheel'))
    site = tmp / 'site'
    run([
        sys.executable, '-m', 'pip', 'install', '-q', '--no-deps',
        '--no-index', '--target',
        str(site), wheel
    ])
    return dict(members=members, wheel=wheel, site=str(site))


def test_sdist_and_wheel_carry_the_configs(installed):
    assert any(m.endswith(SHIPPED) for m in installed['members'])
    # the licence, the changes and how to cite, beside the code
    for name in ('LICENSE', 'CHANGELOG.md', 'CITATION.cff'):
        assert any(m.endswith('/' + name) for m in installed['members']), name
    with zipfile.ZipFile(installed['wheel']) as whl:
        names = whl.namelist()
    for name in ('faster_rcnn_ohem_r50.py', 'cascade_rcnn_ohem_r50.py',
                 'faster_rcnn_random_r50_voc0712.py',
                 'shapes/fast_rcnn_mmohem_r18_shapes.py',
                 'shapes/_base_/fast_rcnn_r18_shapes.py'):
        assert f'mmohem/.mim/configs/{name}' in names
    # the product's folders and the benchmark behind `mmohem demo`
    for module in ('mmohem/fixes/safe_checkpoint.py', 'mmohem/tools/cli.py',
                   'mmohem/samplers/ohem_sampler.py',
                   'mmohem_benchmark/demo.py'):
        assert module in names
    # real files, not a link back into a checkout
    shipped = osp.join(installed['site'], SHIPPED)
    assert osp.isfile(shipped) and not osp.islink(osp.dirname(shipped))


def test_downstream_config_inherits_from_installed_package(
        installed, tiny_coco, tmp_path):
    downstream = tmp_path / 'downstream'
    (downstream / 'configs').mkdir(parents=True)
    (downstream / 'configs' / 'my_ohem.py').write_text(DOWNSTREAM_CONFIG)
    env = dict(os.environ, PYTHONPATH=installed['site'])

    where = run(
        [sys.executable, '-c', 'import mmohem; print(mmohem.__file__)'],
        cwd=downstream,
        env=env)
    assert where.strip().startswith(installed['site'])

    data = tiny_coco
    work_dir = str(tmp_path / 'work')
    # the values the tiny run overrides come from the downstream config
    cfg = Config.fromfile(str(downstream / 'configs' / 'my_ohem.py'))
    options = shrink_options(cfg, data, work_dir)
    log = run([
        MIM, 'train', 'mmdet', 'configs/my_ohem.py', '--gpus', '0',
        '--cfg-options', *cli_options(options)
    ],
              cwd=downstream,
              env=env)
    assert 'Epoch(train) [1][2/2]' in log, log[-3000:]

    dumped = Config.fromfile(osp.join(work_dir, 'my_ohem.py'))
    sampler = dumped.model.train_cfg.rcnn.sampler
    assert sampler.type == 'mmohem.OHEMSampler'
    assert (sampler.num, sampler.nms_iou_thr) == (64, 0.5)
    assert sampler.loss_keys == ('loss_cls', 'loss_bbox')  # inherited
    assert dumped.model.roi_head.bbox_head.num_classes == 20
    assert dumped.custom_imports.imports == [
        'mmohem', 'mmohem.fixes.safe_checkpoint',
        'mmohem.fixes.cpu_distributed'
    ]
