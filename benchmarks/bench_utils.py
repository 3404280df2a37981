"""Shared set-up of the cost benchmarks: a detector, a batch, timers.

The batch and the training step are the embedded benchmark's
(:mod:`mmohem_benchmark.synthetic_batch`), so the sweep and these scripts
measure the same thing.
"""
import json
import statistics
import time
from typing import Callable, Dict, List, Optional, Sequence

import torch
from mmdet.registry import MODELS, TASK_UTILS
from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmohem  # noqa: F401  (registers mmohem.OHEMSampler)
from mmohem_benchmark.synthetic_batch import synthetic_batch

# mmdet's Faster R-CNN R-50-FPN 1x (the sampler is swapped per variant)
FASTER_RCNN = mmohem.config_path('faster_rcnn_ohem_r50.py')

# The three R-CNN samplers compared, each with its usual settings.
SAMPLERS = {
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


def build_detector(device: torch.device, config: str = FASTER_RCNN):
    """mmdet's detector with PyTorch's default random weights (no download;
    timings do not depend on the weights), in train mode."""
    init_default_scope('mmdet')
    cfg = Config.fromfile(config)
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    model.cfg = cfg.model  # what detector_batch reads the heads from
    return model.to(device).train()


def build_sampler(model, name: str, **overrides):
    cfg = dict(SAMPLERS[name], **overrides)
    return TASK_UTILS.build(cfg, default_args=dict(context=model.roi_head))


def detector_batch(model,
                   num_images: int = 2,
                   size=(800, 1333),
                   num_gts: int = 8,
                   seed: int = 0) -> dict:
    """A random batch through ``model``'s data preprocessor, on its device:
    what a training step is given."""
    torch.manual_seed(seed)  # mmdet's helper draws from the global RNG
    batch = synthetic_batch(
        model.cfg, size=tuple(size), batch_size=num_images, num_items=num_gts)
    return model.data_preprocessor(batch, training=True)


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


def report(result: dict, text: str, out: Optional[str]) -> dict:
    """Print the markdown table and write the JSON (``--out``)."""
    print(text)
    if out:
        with open(out, 'w') as f:
            json.dump(result, f, indent=2)
    return result


def interleave(names: List[str], rep: int) -> List[str]:
    """Rotate the order each repetition, so no variant always runs first."""
    k = rep % len(names)
    return names[k:] + names[:k]
