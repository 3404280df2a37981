"""Run a module read-only: eval mode, no gradients, state restored."""
from contextlib import contextmanager
from typing import Iterable, Iterator

import torch
from torch import nn


@contextmanager
def read_only(module: nn.Module, stateful: Iterable = ()) -> Iterator[None]:
    """Put ``module`` in eval mode without gradients for the block.

    Every submodule's own ``training`` flag is restored afterwards (a plain
    ``module.train()`` would wake submodules that were deliberately frozen in
    eval mode), and the buffers of the ``stateful`` modules (e.g. a loss that
    counts samples, like SeesawLoss) are put back as they were.

    Args:
        module (nn.Module): Module to run read-only.
        stateful (Iterable[nn.Module]): Modules whose buffers may change in
            eval mode too and must be restored.
    """
    # Only the modules in training mode are switched, and directly: going
    # through Module.train()/__setattr__ (and modules()'s names) costs as
    # much host time as a dozen device ops.
    training, stack = [], [module]
    while stack:
        m = stack.pop()
        if m.training:
            training.append(m)
        stack.extend(child for child in m._modules.values() if child)
    saved = [(buf, buf.clone()) for m in stateful for buf in m.buffers()]
    for m in training:
        object.__setattr__(m, 'training', False)
    try:
        with torch.no_grad():
            yield
    finally:
        for m in training:
            object.__setattr__(m, 'training', True)
        with torch.no_grad():
            for buf, value in saved:
                buf.copy_(value)


@contextmanager
def as_is(module: nn.Module, stateful: Iterable = ()) -> Iterator[None]:
    """No gradients for the block; ``module`` keeps its modes (in training:
    dropout active, normalization layers updating their statistics), and
    ``stateful`` is ignored. The counterpart of :func:`read_only`."""
    with torch.no_grad():
        yield
