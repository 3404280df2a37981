"""mmohem: Online Hard Example Mining for MMDetection 3.x.

Importing the package (configs do, through ``custom_imports``):

- checks the installed OpenMMLab versions;
- registers mmohem's components in its child registries (scope ``mmohem``);
- lets mmengine load its own checkpoints under ``torch.load``'s
  ``weights_only`` check (:mod:`mmohem.safe_checkpoint`);
- under torchrun on a machine without CUDA, starts the gloo process group
  that mmengine's pytorch launcher cannot (:mod:`mmohem.cpu_distributed`);
- makes a proposal file that lacks images fail with a clear message
  (:mod:`mmohem.proposal_file_check`).
"""
from .compat import check_versions
from .version import __version__

check_versions()

from . import proposal_file_check, safe_checkpoint  # noqa: E402
from .config_files import config_path, list_configs  # noqa: E402
from .cpu_distributed import init_cpu_process_group  # noqa: E402
from .hooks import FiniteLossHook  # noqa: E402
from .registry import HOOKS, TASK_UTILS  # noqa: E402
from .samplers import OHEMSampler, register_scoring_inputs  # noqa: E402

safe_checkpoint.install()
proposal_file_check.install()
init_cpu_process_group()

__all__ = [
    '__version__', 'OHEMSampler', 'FiniteLossHook', 'TASK_UTILS', 'HOOKS',
    'config_path', 'list_configs', 'register_scoring_inputs'
]
