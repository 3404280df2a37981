from typing import Optional

import torch
from mmengine.hooks import Hook

from ..checks import check_int
from ..registry import HOOKS
from ..samplers import ohem_samplers


@HOOKS.register_module()
class FiniteLossHook(Hook):
    """Stop training with a clear error when the loss turns NaN or infinite.

    Every iteration it notes, on the device and without waiting for it,
    whether the loss is finite; every ``interval`` iterations, and before
    every checkpoint is saved, it waits for the device once and stops the run
    if any loss since the last check was not. So no checkpoint is written
    with diverged weights, whatever the interval, and the checkpoints
    already in the work dir stay as they were. mmdet's
    ``CheckInvalidLossHook`` stops too, but with a bare ``AssertionError:
    None``. Use it from any config::

        custom_hooks = [dict(type='mmohem.FiniteLossHook', interval=1)]

    Args:
        interval (int): Check every ``interval`` iterations (and before each
            checkpoint); each check waits for the device once. Defaults to 1.
    """
    priority = 'VERY_HIGH'  # before the CheckpointHook of the same iteration

    def __init__(self, interval: int = 1) -> None:
        check_int('mmohem.FiniteLossHook', 'interval', interval, 1)
        self.interval = interval
        # the first iteration (1-based) whose loss was not finite since the
        # last check, 0 if none; a device tensor, updated without a sync
        self._first_bad: Optional[torch.Tensor] = None

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        if not outputs or 'loss' not in outputs:
            return
        loss = outputs['loss']
        bad = ~torch.isfinite(loss).all()
        first = self._first_bad
        if first is None:
            first = torch.zeros((), dtype=torch.long, device=loss.device)
        self._first_bad = torch.where(bad & (first == 0),
                                      torch.full_like(first, runner.iter + 1),
                                      first)
        if self.every_n_train_iters(runner, self.interval):
            self._check(runner, outputs, _batch_size(data_batch))

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        self._check(runner)

    def _check(self,
               runner,
               outputs: Optional[dict] = None,
               batch_size: Optional[int] = None) -> None:
        if self._first_bad is None:
            return
        first = int(self._first_bad)  # the one sync
        self._first_bad = None
        if not first:
            return
        what = f'The training loss was not finite at iteration {first}'
        detail = ''
        if outputs is not None and first == runner.iter + 1:
            # the check runs on the iteration that diverged: say what
            what = (f"The training loss is {float(outputs['loss'])} at "
                    f'iteration {first}')
            bad = [
                name for name, value in outputs.items()
                if 'loss' in name and isinstance(value, torch.Tensor)
                and not torch.isfinite(value).all()
            ]
            detail = f' (non-finite: {", ".join(bad)})'
            if batch_size:
                nonfinite = sum(
                    int(s['num_nonfinite'])
                    for sampler in ohem_samplers(runner.model)
                    for s in sampler.peek_stats(last=batch_size))
                if nonfinite:
                    detail += (f'. OHEM scored {nonfinite} RoIs of this '
                               'batch with a non-finite loss, so the '
                               'features were already NaN/inf')
        raise FloatingPointError(
            f'{what}{detail}. Training stops at iteration '
            f'{runner.iter + 1}, before any checkpoint is written with '
            'these weights; the checkpoints in the work dir are unchanged. '
            'Lower the learning rate, clip gradients (optim_wrapper=dict('
            'clip_grad=dict(max_norm=35, norm_type=2))) or check the data, '
            'then resume from the last checkpoint.')


def _batch_size(data_batch) -> Optional[int]:
    """Images in ``data_batch`` (mmdet's ``{'inputs': [...]}``), or None
    when it is missing or of another form."""
    if isinstance(data_batch, dict) and 'inputs' in data_batch:
        return len(data_batch['inputs'])
    return None
