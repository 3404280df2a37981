from .finite_loss_hook import FiniteLossHook
from .mining_stats_hook import MiningStatsHook

__all__ = ['FiniteLossHook', 'MiningStatsHook']
