"""Distributed training on a CPU-only torch with mmengine's pytorch launcher.

mmengine 0.10's ``--launcher pytorch`` path calls ``torch.cuda.set_device``
unconditionally, which raises on a CPU build of torch. ``Runner.setup_env``
skips its own ``init_dist`` when a process group already exists, so this
module, imported through the config's ``custom_imports`` before the Runner
is built, starts the gloo group itself when the process was started by
torchrun on a machine without CUDA. GPU runs are left alone (nccl and the
stock launcher).

The group is also left together at exit (a barrier, then
``destroy_process_group``): with none, a rank that exits while another
still holds the group open makes gloo's background thread throw, and that
process can abort ("terminate called without an active exception"),
failing a run that trained to the end.

mmengine's Runner also builds DDP with ``device_ids=[LOCAL_RANK]``, which
DDP rejects for a module on the CPU. So the same branch puts in place of
mmengine's ``MMDistributedDataParallel`` (the class the Runner calls when
the config has no ``model_wrapper_cfg``, and the registry entry of that
name when it has one) a subclass that leaves ``device_ids`` out for a CPU
module: what ``model_wrapper_cfg = dict(type='MMDistributedDataParallel',
device_ids=None)`` would do by hand. A config that names another wrapper
keeps it.

Switched on by importing this module (``custom_imports`` entry
``mmohem.fixes.cpu_distributed``), which starts the group at once when the
process runs under torchrun without CUDA; elsewhere the import does nothing.
"""
import atexit
import os
from datetime import timedelta

import torch
import torch.distributed as dist
from mmengine.logging import print_log

TORCHRUN_ENV = ('RANK', 'LOCAL_RANK', 'WORLD_SIZE', 'MASTER_ADDR',
                'MASTER_PORT')
# how long a rank waits at exit for the others to finish their last steps;
# a rank that crashed never comes, and the wait then ends with a warning
EXIT_TIMEOUT = timedelta(seconds=30)


def init_cpu_process_group() -> bool:
    """Start a gloo process group from torchrun's environment, if needed.

    Returns:
        bool: Whether a process group was started here.
    """
    if not all(key in os.environ for key in TORCHRUN_ENV):
        return False
    if not dist.is_available() or dist.is_initialized() \
            or torch.cuda.is_available():
        return False
    dist.init_process_group(
        backend='gloo',
        rank=int(os.environ['RANK']),
        world_size=int(os.environ['WORLD_SIZE']))
    atexit.register(_leave_together)
    _register_cpu_ddp()
    print_log(
        f"mmohem: started a gloo process group (rank {os.environ['RANK']} "
        f"of {os.environ['WORLD_SIZE']}) for distributed training on CPU",
        logger='current')
    return True


def _register_cpu_ddp() -> None:
    """Make mmengine's ``MMDistributedDataParallel`` accept a CPU module."""
    import mmengine.runner.runner as runner_module
    from mmengine.model import MMDistributedDataParallel
    from mmengine.registry import MODEL_WRAPPERS

    class CPUDistributedDataParallel(MMDistributedDataParallel):
        """mmengine's DDP wrapper without ``device_ids`` for a CPU module
        (the Runner passes ``[LOCAL_RANK]``, which DDP refuses there)."""

        def __init__(self, module, *args, **kwargs) -> None:
            # registered only where torch has no CUDA: the module is on
            # the CPU
            kwargs['device_ids'] = None
            super().__init__(module, *args, **kwargs)

    MODEL_WRAPPERS.register_module(
        name='MMDistributedDataParallel',
        module=CPUDistributedDataParallel,
        force=True)
    runner_module.MMDistributedDataParallel = CPUDistributedDataParallel


def _leave_together() -> None:
    """Wait for every rank at exit, then close the group."""
    if not dist.is_initialized():
        return
    try:
        dist.monitored_barrier(timeout=EXIT_TIMEOUT)
    except RuntimeError as error:  # a rank is gone (it failed): just leave
        print_log(
            f'mmohem: not every rank reached the end ({error})',
            logger='current')
    dist.destroy_process_group()


init_cpu_process_group()
