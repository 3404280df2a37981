"""Checks that the installed OpenMMLab stack is one mmohem supports.

mmcv is normally installed outside pip's resolver (``mim install`` or a
source build), so the ranges in ``pyproject.toml`` are not enough: a mismatch
would otherwise surface as an obscure error deep inside mmdet.
"""
from typing import Dict, Tuple

from mmengine.utils import digit_version

# package: (lowest supported, first unsupported)
SUPPORTED: Dict[str, Tuple[str, str]] = {
    'mmengine': ('0.10.0', '0.11.0'),
    'mmcv': ('2.0.0', '2.2.0'),
    'mmdet': ('3.3.0', '3.4.0'),
}

INSTALL_HINT = ('Install a supported stack with `bash tools/bootstrap.sh` '
                '(CPU) or `mim install "mmcv>=2.0.0,<2.2.0" mmdet==3.3.0` '
                '(GPU).')


def _installed_version(package: str) -> str:
    # mmcv and mmdet are imported in dependency order: mmdet's own import
    # asserts on the mmcv version with a less helpful message.
    module = __import__(package)
    return module.__version__


def check_versions() -> Dict[str, str]:
    """Return the installed versions, or raise if any is unsupported.

    Returns:
        dict[str, str]: Installed version of each package in
        :data:`SUPPORTED`.

    Raises:
        ImportError: Naming every unsupported package, its installed version
            and the supported range.
    """
    installed, problems = {}, []
    for package, (low, high) in SUPPORTED.items():
        version = _installed_version(package)
        installed[package] = version
        if not (digit_version(low) <= digit_version(version) <
                digit_version(high)):
            problems.append(f'{package} {version} is installed but mmohem '
                            f'supports {package}>={low},<{high}')
    if problems:
        raise ImportError('; '.join(problems) + '. ' + INSTALL_HINT)
    return installed
