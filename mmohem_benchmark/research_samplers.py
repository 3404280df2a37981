"""Research-only samplers for the ablation (``mmohem ablate``), not product
defaults: they exist to measure what one of the paper's choices is worth.

They subclass ``mmohem.OHEMSampler`` through its documented extension points
and are registered under the scope ``mmohem_benchmark``
(``type='mmohem_benchmark.ResearchOHEMSampler'``) when the benchmark's
training process (:mod:`mmohem_benchmark.train_one`) imports this module;
configs outside the benchmark should not use them.
"""
import math
from contextlib import contextmanager
from typing import Iterator

import torch
from mmengine.logging import MessageHub
from mmengine.structures import InstanceData

from mmohem.samplers import OHEMSampler, select_hard
from mmohem.samplers.box_nms import horizontal_nms
from .registry import TASK_UTILS


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


@TASK_UTILS.register_module()
class ResearchOHEMSampler(OHEMSampler):
    """``mmohem.OHEMSampler`` with the end-to-end remedies the ablation
    tries (docs/results.md); research only until one earns its place in the
    product sampler.

    Args:
        warmup_iters (int): For the first ``warmup_iters`` training
            iterations (mmengine's message hub says which), sample like
            ``RandomSampler``: random RoIs, at most ``pos_fraction`` (0.25 if
            None) of them foreground, no scoring forward. Defaults to 0.
        random_fraction (float): Share of ``num`` drawn at random from the
            candidates that mining did not pick (part hard, part random).
            Defaults to 0.
        num_random_rois (int): Random boxes added to each image's candidates
            (a wider pool, with the easy background an RPN filters out),
            labelled by the RoI head's own assigner. Defaults to 0.
        **kwargs: ``mmohem.OHEMSampler``'s arguments.
    """

    def __init__(self,
                 *args,
                 warmup_iters: int = 0,
                 random_fraction: float = 0.0,
                 num_random_rois: int = 0,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not 0 <= random_fraction < 1:
            raise ValueError('random_fraction must be in [0, 1), got '
                             f'{random_fraction!r}')
        self.warmup_iters = warmup_iters
        self.random_fraction = random_fraction
        self.num_random_rois = num_random_rois

    def _warming_up(self) -> bool:
        iteration = MessageHub.get_current_instance().get_info('iter')
        return iteration is not None and iteration < self.warmup_iters

    def _candidates(self, assign_result, pred_instances, gt_instances, feats):
        priors, gt_flags = super()._candidates(assign_result, pred_instances,
                                               gt_instances, feats)
        if not self.num_random_rois:
            return priors, gt_flags
        extractor = self.of_stage(self.context.bbox_roi_extractor)
        # the padded input's extent, from the finest feature map
        height, width = (
            size * extractor.featmap_strides[0]
            for size in feats[0].shape[-2:])
        extra = _random_boxes(self.num_random_rois, width, height,
                              priors.device)
        more = self.of_stage(self.context.bbox_assigner).assign(
            InstanceData(priors=extra), gt_instances)
        assign_result.gt_inds = torch.cat(
            [assign_result.gt_inds, more.gt_inds])
        assign_result.max_overlaps = torch.cat(
            [assign_result.max_overlaps, more.max_overlaps])
        assign_result.labels = torch.cat([assign_result.labels, more.labels])
        return (torch.cat([priors, extra.to(priors.dtype)]),
                torch.cat([gt_flags, gt_flags.new_zeros(len(extra))]))

    def _score(self, feats, boxes, groups, targets, *args):
        if self._warming_up():  # random "losses": a random order
            return torch.rand(len(boxes), device=boxes.device)
        return super()._score(feats, boxes, groups, targets, *args)

    def _select(self, loss, boxes, groups, nms=horizontal_nms):
        num_classes = self.bbox_head.num_classes
        if self._warming_up():
            return select_hard(
                loss,
                boxes,
                groups,
                num_classes,
                self.num,
                pos_fraction=self.pos_fraction or 0.25,
                nms_iou_thr=None,
                neg_pos_ub=self.neg_pos_ub)
        num_random = int(round(self.num * self.random_fraction))
        hard = super()._select(
            loss, boxes, groups, self.num - num_random, nms=nms)
        if not num_random:
            return hard
        # random keys; the mined and the invalid RoIs can never be drawn
        keys = torch.rand(len(loss), device=loss.device)
        keys[torch.cat([hard.pos_inds, hard.neg_inds])] = -1
        keys[groups > num_classes] = -1
        drawn = keys.topk(min(num_random, len(keys))).indices
        drawn = drawn[keys[drawn] >= 0]
        is_pos = groups[drawn] < num_classes
        return hard._replace(
            pos_inds=torch.cat([hard.pos_inds, drawn[is_pos]]),
            neg_inds=torch.cat([hard.neg_inds, drawn[~is_pos]]))


def _random_boxes(num: int, width: int, height: int, device) -> torch.Tensor:
    """Boxes with log-uniform sides (8 px to the image) anywhere inside."""
    side = torch.exp(
        torch.empty(num, 2, device=device).uniform_(
            math.log(8), math.log(min(width, height))))
    corner = torch.rand(
        num, 2, device=device) * (
            torch.tensor([width, height], device=device) - side)
    return torch.cat([corner, corner + side], dim=1)
