import importlib
import os
import subprocess
import sys

import pytest
from helpers import build_roi_head
from mmdet.models.task_modules.samplers import OHEMSampler as MMDetOHEM
from mmdet.registry import TASK_UTILS

import mmohem
from mmohem import version_check
from mmohem.version_check import SUPPORTED, check_versions


def test_scoped_name_builds_mmohem_sampler_through_mmdet_registry():
    head = build_roi_head()  # train_cfg.sampler type='mmohem.OHEMSampler'
    sampler = TASK_UTILS.build(
        dict(type='mmohem.OHEMSampler', num=100),
        default_args=dict(context=head))
    assert type(sampler) is mmohem.OHEMSampler
    assert type(head.bbox_sampler) is mmohem.OHEMSampler
    assert sampler.num == 100 and sampler.pos_fraction is None
    assert sampler.nms_iou_thr == 0.7
    assert sampler.loss_keys == ('loss_cls', 'loss_bbox')
    assert sampler.bbox_head is head.bbox_head


def test_bare_name_still_builds_mmdet_sampler():
    head = build_roi_head()
    sampler = TASK_UTILS.build(
        dict(type='OHEMSampler', num=512, pos_fraction=0.25),
        default_args=dict(context=head))
    assert type(sampler) is MMDetOHEM


def test_versions_are_read_from_the_installed_metadata():
    # what the packages' metadata says is what the imported packages say
    installed = check_versions()
    for package in SUPPORTED:
        module = importlib.import_module(package)
        assert installed[package] == module.__version__, package


@pytest.mark.parametrize('package,version', [('mmdet', '3.2.0'),
                                             ('mmdet', '3.4.0'),
                                             ('mmcv', '2.2.0'),
                                             ('mmengine', '0.9.1')])
def test_version_guard_rejects_unsupported(monkeypatch, package, version):
    real = version_check.installed_version
    monkeypatch.setattr(version_check, 'installed_version', lambda p: version
                        if p == package else real(p))
    low, high = SUPPORTED[package]
    with pytest.raises(ImportError) as err:
        check_versions()
    assert f'{package} {version} is installed' in str(err.value)
    assert f'{package}>={low},<{high}' in str(err.value)


def test_import_names_an_unsupported_mmcv_before_mmdet_can_assert(tmp_path):
    """With mmcv 2.2 installed, mmdet's own import stops at an assertion;
    mmohem reads the versions without importing, so the user sees mmohem's
    message (the package, its version, the range, the install command)."""
    info = tmp_path / 'mmcv-2.2.0.dist-info'
    info.mkdir()
    (info / 'METADATA'
     ).write_text('Metadata-Version: 2.1\nName: mmcv\nVersion: 2.2.0\n')
    code = ('import sys\n'
            'try:\n'
            '    import mmohem\n'
            'except ImportError as e:\n'
            '    print(e)\n'
            "print('mmdet imported:', 'mmdet' in sys.modules)\n")
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(
            [str(tmp_path), os.environ.get('PYTHONPATH', '')]))
    proc = subprocess.run([sys.executable, '-c', code],
                          capture_output=True,
                          text=True,
                          env=env)
    assert proc.returncode == 0, proc.stderr
    assert 'mmcv 2.2.0 is installed but mmohem supports mmcv>=2.0.0,<2.2.0' \
        in proc.stdout
    assert 'mim install' in proc.stdout
    assert 'mmdet imported: False' in proc.stdout
