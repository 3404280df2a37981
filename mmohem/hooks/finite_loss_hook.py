import math
from typing import Optional

import torch
from mmengine.hooks import Hook

from ..checks import check_int
from ..registry import HOOKS
from ..samplers import ohem_samplers


@HOOKS.register_module()
class FiniteLossHook(Hook):
    """Stop training with a clear error when the loss turns NaN or infinite.

    Every iteration it notes whether the loss is finite (its value is on the
    host already: mmengine's RuntimeInfoHook has logged it); every
    ``interval`` iterations, and before every checkpoint is saved, it stops
    the run if any loss since the last check was not. So no checkpoint is
    written after this rank's loss diverged, whatever the interval, and the
    checkpoints already in the work dir stay as they were. Under DDP each
    rank checks its own loss: another rank's NaN reaches the weights of all
    through the gradients' all-reduce, and rank 0 (which saves checkpoints)
    sees a non-finite loss one iteration later, so a checkpoint saved on the
    very iteration another rank diverged may hold those weights. mmdet's
    ``CheckInvalidLossHook`` stops too, but with a bare ``AssertionError:
    None``. Use it from any config::

        custom_hooks = [dict(type='mmohem.FiniteLossHook', interval=1)]

    Args:
        interval (int): Stop at the first multiple of ``interval``
            iterations (or the first checkpoint) after the loss turned
            non-finite. Defaults to 1: at once.
    """
    priority = 'VERY_HIGH'  # before the CheckpointHook of the same iteration

    def __init__(self, interval: int = 1) -> None:
        check_int('mmohem.FiniteLossHook', 'interval', interval, 1)
        self.interval = interval
        # what the first non-finite loss since the last check was, if any
        self._diverged: Optional[str] = None

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        if outputs and 'loss' in outputs and self._diverged is None:
            loss = float(outputs['loss'])
            if not math.isfinite(loss):
                self._diverged = _what_diverged(runner, outputs, loss,
                                                data_batch)
        if self.every_n_train_iters(runner, self.interval):
            self._stop_if_diverged()

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        self._stop_if_diverged()

    def _stop_if_diverged(self) -> None:
        if self._diverged is None:
            return
        what, self._diverged = self._diverged, None
        raise FloatingPointError(
            f'{what}. Training stops before any checkpoint is written with '
            'these weights; the checkpoints in the work dir are unchanged. '
            'Lower the learning rate, clip gradients (optim_wrapper=dict('
            'clip_grad=dict(max_norm=35, norm_type=2))) or check the data, '
            'then resume from the last checkpoint.')


def _what_diverged(runner, outputs: dict, loss: float, data_batch) -> str:
    """The iteration, the non-finite loss terms and, with mmohem's sampler,
    how many RoIs of the batch it scored non-finite."""
    bad = [
        name for name, value in outputs.items()
        if 'loss' in name and isinstance(value, torch.Tensor)
        and not torch.isfinite(value).all()
    ]
    what = (f'The training loss is {loss} at iteration {runner.iter + 1} '
            f'(non-finite: {", ".join(bad)})')
    batch_size = _batch_size(data_batch)
    if batch_size:
        nonfinite = sum(
            int(s['num_nonfinite']) for sampler in ohem_samplers(runner.model)
            for s in sampler.peek_stats(last=batch_size))
        if nonfinite:
            what += (f'. OHEM scored {nonfinite} RoIs of this batch with a '
                     'non-finite loss, so the features were already NaN/inf')
    return what


def _batch_size(data_batch) -> Optional[int]:
    """Images in ``data_batch`` (mmdet's ``{'inputs': [...]}``), or None
    when it is missing or of another form."""
    if isinstance(data_batch, dict) and 'inputs' in data_batch:
        return len(data_batch['inputs'])
    return None
