"""Shared set-up of the benchmarks: a detector, a synthetic batch, timers."""
import json
import statistics
import time
from typing import Callable, Dict, List, Optional, Sequence

import torch
from mmdet.registry import MODELS, TASK_UTILS
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

import mmohem  # noqa: F401  (registers mmohem.OHEMSampler)

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
    return model.to(device).train()


def build_sampler(model, name: str, **overrides):
    cfg = dict(SAMPLERS[name], **overrides)
    return TASK_UTILS.build(cfg, default_args=dict(context=model.roi_head))


def synthetic_batch(device: torch.device,
                    num_images: int = 2,
                    size=(800, 1333),
                    num_gts: int = 8,
                    seed: int = 0):
    """Normalised random images and random ground truth, as the data
    preprocessor would hand them to the detector."""
    gen = torch.Generator().manual_seed(seed)
    h, w = size
    inputs = torch.randn(num_images, 3, h, w, generator=gen)
    samples = []
    for _ in range(num_images):
        xy = torch.rand(num_gts, 2, generator=gen) * torch.tensor([w, h]) * .7
        wh = 32 + torch.rand(num_gts, 2, generator=gen) * min(h, w) * .3
        sample = DetDataSample(
            metainfo=dict(
                img_shape=(h, w),
                pad_shape=(h, w),
                batch_input_shape=(h, w),
                scale_factor=(1., 1.)))
        sample.gt_instances = InstanceData(
            bboxes=torch.cat([xy, xy + wh], 1).to(device),
            labels=torch.randint(0, 80, (num_gts, ), generator=gen).to(device))
        samples.append(sample)
    return inputs.to(device), samples


def train_step(model, inputs, samples) -> None:
    """Forward, loss and backward of one batch (the optimizer step, the same
    for every sampler, is left out so the weights stay identical)."""
    model.zero_grad(set_to_none=True)
    loss, _ = model.parse_losses(model.loss(inputs, samples))
    loss.backward()


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
