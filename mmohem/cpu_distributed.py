"""Distributed training on a CPU-only torch with mmengine's pytorch launcher.

mmengine 0.10's ``--launcher pytorch`` path calls ``torch.cuda.set_device``
unconditionally, which raises on a CPU build of torch. ``Runner.setup_env``
skips its own ``init_dist`` when a process group already exists, so mmohem,
imported through the config's ``custom_imports`` before the Runner is built,
starts the gloo group itself when the process was started by torchrun on a
machine without CUDA. GPU runs are left alone (nccl and the stock launcher).

DDP then also needs ``model_wrapper_cfg =
dict(type='MMDistributedDataParallel', device_ids=None)``: mmengine otherwise
passes ``device_ids=[LOCAL_RANK]``, which DDP rejects for a CPU module.
"""
import os

import torch
import torch.distributed as dist
from mmengine.logging import print_log

TORCHRUN_ENV = ('RANK', 'LOCAL_RANK', 'WORLD_SIZE', 'MASTER_ADDR',
                'MASTER_PORT')


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
    print_log(
        f"mmohem: started a gloo process group (rank {os.environ['RANK']} "
        f"of {os.environ['WORLD_SIZE']}) for distributed training on CPU",
        logger='current')
    return True
