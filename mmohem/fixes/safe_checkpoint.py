"""Load mmengine's checkpoints with ``torch.load(weights_only=True)``.

Since torch 2.6 ``torch.load`` unpickles only allowlisted globals by default,
and mmengine 0.10's checkpoints (``--resume``, ``load_from``, ``test.py``)
carry a few that are not: the message hub's ``HistoryBuffer`` and the numpy
arrays and scalars inside it. Instead of turning the check off
(``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``, which disables it for every file),
mmohem replaces mmengine's loader for local files with one that allows
exactly those globals, and only while mmengine loads a checkpoint: a
``torch.load`` elsewhere in the process keeps torch's default allowlist,
and anything else pickled in a checkpoint is still refused.

``HistoryBuffer`` pickles its statistics methods (``HistoryBuffer.min`` ...)
as ``getattr(HistoryBuffer, 'min')`` (pickle protocol 2 cannot name a method
directly), so the file asks for ``builtins.getattr``. Allowing the real
``getattr`` would let a file read any attribute of anything it can build;
mmohem maps that name to :func:`_statistics_method`, which looks up
HistoryBuffer's statistics methods and nothing else.

Switched on by importing this module (``custom_imports`` entry
``mmohem.fixes.safe_checkpoint``); :func:`install` does the same from code.
"""
import os.path as osp
import pickle
from typing import List

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner import CheckpointLoader
from mmengine.utils import digit_version


def _numpy_globals() -> List[object]:
    # numpy 2 moved numpy.core to numpy._core; pickles name the module they
    # were written with
    if int(np.__version__.split('.')[0]) >= 2:
        from numpy._core import multiarray
    else:
        from numpy.core import multiarray
    dtypes = [type(np.dtype(t)) for t in ('float64', 'float32', 'int64')]
    return [
        multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype,
        *dtypes
    ]


def _statistics_method(owner, name: str):
    """The only ``getattr`` an mmengine checkpoint may perform."""
    if owner is HistoryBuffer and (name in HistoryBuffer._statistics_methods or
                                   name in ('min', 'max', 'current', 'mean')):
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'mmohem refused getattr({owner!r}, {name!r}) while loading a '
        'checkpoint: only HistoryBuffer statistics methods may be looked up')


# torch.load unpickles only allowlisted globals by default from torch 2.6 on
_RESTRICTED_LOAD = digit_version(torch.__version__) >= digit_version('2.6.0')

#: The globals an mmengine checkpoint needs beyond torch's own allowlist.
CHECKPOINT_GLOBALS = [
    HistoryBuffer, *_numpy_globals(), (_statistics_method, 'builtins.getattr')
]


def load_local_checkpoint(filename: str, map_location=None):
    """mmengine's local checkpoint loader, with the allowlist in effect
    (before torch 2.6, whose ``torch.load`` restricts nothing: a plain
    ``torch.load``).

    Args:
        filename (str): Path of the checkpoint.
        map_location: As for :func:`torch.load`.

    Returns:
        dict: The checkpoint.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    if not _RESTRICTED_LOAD:
        # torch < 2.6 loads without an allowlist (and has no API for one)
        return torch.load(filename, map_location=map_location)
    with torch.serialization.safe_globals(CHECKPOINT_GLOBALS):
        return torch.load(
            filename, map_location=map_location, weights_only=True)


def install() -> bool:
    """Register :func:`load_local_checkpoint` for mmengine's local files.

    Returns:
        bool: False before torch 2.6, whose ``torch.load`` does not restrict
        globals by default: mmengine's loading is left as it is there.
    """
    if not _RESTRICTED_LOAD:
        return False
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_local_checkpoint, force=True)
    return True


install()
