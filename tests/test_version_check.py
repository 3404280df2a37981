"""The version guard run by ``import mmohem``: the mmcv bounds come from the
installed mmdet's own ``__init__.py``, every missing or unsupported package
is named in one error, and a stack that is supported but not tested is
accepted with one line in the log.

Most tests fake the installed metadata: a folder of ``*.dist-info``
directories, an ``mmdet/__init__.py`` beside them, and
``version_check._distribution`` reading that folder instead of the
environment's."""
import importlib
import logging
import os
import os.path as osp
import re
import subprocess
import sys
from importlib import metadata

import pytest
from mmengine.utils import digit_version as mmengine_digit_version
from packaging.version import Version

from mmohem import version_check
from mmohem.version_check import (INSTALL_HINT, SUPPORTED, check_versions,
                                  digit_version, mmcv_range, mmdet_mmcv_bounds,
                                  read_mmcv_bounds)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

# mmdet 3.x's __init__.py as released, with the two bounds left open
MMDET_INIT = '''\
# Copyright (c) OpenMMLab. All rights reserved.
import mmcv
import mmengine
from mmengine.utils import digit_version

from .version import __version__, version_info

mmcv_minimum_version = '{low}'
mmcv_maximum_version = '{high}'
mmcv_version = digit_version(mmcv.__version__)

mmengine_minimum_version = '0.7.1'
mmengine_maximum_version = '1.0.0'
mmengine_version = digit_version(mmengine.__version__)

{check}assert (mmcv_version >= digit_version(mmcv_minimum_version)
{check}        and mmcv_version < digit_version(mmcv_maximum_version)), \\
{check}    f'MMCV=={{mmcv.__version__}} is used but incompatible. ' \\
{check}    f'Please install mmcv>={{mmcv_minimum_version}}, ' \\
{check}    f'<{{mmcv_maximum_version}}.'

assert (mmengine_version >= digit_version(mmengine_minimum_version)
        and mmengine_version < digit_version(mmengine_maximum_version)), \\
    f'MMEngine=={{mmengine.__version__}} is used but incompatible. ' \\
    f'Please install mmengine>={{mmengine_minimum_version}}, ' \\
    f'<{{mmengine_maximum_version}}.'

__all__ = ['__version__', 'version_info', 'digit_version']
'''


def mmdet_init(low='2.0.0rc4', high='2.2.0', asserted=True):
    return MMDET_INIT.format(
        low=low, high=high, check='' if asserted else '# ')


@pytest.fixture
def fake_site(tmp_path, monkeypatch):
    """``fake_site(mmdet_source=..., mmdet=..., mmcv=..., mmengine=...)``
    makes the guard see exactly these packages (a version of None: not
    installed) and an mmdet whose ``__init__.py`` is ``mmdet_source``;
    returns that file's path."""

    def install(mmdet_source=None, **versions):
        site = tmp_path / 'site'
        site.mkdir()
        for package, version in versions.items():
            if version is None:
                continue
            info = site / f'{package}-{version}.dist-info'
            info.mkdir()
            (info / 'METADATA').write_text('Metadata-Version: 2.1\n'
                                           f'Name: {package}\n'
                                           f'Version: {version}\n')
        init = site / 'mmdet' / '__init__.py'
        if mmdet_source is not None:
            init.parent.mkdir()
            init.write_text(mmdet_source)

        def distribution(package):
            found = sorted(site.glob(f'{package}-*.dist-info'))
            return metadata.PathDistribution(found[0]) if found else None

        monkeypatch.setattr(version_check, '_distribution', distribution)
        return str(init)

    return install


@pytest.fixture
def log(caplog):
    """The records of the ``mmohem`` logger."""
    caplog.set_level(logging.INFO, logger='mmohem')
    return lambda: [r for r in caplog.records if r.name == 'mmohem']


TESTED_LINE = ('(tested: mmdet 3.3.0 + mmcv 2.1.0 + mmengine 0.10.7; '
               'mmdet 3.1.0 + mmcv 2.0.1 + mmengine 0.10.7).')


def test_an_mmdet_with_a_raised_bound_accepts_the_newer_mmcv(fake_site, log):
    """mmdet 3.3.0 edited to accept mmcv<2.3.0 (mmdet #11763's workaround)
    with mmcv 2.2.0: mmdet itself imports, so the guard lets it through, and
    says once that this stack is not a tested one."""
    fake_site(
        mmdet_init(high='2.3.0'),
        mmdet='3.3.0',
        mmcv='2.2.0',
        mmengine='0.10.7')
    assert check_versions() == dict(
        mmengine='0.10.7', mmcv='2.2.0', mmdet='3.3.0')
    records = log()
    assert len(records) == 1
    assert records[0].levelno == logging.WARNING
    assert records[0].getMessage() == (
        'mmohem: mmdet 3.3.0, mmcv 2.2.0 and mmengine 0.10.7 are accepted '
        'but are not a tested stack ' + TESTED_LINE)


def test_the_released_bound_refuses_that_mmcv_naming_the_file(fake_site):
    init = fake_site(
        mmdet_init(high='2.2.0'),
        mmdet='3.3.0',
        mmcv='2.2.0',
        mmengine='0.10.7')
    with pytest.raises(ImportError) as err:
        check_versions()
    assert str(err.value) == (
        'mmcv 2.2.0 is installed but mmdet 3.3.0 (installed) accepts '
        f'mmcv>=2.0.0rc4,<2.2.0 (read from {init}). ' + INSTALL_HINT)


def test_two_missing_packages_are_named_in_one_error(fake_site, log):
    fake_site(mmdet=None, mmcv=None, mmengine='0.10.7')
    with pytest.raises(ImportError) as err:
        check_versions()
    assert str(err.value) == (
        'mmcv is not installed (mmohem supports mmcv>=2.0.0rc4,<2.2.0); '
        'mmdet is not installed (mmohem supports mmdet>=3.0.0,<3.4.0). ' +
        INSTALL_HINT)
    assert log() == []


def test_mmdet_31_refuses_mmcv_21_by_its_own_bound(fake_site):
    init = fake_site(
        mmdet_init(high='2.1.0'),
        mmdet='3.1.0',
        mmcv='2.1.0',
        mmengine='0.10.7')
    with pytest.raises(ImportError) as err:
        check_versions()
    assert str(err.value).startswith(
        'mmcv 2.1.0 is installed but mmdet 3.1.0 (installed) accepts '
        f'mmcv>=2.0.0rc4,<2.1.0 (read from {init}). ')


def test_the_bound_comes_from_the_file_not_the_release_number(fake_site):
    # the same mmdet 3.1.0 with its bound raised: the file decides
    fake_site(
        mmdet_init(high='2.2.0'),
        mmdet='3.1.0',
        mmcv='2.1.0',
        mmengine='0.10.7')
    assert check_versions()['mmcv'] == '2.1.0'


def test_an_mmdet_without_the_assertion_accepts_any_mmcv(fake_site):
    fake_site(
        mmdet_init(asserted=False),
        mmdet='3.3.0',
        mmcv='2.2.0',
        mmengine='0.10.7')
    assert check_versions()['mmcv'] == '2.2.0'
    assert read_mmcv_bounds(mmdet_init(asserted=False)) == (None, None)


def test_an_unreadable_file_falls_back_to_the_release_and_says_so(fake_site):
    init = fake_site(
        '# no bounds here\n', mmdet='3.1.0', mmcv='2.1.0', mmengine='0.10.7')
    with pytest.raises(ImportError) as err:
        check_versions()
    assert str(err.value).startswith(
        'mmcv 2.1.0 is installed but mmdet 3.1.0 (installed) accepts '
        'mmcv>=2.0.0rc4,<2.1.0 (as mmdet 3.1.0 was released; '
        f'{init} could not be read: it assigns no string to '
        'mmcv_minimum_version or mmcv_maximum_version). ')


def test_no_file_at_all_falls_back_to_the_release(fake_site, monkeypatch):
    fake_site(mmdet='3.3.0', mmcv='2.1.0', mmengine='0.10.7')
    monkeypatch.setattr(version_check, '_mmdet_init_file', lambda: None)
    assert mmdet_mmcv_bounds('3.3.0') == (
        '2.0.0rc4', '2.2.0',
        'as mmdet 3.3.0 was released; its mmdet/__init__.py was not found')


@pytest.mark.parametrize('stack', version_check.TESTED_STACKS)
def test_a_tested_stack_logs_nothing(fake_site, log, stack):
    low, high = mmcv_range(stack['mmdet'])
    fake_site(mmdet_init(low, high), **stack)
    assert check_versions() == stack
    assert log() == []


def test_a_supported_untested_stack_is_accepted_with_one_line(fake_site, log):
    fake_site(mmdet_init(), mmdet='3.2.0', mmcv='2.1.0', mmengine='0.10.4')
    assert check_versions() == dict(
        mmengine='0.10.4', mmcv='2.1.0', mmdet='3.2.0')
    assert [r.getMessage() for r in log()] == [
        'mmohem: mmdet 3.2.0, mmcv 2.1.0 and mmengine 0.10.4 are accepted '
        'but are not a tested stack ' + TESTED_LINE
    ]


@pytest.mark.parametrize(
    'mmcv,accepted',
    [
        ('2.0.0rc4', True),  # the lower bound is inclusive
        ('2.0.0rc3', False),
        ('2.0.0', True),
        ('2.1.0+cu118', True),  # a local label is its release
        ('2.2.0rc1', True),  # below 2.2.0 for mmdet's digit_version
        ('2.2.0', False),  # the upper bound is exclusive
        ('2.2.0.post1', False),
    ])
def test_bounds_compare_as_mmdets_assertion(fake_site, mmcv, accepted):
    fake_site(mmdet_init(), mmdet='3.3.0', mmcv=mmcv, mmengine='0.10.7')
    if accepted:
        assert check_versions()['mmcv'] == mmcv
    else:
        with pytest.raises(ImportError, match=re.escape(f'mmcv {mmcv} is')):
            check_versions()


def test_versions_are_compared_with_mmengines_digit_version():
    assert digit_version is mmengine_digit_version


def test_a_missing_mmengine_is_named_with_the_rest(fake_site, monkeypatch):
    """Without mmengine, and so without its digit_version, the other
    packages are still checked (in PEP 440's order) and named too."""
    monkeypatch.setitem(sys.modules, 'mmengine.utils', None)
    importlib.reload(version_check)
    try:
        assert version_check.digit_version is Version
        init = fake_site(
            mmdet_init(), mmdet='3.3.0', mmcv='2.2.0', mmengine=None)
        with pytest.raises(ImportError) as err:
            check_versions()
    finally:
        monkeypatch.undo()
        importlib.reload(version_check)
    assert str(err.value) == (
        'mmengine is not installed (mmohem supports mmengine>=0.7.1,<1.0.0); '
        'mmcv 2.2.0 is installed but mmdet 3.3.0 (installed) accepts '
        f'mmcv>=2.0.0rc4,<2.2.0 (read from {init}). ' + INSTALL_HINT)


@pytest.mark.parametrize('package,version,bounds', [
    ('mmdet', '2.28.2', '>=3.0.0,<3.4.0'),
    ('mmdet', '3.4.0', '>=3.0.0,<3.4.0'),
    ('mmengine', '0.7.0', '>=0.7.1,<1.0.0'),
    ('mmengine', '1.0.0', '>=0.7.1,<1.0.0'),
])
def test_unsupported_mmdet_or_mmengine_is_refused(fake_site, package, version,
                                                  bounds):
    versions = dict(mmdet='3.3.0', mmcv='2.1.0', mmengine='0.10.7')
    versions[package] = version
    fake_site(mmdet_init(), **versions)
    with pytest.raises(ImportError) as err:
        check_versions()
    assert str(
        err.value) == (f'{package} {version} is installed but mmohem supports '
                       f'{package}{bounds}. ' + INSTALL_HINT)


def test_every_package_out_of_range_is_named(fake_site):
    fake_site(mmdet_init(), mmdet='2.28.2', mmcv='1.7.2', mmengine='0.6.0')
    with pytest.raises(ImportError) as err:
        check_versions()
    assert str(err.value) == (
        'mmengine 0.6.0 is installed but mmohem supports '
        'mmengine>=0.7.1,<1.0.0; mmcv 1.7.2 is installed but mmohem '
        'supports mmcv>=2.0.0rc4,<2.2.0; mmdet 2.28.2 is installed but '
        'mmohem supports mmdet>=3.0.0,<3.4.0. ' + INSTALL_HINT)


def test_the_install_hint_gives_the_readmes_commands():
    with open(osp.join(REPO, 'README.md')) as f:
        readme = f.read()
    commands = re.findall(r'`([^`]+)`', INSTALL_HINT)
    assert commands == [
        'pip install -U openmim',
        'mim install "mmengine>=0.10,<0.11" "mmcv==2.1.0" "mmdet>=3.3,<3.4"',
        'pip install -e .', 'bash tools/bootstrap.sh',
        'bash tools/bootstrap.sh downstream'
    ]
    for command in commands:
        assert command in readme, command


def test_the_installed_stack_is_read_from_its_own_files():
    """The real environment: the versions are the imported packages', and
    the bounds read from the installed mmdet's file are its release's."""
    installed = check_versions()
    for package in SUPPORTED:
        module = importlib.import_module(package)
        assert installed[package] == module.__version__, package
    import mmdet
    bounds = mmdet_mmcv_bounds(installed['mmdet'])
    assert bounds.source == f'read from {mmdet.__file__}'
    assert (bounds.low, bounds.high) == (mmdet.mmcv_minimum_version,
                                         mmdet.mmcv_maximum_version)
    assert (bounds.low, bounds.high) == mmcv_range(installed['mmdet'])


def test_import_names_an_unsupported_mmcv_before_mmdet_can_assert(tmp_path):
    """With mmcv 2.2.0 installed, mmdet's own import stops at an assertion;
    mmohem reads the versions and mmdet's bounds without importing it, so
    the user sees mmohem's message."""
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
                          env=env,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    mmdet = version_check.installed_version('mmdet')
    high = mmcv_range(mmdet)[1]
    assert (f'mmcv 2.2.0 is installed but mmdet {mmdet} (installed) '
            f'accepts mmcv>=2.0.0rc4,<{high} (read from ') in proc.stdout
    assert INSTALL_HINT in proc.stdout
    assert 'mmdet imported: False' in proc.stdout
