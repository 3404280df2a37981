"""mmohem: Online Hard Example Mining for MMDetection 3.x.

Importing the package checks the installed OpenMMLab versions and registers
mmohem's components in its child registries (scope ``mmohem``).
"""
from .compat import check_versions
from .version import __version__

check_versions()

from .config_files import config_path, list_configs  # noqa: E402
from .registry import HOOKS, TASK_UTILS  # noqa: E402
from .samplers import OHEMSampler  # noqa: E402

__all__ = [
    '__version__', 'OHEMSampler', 'TASK_UTILS', 'HOOKS', 'config_path',
    'list_configs'
]
