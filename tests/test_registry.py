import importlib
import os
import re
import subprocess
import sys

import pytest
from helpers import build_roi_head
from mmdet.models.task_modules.samplers import OHEMSampler as MMDetOHEM
from mmdet.registry import TASK_UTILS
from packaging.version import Version

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


def fake_versions(monkeypatch, **versions):
    """Make the version guard read ``versions`` (the others as installed)."""
    real = version_check.installed_version
    monkeypatch.setattr(version_check, 'installed_version',
                        lambda p: versions.get(p) or real(p))


@pytest.mark.parametrize('package,version,bounds', [
    ('mmdet', '2.28.2', '>=3.0.0,<3.4.0'),
    ('mmdet', '3.4.0', '>=3.0.0,<3.4.0'),
    ('mmengine', '0.7.0', '>=0.7.1,<1.0.0'),
    ('mmengine', '1.0.0', '>=0.7.1,<1.0.0'),
])
def test_version_guard_rejects_unsupported(monkeypatch, package, version,
                                           bounds):
    fake_versions(monkeypatch, **{package: version})
    with pytest.raises(ImportError) as err:
        check_versions()
    assert str(err.value).startswith(
        f'{package} {version} is installed but mmohem supports '
        f'{package}{bounds}. ')
    assert 'bootstrap.sh' in str(err.value)


@pytest.mark.parametrize(
    'mmdet,mmcv,accepted',
    [
        ('3.0.0', '2.0.0rc4', True),
        ('3.1.0', '2.0.1', True),
        ('3.1.0', '2.1.0', False),  # mmdet 3.0/3.1 assert mmcv<2.1.0
        ('3.2.0', '2.1.0', True),
        ('3.3.0', '2.1.0', True),
        ('3.3.0', '2.2.0', False),
        ('3.3.0', '1.7.2', False),
    ])
def test_mmcv_is_checked_against_the_installed_mmdets_own_range(
        monkeypatch, mmdet, mmcv, accepted):
    fake_versions(monkeypatch, mmdet=mmdet, mmcv=mmcv)
    if accepted:
        assert check_versions()['mmcv'] == mmcv
        return
    high = '2.1.0' if Version(mmdet) < Version('3.2') else '2.2.0'
    with pytest.raises(
            ImportError,
            match=re.escape(
                f'mmcv {mmcv} is installed but mmdet {mmdet} (installed) '
                f'accepts mmcv>=2.0.0rc4,<{high}')):
        check_versions()


def test_version_guard_names_every_package_out_of_range(monkeypatch):
    fake_versions(monkeypatch, mmdet='2.28.2', mmcv='1.7.2', mmengine='0.6.0')
    with pytest.raises(ImportError) as err:
        check_versions()
    message = str(err.value)
    assert message.count(' is installed but mmohem supports ') == 3
    for named in ('mmdet 2.28.2', 'mmcv 1.7.2', 'mmengine 0.6.0',
                  'mmcv>=2.0.0rc4,<2.2.0'):
        assert named in message


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
    mmdet = version_check.installed_version('mmdet')
    assert (f'mmcv 2.2.0 is installed but mmdet {mmdet} (installed) '
            'accepts mmcv>=2.0.0rc4,<') in proc.stdout
    assert 'mim install' in proc.stdout
    assert 'mmdet imported: False' in proc.stdout
