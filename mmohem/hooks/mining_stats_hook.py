from typing import Dict, List, Optional, Tuple

import torch
from mmdet.structures.bbox import BaseBoxes, HorizontalBoxes, get_box_tensor
from mmengine.dist import all_reduce
from mmengine.hooks import Hook, LoggerHook

from ..checks import check_int
from ..registry import HOOKS
from ..sampler_configs import mistyped_message, mistyped_samplers
from ..samplers import OHEMSampler, ohem_stages

# per-image statistics averaged over an interval, logged as train/ohem_<key>
LOGGED = ('fg_fraction', 'loss_selected', 'loss_all', 'num_candidates',
          'num_examined', 'num_kept', 'num_selected', 'num_nonfinite',
          'far_bg_fraction', 'easy_fraction')
# logged when the LoggerHook is absent and no interval is given
DEFAULT_INTERVAL = 50


@HOOKS.register_module()
class MiningStatsHook(Hook):
    """Log what mmohem's OHEMSampler mines, and draw it.

    On every line the LoggerHook writes, it logs the mean over the images
    sampled since its previous line of: the foreground share of the selection,
    the mean loss of the selected RoIs and of all candidates, the candidates,
    those NMS examined and those it kept, and the other keys of :data:`LOGGED`,
    as ``train/ohem_*`` scalars of mmengine's message hub. The LoggerHook
    prints them and hands them to every visualizer backend (TensorBoard, WandB,
    local JSON) as they are: the hook tells the runner's LogProcessor to show
    its latest value, not to average it again over its ``window_size``. Its
    intervals are the LoggerHook's, in iteration- and epoch-based loops alike
    (with the LoggerHook's ``ignore_last=False``, the last, shorter interval of
    an epoch too; by default those images count towards the next line).

    A cascade's stages are logged apart, with a ``_stage<k>`` suffix
    (``ohem_fg_fraction_stage2``); HTC's interleaved pass runs a stage's
    sampler a second time on the refined boxes, and both calls are pooled in
    that stage's figures. Under DDP the figures are the mean over all ranks'
    images (one all-reduce per log line). The statistics stay on the device
    between log lines; each line waits for the device once.

    Every ``draw_interval`` iterations it draws the mined RoIs of the first
    image of the batch (foreground green, background red; rotated RoIs as
    rotated boxes) and hands the picture to the visualizer
    (``add_image('ohem_mined_rois', ...)``), which saves it with its backends
    (``vis_data/vis_image/`` for the local one).

    Use it from any config whose R-CNN sampler is ``mmohem.OHEMSampler``::

        custom_hooks = [dict(type='mmohem.MiningStatsHook')]

    Args:
        interval (int, optional): Log every ``interval`` iterations. Only
            for runs without a LoggerHook; with one, it must be None (the
            default) or the LoggerHook's interval, since a figure logged
            between two log lines would be shown stale on the next one.
            Without a LoggerHook, None means 50.
        draw_interval (int, optional): Draw every ``draw_interval``
            iterations; None: never. Defaults to None.
        max_boxes (int): Most RoIs drawn per group (hardest first).
            Defaults to 64.
    """
    priority = 'NORMAL'  # before the LoggerHook, which prints the scalars

    def __init__(self,
                 interval: Optional[int] = None,
                 draw_interval: Optional[int] = None,
                 max_boxes: int = 64) -> None:
        check_int('mmohem.MiningStatsHook', 'max_boxes', max_boxes, 1)
        for name, value in (('interval', interval), ('draw_interval',
                                                     draw_interval)):
            if value is not None:
                check_int('mmohem.MiningStatsHook', name, value, 1)
        self.interval = interval
        self.draw_interval = draw_interval
        self.max_boxes = max_boxes
        self._stages: List[Tuple[str, List[OHEMSampler]]] = []
        self._sums: Dict[str, torch.Tensor] = {}
        self._counts: Dict[str, int] = {}
        self._logger: Optional[LoggerHook] = None

    def before_train(self, runner) -> None:
        self._stages = ohem_stages(runner.model)
        if not self._stages:
            mistyped = mistyped_samplers(getattr(runner, 'cfg', None) or {})
            if mistyped:
                raise ValueError('mmohem.MiningStatsHook: ' +
                                 mistyped_message(mistyped))
            raise ValueError(
                'mmohem.MiningStatsHook needs a model whose R-CNN sampler is '
                "mmohem.OHEMSampler (model.train_cfg.rcnn.sampler.type='"
                "mmohem.OHEMSampler'); this model mines no RoIs with it. "
                'Remove the hook from custom_hooks or change the sampler.')
        loggers = [h for h in runner.hooks if isinstance(h, LoggerHook)]
        self._logger = loggers[0] if loggers else None
        if self._logger is not None:
            if self.interval not in (None, self._logger.interval):
                raise ValueError(
                    f'mmohem.MiningStatsHook: interval={self.interval}, but '
                    f'the LoggerHook writes a line every '
                    f'{self._logger.interval} iterations, and a figure '
                    'logged between two lines would be shown stale on the '
                    'next. Leave interval out (it follows the LoggerHook) or '
                    'set default_hooks.logger.interval to the interval '
                    'wanted.')
            if runner.hooks.index(self) > runner.hooks.index(self._logger):
                raise ValueError(
                    'mmohem.MiningStatsHook runs after the LoggerHook (its '
                    'priority is lower), so every line would show the '
                    "previous interval's figures. Leave its priority out "
                    "(NORMAL) or give it one above the LoggerHook's "
                    '(BELOW_NORMAL).')
            self._show_latest(runner.log_processor)
        self._sums, self._counts = {}, {}

    def _show_latest(self, log_processor) -> None:
        """Make the LogProcessor show each statistic as logged: its default
        ``mean_pattern`` matches ``ohem_loss_*``, and it would average the
        last ``window_size`` values, each already an interval's mean. A
        ``custom_cfg`` entry the user wrote for a key is left as it is."""
        custom = list(log_processor.custom_cfg or [])
        # an entry with another log_name adds a key; the statistic's own
        # key keeps the default smoothing
        taken = {cfg.get('log_name', cfg.get('data_src')) for cfg in custom}
        for suffix, _ in self._stages:
            for key in LOGGED:
                name = f'ohem_{key}{suffix}'
                if name not in taken:
                    # mean over the last 1 value: the value itself
                    custom.append(
                        dict(data_src=name, method_name='mean', window_size=1))
        log_processor.custom_cfg = custom

    def _logs_now(self, runner, batch_idx: int) -> bool:
        """Whether the LoggerHook writes a line after this iteration, or,
        without one, whether ``interval`` is reached.

        The LoggerHook's test is restated here from the Hook helpers it
        uses itself: mmengine writes it inline in
        ``LoggerHook.after_train_iter`` and has no method that answers it,
        and the figures must be in the message hub before that call reads
        them, so they cannot wait for the line to be written."""
        logger = self._logger
        if logger is None:
            return self.every_n_train_iters(runner, self.interval
                                            or DEFAULT_INTERVAL)
        if self.every_n_inner_iters(batch_idx, logger.interval):
            return True
        return (self.end_of_epoch(runner.train_dataloader, batch_idx)
                and (not logger.ignore_last
                     or len(runner.train_dataloader) <= logger.interval))

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        first_image = None
        for suffix, samplers in self._stages:
            images = [
                s for sampler in samplers for s in sampler.mining_record.pop()
            ]
            if not images:
                continue
            first_image = first_image or images[0]
            values = torch.stack([
                torch.stack([s[k].float() for k in LOGGED]) for s in images
            ]).sum(0)
            total = self._sums.get(suffix)
            self._sums[suffix] = values if total is None else total + values
            self._counts[suffix] = self._counts.get(suffix, 0) + len(images)
        if self._logs_now(runner, batch_idx):
            self._log(runner)
        if (self.draw_interval and first_image and data_batch is not None
                and self.every_n_train_iters(runner, self.draw_interval)):
            self._draw(runner, data_batch['inputs'][0], first_image)

    def _log(self, runner) -> None:
        # every rank takes part, with zeros if it sampled nothing, so that
        # the all-reduce is called the same number of times everywhere
        device = next((t.device for t in self._sums.values()),
                      torch.device('cpu'))
        rows = [
            torch.cat([
                self._sums.get(suffix, torch.zeros(len(LOGGED),
                                                   device=device)),
                torch.tensor([float(self._counts.get(suffix, 0))],
                             device=device)
            ]) for suffix, _ in self._stages
        ]
        totals = torch.stack(rows)
        all_reduce(totals)  # sums over ranks; nothing when not distributed
        for (suffix, _), row in zip(self._stages, totals.tolist()):  # sync
            count = row[-1]
            if not count:
                continue
            for key, value in zip(LOGGED, row[:-1]):
                runner.message_hub.update_scalar(f'train/ohem_{key}{suffix}',
                                                 value / count)
        self._sums, self._counts = {}, {}

    def _draw(self, runner, image: torch.Tensor, stats: dict) -> None:
        # the RoIs live in the frame of the network input, which is this
        # (resized, flipped, unpadded) image; the loader gives it BGR
        picture = image.permute(1, 2, 0).flip(-1).cpu().numpy()
        visualizer = runner.visualizer
        visualizer.set_image(picture)
        for key, colour in (('neg_boxes', 'red'), ('pos_boxes', 'lime')):
            boxes = stats[key][:self.max_boxes]
            if not len(boxes):
                continue
            if isinstance(boxes, BaseBoxes) and not isinstance(
                    boxes, HorizontalBoxes):
                # rotated RoIs as the rotated boxes they are: their corners
                corners = boxes.convert_to('qbox').tensor.cpu().view(-1, 4, 2)
                visualizer.draw_polygons(
                    list(corners), edge_colors=colour, line_widths=1)
            else:
                visualizer.draw_bboxes(
                    get_box_tensor(boxes).cpu(),
                    edge_colors=colour,
                    line_widths=1)
        visualizer.add_image(
            'ohem_mined_rois', visualizer.get_image(), step=runner.iter + 1)
