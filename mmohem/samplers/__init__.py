from .hard_selection import HardSelection, select_hard
from .head_support import HeadNotSupportedError, register_scoring_inputs
from .lookup import ohem_samplers, ohem_stages, rcnn_samplers
from .mining_record import MinedImage, MiningRecord
from .ohem_sampler import OHEMSampler
from .roi_loss import LOSS_KEYS, per_roi_loss

__all__ = [
    'OHEMSampler', 'HardSelection', 'select_hard', 'per_roi_loss', 'LOSS_KEYS',
    'register_scoring_inputs', 'HeadNotSupportedError', 'ohem_samplers',
    'ohem_stages', 'rcnn_samplers', 'MiningRecord', 'MinedImage'
]
