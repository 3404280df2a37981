from .finite_loss_hook import FiniteLossHook
from .mining_stats_hook import MiningStatsHook
from .ohem_samplers import ohem_samplers

__all__ = ['FiniteLossHook', 'MiningStatsHook', 'ohem_samplers']
