from .finite_loss_hook import FiniteLossHook
from .mining_stats_hook import MiningStatsHook

__all__ = ['FiniteLossHook', 'MiningStatsHook']

# old import path of ohem_samplers, kept for one release
from .. import _deprecated  # noqa: E402

__getattr__ = _deprecated.module_getattr(__name__)
