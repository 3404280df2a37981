"""Find the R-CNN samplers of a built model, wherever its RoI heads sit: a
plain detector, a DDP wrapper, SoftTeacher's student and teacher, a
tracker's detector."""
from typing import Dict, Iterator, List, Tuple

from torch import nn

from .ohem_sampler import OHEMSampler


def head_samplers(model: nn.Module) -> Iterator[Tuple[int, int, object]]:
    """The one walk over ``model``'s RoI heads: every sampler with its index
    in its head and the number of samplers that head holds (a cascade has
    one per stage).

    Args:
        model (nn.Module): A built model, possibly wrapped.

    Yields:
        tuple[int, int, object]: (stage index, samplers in the head,
        sampler), in module order.
    """
    for module in model.modules():
        found = getattr(module, 'bbox_sampler', None)
        if found is None:
            continue
        found = list(found) if isinstance(found, (list, tuple)) else [found]
        for index, sampler in enumerate(found):
            yield index, len(found), sampler


def rcnn_samplers(model: nn.Module) -> list:
    """Every sampler an RoI head of ``model`` holds, one per cascade stage.

    Args:
        model (nn.Module): A built model, possibly wrapped.

    Returns:
        list: The samplers, in module order; empty if there are none.
    """
    return [sampler for _, _, sampler in head_samplers(model)]


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
    for index, count, sampler in head_samplers(model):
        if isinstance(sampler, OHEMSampler):
            suffix = f'_stage{index + 1}' if count > 1 else ''
            groups.setdefault(suffix, []).append(sampler)
    return list(groups.items())
