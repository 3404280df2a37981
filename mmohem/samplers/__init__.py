from .hard_selection import HardSelection, rank_by_loss, select_hard
from .head_support import HeadNotSupportedError, register_scoring_inputs
from .lookup import ohem_samplers, ohem_stages, rcnn_samplers
from .ohem_sampler import MAX_STATS, OHEMSampler
from .roi_loss import LOSS_KEYS, per_roi_loss

__all__ = [
    'OHEMSampler', 'HardSelection', 'select_hard', 'rank_by_loss',
    'per_roi_loss', 'LOSS_KEYS', 'register_scoring_inputs',
    'HeadNotSupportedError', 'ohem_samplers', 'ohem_stages', 'rcnn_samplers',
    'MAX_STATS'
]
