"""mmohem: Online Hard Example Mining for MMDetection 3.x.

``import mmohem`` (configs do, through ``custom_imports``) checks the
installed OpenMMLab versions and registers mmohem's components in its child
registries (scope ``mmohem``). It changes nothing else in the process: the
fixes of the OpenMMLab stack in :mod:`mmohem.fixes` are switched on one by
one, each by importing its module (a ``custom_imports`` entry).

Layout: the core is :mod:`mmohem.samplers`, :mod:`mmohem.hooks` and
:mod:`mmohem.registry`; :mod:`mmohem.tools` holds the command line and the
config tools; :mod:`mmohem.sampler_configs` reads a config's R-CNN samplers
for the hooks and the tools; :mod:`mmohem.fixes` the opt-in stack fixes.
The embedded benchmark is the separate package ``mmohem_benchmark``, which
adds ``mmohem demo``, ``ablate`` and ``sweep`` to the command line.
"""
from .version import __version__
from .version_check import check_versions

check_versions()

from .hooks import FiniteLossHook, MiningStatsHook  # noqa: E402
from .registry import HOOKS, TASK_UTILS  # noqa: E402
from .samplers import OHEMSampler, register_scoring_inputs  # noqa: E402
from .tools.config_files import config_path, list_configs  # noqa: E402

__all__ = [
    '__version__', 'OHEMSampler', 'FiniteLossHook', 'MiningStatsHook',
    'TASK_UTILS', 'HOOKS', 'config_path', 'list_configs',
    'register_scoring_inputs'
]
