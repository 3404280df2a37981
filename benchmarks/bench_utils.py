"""Shared set-up of the cost benchmarks: samplers, candidate RoIs, timers.

The detector, the batch and the training step are the embedded benchmark's
(:mod:`mmohem_benchmark.synthetic_batch`), so the sweep, these scripts and
tests/test_selection_record.py use the same ones.
"""
import json
import statistics
import time
from typing import Callable, Dict, List, Optional, Sequence

import torch
from mmdet.registry import TASK_UTILS
from mmdet.structures.bbox import bbox2roi

import mmohem  # noqa: F401  (registers mmohem.OHEMSampler)
from mmohem_benchmark.provenance import provenance

# mmdet's Faster R-CNN R-50-FPN 1x (the sampler is swapped per variant)
FASTER_RCNN = mmohem.config_path('faster_rcnn_ohem_r50.py')

# The config of each R-CNN sampler compared, with its usual settings, by
# the benchmark's names (mmohem_benchmark.SAMPLER_LABELS)
SAMPLER_CONFIGS = {
    'random': dict(type='RandomSampler', num=512, pos_fraction=0.25),
    'mmdet_ohem': dict(type='OHEMSampler', num=512, pos_fraction=0.25),
    'mmohem': dict(type='mmohem.OHEMSampler', num=512, pos_fraction=None),
}


def pick_device(name: str = 'auto') -> torch.device:
    if name == 'auto':
        name = 'cuda' if torch.cuda.is_available() else 'cpu'
    return torch.device(name)


def device_name(device: torch.device) -> str:
    if device.type == 'cuda':
        return torch.cuda.get_device_name(device)
    return f'cpu ({torch.get_num_threads()} threads)'


def build_sampler(model, name: str, **overrides):
    cfg = dict(SAMPLER_CONFIGS[name], **overrides)
    return TASK_UTILS.build(cfg, default_args=dict(context=model.roi_head))


def candidate_rois(image: dict) -> torch.Tensor:
    """The RoIs a sampler scores for one of ``rcnn_inputs``' images: the
    ground truth, then the proposals (``add_gt_as_proposals``)."""
    return bbox2roi(
        [torch.cat([image['gt'].bboxes, image['proposals'].priors])])


def timed(fn: Callable[[], object], device: torch.device) -> float:
    """Seconds for one call, with the device synchronised on both ends."""
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    fn()
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def summary(samples: Sequence[float]) -> Dict[str, float]:
    """Median and spread (interquartile range, min, max) of timings."""
    ordered = sorted(samples)
    quartiles = statistics.quantiles(ordered, n=4) if len(ordered) > 1 \
        else [ordered[0]] * 3
    return dict(
        median=statistics.median(ordered),
        q1=quartiles[0],
        q3=quartiles[2],
        min=ordered[0],
        max=ordered[-1],
        n=len(ordered))


def report(result: dict,
           text: str,
           out: Optional[str],
           device: Optional[torch.device] = None) -> dict:
    """Print the markdown table and write the JSON (``--out``), with what
    produced it (the commit, the stack, ``device``: the CPU if None)."""
    print(text)
    if out:
        with open(out, 'w') as f:
            json.dump(dict(result, provenance=provenance(device)), f, indent=2)
    return result


def interleave(names: List[str], rep: int) -> List[str]:
    """Rotate the order each repetition, so no variant always runs first."""
    k = rep % len(names)
    return names[k:] + names[:k]
