"""Find the R-CNN samplers of a built model, wherever its RoI heads sit: a
plain detector, a DDP wrapper, SoftTeacher's student and teacher, a
tracker's detector."""
from typing import Dict, List, Tuple

from torch import nn

from .ohem_sampler import OHEMSampler


def rcnn_samplers(model: nn.Module) -> list:
    """Every sampler an RoI head of ``model`` holds, one per cascade stage.

    Args:
        model (nn.Module): A built model, possibly wrapped.

    Returns:
        list: The samplers, in module order; empty if there are none.
    """
    samplers = []
    for module in model.modules():
        found = getattr(module, 'bbox_sampler', None)
        if isinstance(found, (list, tuple)):
            samplers += found
        elif found is not None:
            samplers.append(found)
    return samplers


def ohem_samplers(model: nn.Module) -> List[OHEMSampler]:
    """The ``mmohem.OHEMSampler`` instances among :func:`rcnn_samplers`.

    Args:
        model (nn.Module): A built model, possibly wrapped.

    Returns:
        list[OHEMSampler]: Empty when the model mines no RoIs with mmohem.
    """
    return [s for s in rcnn_samplers(model) if isinstance(s, OHEMSampler)]


def ohem_stages(model: nn.Module) -> List[Tuple[str, List[OHEMSampler]]]:
    """The OHEMSamplers of ``model`` grouped by cascade stage, each with the
    suffix of its logged keys: ``''`` for a head with one sampler,
    ``'_stage<k>'`` for stage k of a cascade. Samplers at the same place in
    different heads (SoftTeacher's student and teacher) share a group.

    Args:
        model (nn.Module): A built model, possibly wrapped.

    Returns:
        list[tuple[str, list[OHEMSampler]]]: In stage order; empty when the
        model mines no RoIs with mmohem.
    """
    groups: Dict[str, List[OHEMSampler]] = {}
    for module in model.modules():
        found = getattr(module, 'bbox_sampler', None)
        if isinstance(found, (list, tuple)):
            named = [(f'_stage{k + 1}' if len(found) > 1 else '', sampler)
                     for k, sampler in enumerate(found)]
        else:
            named = [('', found)]
        for suffix, sampler in named:
            if isinstance(sampler, OHEMSampler):
                groups.setdefault(suffix, []).append(sampler)
    return list(groups.items())
