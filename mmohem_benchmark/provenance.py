"""What produced a recorded result: the mmohem commit, the versions of the
stack and the device. Every result file the benchmark writes carries it."""
import os.path as osp
import platform
import subprocess
from typing import Dict, Optional

import torch

import mmohem
from mmohem.version_check import check_versions

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
# `git archive` writes the commit here (export-subst, .gitattributes): a run
# from an exported tree, which has no .git, states what it was exported from
EXPORTED_FROM = '$Format:%H$'


def commit() -> Optional[str]:
    """The checkout's commit, with ``+changes`` if files differ from it; in
    a tree exported with ``git archive``, the commit it was exported from;
    None otherwise."""
    if not EXPORTED_FROM.startswith('$'):
        return EXPORTED_FROM
    try:
        head = subprocess.run(['git', 'rev-parse', 'HEAD'],
                              cwd=ROOT,
                              capture_output=True,
                              text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(['git', 'status', '--porcelain', '-uno'],
                               cwd=ROOT,
                               capture_output=True,
                               text=True,
                               check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ('+changes' if dirty else '')


def device_label(device: Optional[torch.device] = None) -> str:
    """The GPU's name, or the CPU with the threads torch uses."""
    if device is not None and device.type == 'cuda':
        return torch.cuda.get_device_name(device)
    return (f'cpu {platform.machine()} ({torch.get_num_threads()} '
            'threads)')


def provenance(device: Optional[torch.device] = None) -> Dict[str, str]:
    """The record's ``provenance`` entry.

    Args:
        device (torch.device, optional): Where the result was computed;
            the CPU if None.

    Returns:
        dict: ``mmohem`` (version), ``commit``, ``torch``, ``mmcv``,
        ``mmdet``, ``mmengine``, ``python`` and ``device``.
    """
    versions = check_versions()
    return dict(
        mmohem=mmohem.__version__,
        commit=commit(),
        torch=torch.__version__,
        python=platform.python_version(),
        device=device_label(device),
        **{name: versions[name]
           for name in ('mmcv', 'mmdet', 'mmengine')})
