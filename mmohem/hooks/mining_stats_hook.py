from typing import Optional

import torch
from mmdet.structures.bbox import BaseBoxes, HorizontalBoxes, get_box_tensor
from mmengine.hooks import Hook

from ..checks import check_int
from ..registry import HOOKS
from ..samplers import ohem_samplers

# per-image statistics averaged over an interval, logged as train/ohem_<key>
LOGGED = ('fg_fraction', 'loss_selected', 'loss_all', 'num_candidates',
          'num_kept', 'num_selected', 'num_nonfinite', 'far_bg_fraction',
          'easy_fraction')


@HOOKS.register_module()
class MiningStatsHook(Hook):
    """Log what mmohem's OHEMSampler mines, and draw it.

    Every ``interval`` iterations it logs, averaged over the images since the
    last log, the foreground share of the selection, the mean loss of the
    selected RoIs and of all candidates, and the candidates left after NMS,
    as ``train/ohem_*`` scalars of mmengine's message hub: the logger prints
    them and every visualizer backend (TensorBoard, WandB, local JSON)
    receives them. The statistics stay on the device between logs; each log
    waits for the device once.

    Every ``draw_interval`` iterations it draws the mined RoIs of the first
    image of the batch (foreground green, background red; rotated RoIs as
    rotated boxes) and hands the
    picture to the visualizer (``add_image('ohem_mined_rois', ...)``), which
    saves it with its backends (``vis_data/vis_image/`` for the local one).

    Use it from any config whose R-CNN sampler is ``mmohem.OHEMSampler``::

        custom_hooks = [dict(type='mmohem.MiningStatsHook', interval=50)]

    Args:
        interval (int): Log every ``interval`` iterations. Defaults to 50.
        draw_interval (int, optional): Draw every ``draw_interval``
            iterations; None: never. Defaults to None.
        max_boxes (int): Most RoIs drawn per group (hardest first).
            Defaults to 64.
    """
    priority = 'NORMAL'  # before the LoggerHook, which prints the scalars

    def __init__(self,
                 interval: int = 50,
                 draw_interval: Optional[int] = None,
                 max_boxes: int = 64) -> None:
        for name, value in (('interval', interval), ('max_boxes', max_boxes),
                            ('draw_interval', draw_interval or 1)):
            check_int('mmohem.MiningStatsHook', name, value, 1)
        self.interval = interval
        self.draw_interval = draw_interval
        self.max_boxes = max_boxes
        self._sums: Optional[torch.Tensor] = None
        self._count = 0
        self._samplers: list = []

    def before_train(self, runner) -> None:
        self._samplers = ohem_samplers(runner.model)
        if not self._samplers:
            raise ValueError(
                'mmohem.MiningStatsHook needs a model whose R-CNN sampler is '
                "mmohem.OHEMSampler (model.train_cfg.rcnn.sampler.type='"
                "mmohem.OHEMSampler'); this model mines no RoIs with it. "
                'Remove the hook from custom_hooks or change the sampler.')

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        images = [
            stats for sampler in self._samplers
            for stats in sampler.pop_stats()
        ]
        if images:
            values = torch.stack([
                torch.stack([s[k].float() for k in LOGGED]) for s in images
            ]).sum(0)
            self._sums = values if self._sums is None else self._sums + values
            self._count += len(images)
        if self._count and self.every_n_train_iters(runner, self.interval):
            means = (self._sums / self._count).tolist()  # the one sync
            for key, value in zip(LOGGED, means):
                runner.message_hub.update_scalar(f'train/ohem_{key}', value)
            self._sums, self._count = None, 0
        if (self.draw_interval and images and data_batch is not None
                and self.every_n_train_iters(runner, self.draw_interval)):
            self._draw(runner, data_batch['inputs'][0], images[0])

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
