from typing import Optional

import torch
from mmengine.hooks import Hook

from ..checks import check_int
from ..registry import HOOKS
from ..samplers import ohem_samplers


@HOOKS.register_module()
class FiniteLossHook(Hook):
    """Stop training with a clear error when the loss turns NaN or infinite.

    It runs before the checkpoint hook, so no checkpoint is written with the
    diverged weights; the checkpoints already in the work dir stay as they
    were. mmdet's ``CheckInvalidLossHook`` stops too, but with a bare
    ``AssertionError: None``. Use it from any config::

        custom_hooks = [dict(type='mmohem.FiniteLossHook', interval=1)]

    Args:
        interval (int): Check every ``interval`` iterations; each check waits
            for the device once. Defaults to 1.
    """
    priority = 'VERY_HIGH'

    def __init__(self, interval: int = 1) -> None:
        check_int('mmohem.FiniteLossHook', 'interval', interval, 1)
        self.interval = interval

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        if not outputs or not self.every_n_train_iters(runner, self.interval):
            return
        loss = outputs['loss']
        if torch.isfinite(loss).all():
            return
        bad = [
            name for name, value in outputs.items()
            if 'loss' in name and not torch.isfinite(value).all()
        ]
        nonfinite = sum(
            int(s['num_nonfinite']) for sampler in ohem_samplers(runner.model)
            for s in sampler.peek_stats(last=len(data_batch['inputs'])))
        ohem = (f' OHEM scored {nonfinite} RoIs of this batch with a '
                'non-finite loss, so the features were already NaN/inf.'
                if nonfinite else '')
        raise FloatingPointError(
            f'The training loss is {float(loss)} at iteration '
            f'{runner.iter + 1} (non-finite: {", ".join(bad)}).{ohem} '
            'Training stops before any checkpoint is written with these '
            'weights; the checkpoints in the work dir are unchanged. Lower '
            'the learning rate, clip gradients (optim_wrapper=dict('
            'clip_grad=dict(max_norm=35, norm_type=2))) or check the data, '
            'then resume from the last checkpoint.')
