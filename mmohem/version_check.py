"""Checks that the installed OpenMMLab stack is one mmohem supports.

mmcv is normally installed outside pip's resolver (``mim install`` or a
source build), so the ranges in ``pyproject.toml`` are not enough: a mismatch
would otherwise surface as an obscure error deep inside mmdet. The versions
are read from the installed distributions' metadata, without importing the
packages: importing mmdet with an unsupported mmcv stops at mmdet's own
assertion before mmohem could say anything.
"""
from importlib import metadata
from typing import Dict, Tuple

from packaging.version import Version

# package: (lowest supported, first unsupported)
SUPPORTED: Dict[str, Tuple[str, str]] = {
    'mmengine': ('0.10.0', '0.11.0'),
    'mmcv': ('2.0.0', '2.2.0'),
    'mmdet': ('3.3.0', '3.4.0'),
}

INSTALL_HINT = ('Install a supported stack with `bash tools/bootstrap.sh` '
                '(CPU) or `mim install "mmcv>=2.0.0,<2.2.0" mmdet==3.3.0` '
                '(GPU).')


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


def check_versions() -> Dict[str, str]:
    """Return the installed versions, or raise if any is unsupported.

    Returns:
        dict[str, str]: Installed version of each package in
        :data:`SUPPORTED`.

    Raises:
        ImportError: Naming every unsupported package, its installed version
            and the supported range, and how to install a supported one.
    """
    installed, problems = {}, []
    for package, (low, high) in SUPPORTED.items():
        version = installed_version(package)
        installed[package] = version
        if not Version(low) <= Version(version) < Version(high):
            problems.append(f'{package} {version} is installed but mmohem '
                            f'supports {package}>={low},<{high}')
    if problems:
        raise ImportError('; '.join(problems) + '. ' + INSTALL_HINT)
    return installed
