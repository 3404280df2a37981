"""Checks that the installed OpenMMLab stack is one mmohem supports.

mmcv is normally installed outside pip's resolver (``mim install`` or a
source build), so the ranges in ``pyproject.toml`` are not enough: a mismatch
would otherwise surface as an obscure error deep inside mmdet. The versions
are read from the installed distributions' metadata, without importing the
packages: importing mmdet with an mmcv it does not accept stops at mmdet's
own assertion before mmohem could say anything.

The supported range is every MMDetection 3.x release, each with the mmcv
and mmengine releases it accepts itself (mmdet 3.0 and 3.1 stop below mmcv
2.1). Two stacks are tested (docs/installation.md): mmdet 3.3.0 with mmcv
2.1.0, and mmdet 3.1.0 with mmcv 2.0.1 (the one mmrotate 1.0.0rc1 and mmocr
1.0.1 both accept).
"""
from importlib import metadata
from typing import Dict, Tuple

from packaging.version import Version

Range = Tuple[str, str]  # (lowest supported, first unsupported)

MMDET: Range = ('3.0.0', '3.4.0')
# mmdet 3.x's own requirement on mmengine
MMENGINE: Range = ('0.7.1', '1.0.0')
# the mmcv each mmdet release accepts, from its own assertion:
# (mmdet range, mmcv range)
MMCV_FOR_MMDET: Tuple[Tuple[Range, Range], ...] = (
    (('3.0.0', '3.2.0'), ('2.0.0rc4', '2.1.0')),
    (('3.2.0', '3.4.0'), ('2.0.0rc4', '2.2.0')),
)
# every mmcv some supported mmdet accepts (the range when mmdet is missing
# or unsupported itself)
MMCV: Range = ('2.0.0rc4', '2.2.0')
# package: its widest supported range (the one pip's metadata states)
SUPPORTED: Dict[str, Range] = {
    'mmengine': MMENGINE,
    'mmcv': MMCV,
    'mmdet': MMDET,
}

INSTALL_HINT = (
    'Install a tested stack with `bash tools/bootstrap.sh` (mmdet 3.3, CPU) '
    'or `bash tools/bootstrap.sh downstream` (mmdet 3.1 with mmrotate and '
    'mmocr, CPU), or on a GPU machine with `mim install "mmcv>=2.0.0rc4,'
    '<2.2.0" "mmdet>=3.2,<3.4"` (mmdet 3.0 and 3.1 need mmcv<2.1.0); '
    'docs/installation.md lists the torch and CUDA versions that have '
    'prebuilt mmcv wheels.')


def installed_version(package: str) -> str:
    """The installed version of ``package``, from its metadata.

    Raises:
        ImportError: If the package is not installed.
    """
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        low, high = SUPPORTED[package]
        raise ImportError(f'mmohem needs {package}>={low},<{high}, which is '
                          f'not installed. {INSTALL_HINT}') from None


def _within(version: str, bounds: Range) -> bool:
    low, high = bounds
    return Version(low) <= Version(version) < Version(high)


def mmcv_range(mmdet_version: str) -> Range:
    """The mmcv releases that ``mmdet_version`` accepts (all of
    :data:`MMCV` for an mmdet outside :data:`MMDET`)."""
    for mmdet_bounds, mmcv_bounds in MMCV_FOR_MMDET:
        if _within(mmdet_version, mmdet_bounds):
            return mmcv_bounds
    return MMCV


def check_versions() -> Dict[str, str]:
    """Return the installed versions, or raise if any is unsupported.

    Returns:
        dict[str, str]: Installed version of each package in
        :data:`SUPPORTED`.

    Raises:
        ImportError: Naming every unsupported package, its installed version
            and the supported range, and how to install a supported one.
    """
    installed = {package: installed_version(package) for package in SUPPORTED}
    mmdet = installed['mmdet']
    problems = []
    for package, bounds in (('mmengine', MMENGINE), ('mmdet', MMDET)):
        if not _within(installed[package], bounds):
            problems.append(f'{package} {installed[package]} is installed '
                            f'but mmohem supports {package}>={bounds[0]},'
                            f'<{bounds[1]}')
    low, high = bounds = mmcv_range(mmdet)
    if not _within(installed['mmcv'], bounds):
        which = (f'mmdet {mmdet} (installed) accepts'
                 if _within(mmdet, MMDET) else 'mmohem supports')
        problems.append(f"mmcv {installed['mmcv']} is installed but {which} "
                        f'mmcv>={low},<{high}')
    if problems:
        raise ImportError('; '.join(problems) + '. ' + INSTALL_HINT)
    return installed
