"""Where mmohem's configs are, in a checkout or an installed package.

mmengine resolves ``_base_ = 'pkg::path'`` only for a fixed list of
OpenMMLab packages, so a downstream config inherits one of mmohem's through
its absolute path instead, which ``_base_`` may compute (mmengine evaluates
the ``_base_`` expression)::

    _base_ = __import__('mmohem').config_path('faster_rcnn_ohem_r50.py')
"""
import importlib
import os
import os.path as osp
from typing import List


def mim_config_dir(package: str) -> str:
    """Where an OpenMMLab-style package keeps its configs:
    ``<package>/.mim/configs`` (mmdet's, and mmohem's own).

    Raises:
        FileNotFoundError: If ``package`` is not installed.
    """
    try:
        module = importlib.import_module(package)
    except ImportError as e:
        raise FileNotFoundError(
            f'the package {package!r} is not installed') from e
    return osp.join(osp.dirname(module.__file__), '.mim', 'configs')


# mmohem's configs ship inside the package where mmdet keeps its own; in a
# checkout that is a link to configs/.
CONFIG_DIR = osp.join(
    osp.dirname(osp.dirname(osp.abspath(__file__))), '.mim', 'configs')


def list_configs() -> List[str]:
    """Names of the configs mmohem ships, e.g. ``faster_rcnn_ohem_r50.py``.

    Returns:
        list[str]: Sorted file names.
    """
    return sorted(
        name for name in os.listdir(CONFIG_DIR) if name.endswith('.py'))


def config_path(name: str) -> str:
    """Absolute path of one of mmohem's configs.

    Args:
        name (str): File name, with or without ``.py``.

    Returns:
        str: The path, usable in ``_base_`` or ``Config.fromfile``.

    Raises:
        FileNotFoundError: Naming the configs that exist.
    """
    if not name.endswith('.py'):
        name += '.py'
    path = osp.join(CONFIG_DIR, name)
    if not osp.isfile(path):
        raise FileNotFoundError(f'mmohem has no config {name!r}; it ships: '
                                f"{', '.join(list_configs())}")
    return osp.realpath(path)
