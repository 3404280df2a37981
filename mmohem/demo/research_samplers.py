"""Research-only samplers for the ablation (``mmohem ablate``), not product
defaults: they exist to measure what one of the paper's choices is worth.

``mmohem.demo.research_samplers`` is imported by the demo's training process
(:mod:`mmohem.demo.train_one`), which registers them; configs outside the
benchmark should not use them.
"""
from contextlib import contextmanager
from typing import Iterator

import torch

from ..registry import TASK_UTILS
from ..samplers import OHEMSampler


@contextmanager
def _no_grad_as_is(module, stateful=()) -> Iterator[None]:
    """No gradients, but the modules keep their current (training) mode."""
    with torch.no_grad():
        yield


@TASK_UTILS.register_module()
class TrainModeScoringOHEMSampler(OHEMSampler):
    """``mmohem.OHEMSampler`` that scores the RoIs in the model's current
    mode, as mmdet's built-in ``OHEMSampler`` does: during training, dropout
    is active and normalization layers use batch statistics and update their
    running statistics with every scored RoI. Everything else (ranking,
    NMS, selection) is mmohem's.

    Research only: it isolates the scoring mode in the ablation.
    """
    _scoring_context = staticmethod(_no_grad_as_is)
