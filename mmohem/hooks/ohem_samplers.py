from typing import List

from mmengine.model import is_model_wrapper
from torch import nn

from ..samplers import OHEMSampler


def ohem_samplers(model: nn.Module) -> List[OHEMSampler]:
    """The mmohem samplers of a detector's RoI head (one per cascade stage).

    Args:
        model (nn.Module): The detector, possibly wrapped (DDP).

    Returns:
        list[OHEMSampler]: Empty when the model mines no RoIs with mmohem.
    """
    if is_model_wrapper(model):
        model = model.module
    samplers = getattr(getattr(model, 'roi_head', None), 'bbox_sampler', [])
    if not isinstance(samplers, (list, tuple)):
        samplers = [samplers]
    return [s for s in samplers if isinstance(s, OHEMSampler)]
