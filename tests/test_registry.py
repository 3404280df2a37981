import subprocess
import sys

import mmdet
import pytest
from helpers import build_roi_head
from mmdet.models.task_modules.samplers import OHEMSampler as MMDetOHEM
from mmdet.registry import TASK_UTILS

import mmohem
from mmohem.compat import SUPPORTED, check_versions


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
    assert type(sampler) is not mmohem.OHEMSampler


def test_supported_versions_pass():
    installed = check_versions()
    assert installed['mmdet'] == mmdet.__version__
    assert set(installed) == set(SUPPORTED)


@pytest.mark.parametrize('package,version', [('mmdet', '3.2.0'),
                                             ('mmdet', '3.4.0'),
                                             ('mmcv', '2.2.0'),
                                             ('mmengine', '0.9.1')])
def test_version_guard_rejects_unsupported(monkeypatch, package, version):
    module = __import__(package)
    monkeypatch.setattr(module, '__version__', version)
    low, high = SUPPORTED[package]
    with pytest.raises(ImportError) as err:
        check_versions()
    assert f'{package} {version} is installed' in str(err.value)
    assert f'{package}>={low},<{high}' in str(err.value)


def test_import_stops_on_unsupported_version():
    code = ('import mmengine; mmengine.__version__ = "0.8.0"; '
            'import mmohem')
    proc = subprocess.run([sys.executable, '-c', code],
                          capture_output=True,
                          text=True)
    assert proc.returncode != 0
    assert 'mmengine 0.8.0 is installed but mmohem supports ' \
        'mmengine>=0.10.0,<0.11.0' in proc.stderr
