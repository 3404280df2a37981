import math
from typing import List, Optional

import torch
from mmengine.hooks import Hook

from ..checks import check_int
from ..registry import HOOKS
from ..samplers import ohem_samplers


@HOOKS.register_module()
class FiniteLossHook(Hook):
    """Stop training with a clear error when the loss or the weights turn
    NaN or infinite.

    Every iteration it notes whether the loss is finite (its value is on the
    host already: mmengine's RuntimeInfoHook has logged it); every
    ``interval`` iterations, and before every checkpoint is saved, it stops
    the run if any loss since the last check was not. Before a checkpoint is
    saved it also checks the weights being saved: a finite loss can still
    give a NaN gradient, and under DDP another rank's NaN reaches the
    weights of all through the gradients' all-reduce while rank 0, which
    saves the checkpoints, still saw a finite loss. So no checkpoint is
    written with non-finite weights or after the loss diverged, whatever
    the interval, and the checkpoints already in the work dir stay as they
    were. mmdet's ``CheckInvalidLossHook`` stops too, but with a bare
    ``AssertionError: None``. Use it from any config::

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
        bad = _nonfinite_weights(checkpoint.get('state_dict', {}))
        if bad:
            shown = ', '.join(bad[:3]) + (', ...' if len(bad) > 3 else '')
            # the Runner's count of iterations done, in either loop
            done = checkpoint.get('meta', {}).get('iter', runner.iter)
            self._diverged = (
                f'{len(bad)} weight tensor(s) to be saved after iteration '
                f'{done} are not finite ({shown}) although this rank\'s '
                "loss was: a NaN/inf gradient, or under DDP another rank's "
                'loss')
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
            for s in sampler.mining_record.peek(last=batch_size))
        if nonfinite:
            what += (f'. OHEM scored {nonfinite} RoIs of this batch with a '
                     'non-finite loss, so the features were already NaN/inf')
    return what


def _nonfinite_weights(state_dict: dict) -> List[str]:
    """The names of the floating-point tensors of ``state_dict`` that hold
    a NaN or an infinity (mmengine hands it over on the CPU)."""
    names = [
        name for name, value in state_dict.items()
        if isinstance(value, torch.Tensor) and value.is_floating_point()
    ]
    if not names:
        return []
    finite = torch.stack(
        [torch.isfinite(state_dict[name]).all() for name in names]).tolist()
    return [name for name, ok in zip(names, finite) if not ok]


def _batch_size(data_batch) -> Optional[int]:
    """Images in ``data_batch`` (mmdet's ``{'inputs': [...]}``), or None
    when it is missing or of another form."""
    if isinstance(data_batch, dict) and 'inputs' in data_batch:
        return len(data_batch['inputs'])
    return None
