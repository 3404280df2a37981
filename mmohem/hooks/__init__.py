from .finite_loss_hook import FiniteLossHook
from .ohem_samplers import ohem_samplers

__all__ = ['FiniteLossHook', 'ohem_samplers']
