"""Research-only samplers for the ablation (``mmohem ablate``), not product
defaults: they exist to measure what one of the paper's choices is worth.

They build on ``mmohem.OHEMSampler``'s public API (``sample()``,
``roi_losses()``, ``mining_record``) and mmdet's ``RandomSampler``, and are
registered under the scope ``mmohem_benchmark``
(``type='mmohem_benchmark.ResearchOHEMSampler'``) when the benchmark's
training process (:mod:`mmohem_benchmark.train_one`) imports this module;
configs outside the benchmark should not use them.
"""
import math

import torch
from mmdet.models.task_modules.samplers import RandomSampler, SamplingResult
from mmengine.logging import MessageHub
from mmengine.structures import InstanceData

from mmohem.samplers import OHEMSampler
from .registry import TASK_UTILS


@TASK_UTILS.register_module()
class TrainModeScoringOHEMSampler(OHEMSampler):
    """``mmohem.OHEMSampler`` that scores the RoIs in the model's current
    mode, as mmdet's built-in ``OHEMSampler`` does: during training, dropout
    is active and normalization layers use batch statistics and update their
    running statistics with every scored RoI. Everything else (ranking,
    NMS, selection) is mmohem's.

    Research only: it isolates the scoring mode in the ablation.
    """

    def roi_losses(self, *args, **kwargs):
        kwargs['read_only'] = False
        return super().roi_losses(*args, **kwargs)


@TASK_UTILS.register_module()
class ResearchOHEMSampler(OHEMSampler):
    """``mmohem.OHEMSampler`` with the end-to-end remedies the ablation
    tries (docs/results.md); research only until one earns its place in the
    product sampler.

    Args:
        num (int): RoIs per image, mined and drawn at random together.
        warmup_iters (int): For the first ``warmup_iters`` training
            iterations (mmengine's message hub says which), sample with
            mmdet's ``RandomSampler``: at most ``pos_fraction`` (0.25 if
            None) of the RoIs foreground, no scoring forward. Defaults to 0.
        random_fraction (float): Share of ``num`` drawn at random from the
            candidates that mining did not pick (part hard, part random);
            the mining statistics describe the mined part. Defaults to 0.
        num_random_rois (int): Random boxes added to each image's candidates
            (a wider pool, with the easy background an RPN filters out),
            labelled by the RoI head's own assigner. Defaults to 0.
        **kwargs: ``mmohem.OHEMSampler``'s other arguments.
    """

    def __init__(self,
                 num: int,
                 *args,
                 warmup_iters: int = 0,
                 random_fraction: float = 0.0,
                 num_random_rois: int = 0,
                 **kwargs) -> None:
        if not 0 <= random_fraction < 1:
            raise ValueError('random_fraction must be in [0, 1), got '
                             f'{random_fraction!r}')
        self.num_random = int(round(num * random_fraction))
        # the mined part's budget
        super().__init__(num - self.num_random, *args, **kwargs)
        self.warmup_iters = warmup_iters
        self.num_random_rois = num_random_rois
        self.random_sampler = RandomSampler(
            num,
            self.pos_fraction or 0.25,
            neg_pos_ub=self.neg_pos_ub,
            add_gt_as_proposals=self.add_gt_as_proposals)

    def _warming_up(self) -> bool:
        iteration = MessageHub.get_current_instance().get_info('iter')
        return iteration is not None and iteration < self.warmup_iters

    def sample(self,
               assign_result,
               pred_instances,
               gt_instances,
               feats=None,
               **kwargs) -> SamplingResult:
        if self._warming_up():
            return self.random_sampler.sample(assign_result, pred_instances,
                                              gt_instances)
        if self.num_random_rois:
            pred_instances = self._widen(assign_result, pred_instances,
                                         gt_instances, feats)
        hard = super().sample(
            assign_result, pred_instances, gt_instances, feats=feats)
        if not self.num_random:
            return hard
        # random keys; the mined and the unselectable RoIs are never drawn
        mined = self.mining_record[-1]
        keys = torch.rand(len(mined.loss), device=mined.loss.device)
        keys[torch.cat([hard.pos_inds, hard.neg_inds])] = -1
        keys[mined.selection.groups > self.bbox_head.num_classes] = -1
        drawn = keys.topk(min(self.num_random, len(keys))).indices
        drawn = drawn[keys[drawn] >= 0]
        is_pos = mined.groups[drawn] < self.bbox_head.num_classes
        gt_flags = torch.zeros(
            len(mined.loss), dtype=torch.uint8, device=drawn.device)
        if self.add_gt_as_proposals:
            gt_flags[:hard.num_gts] = 1
        return SamplingResult(
            pos_inds=torch.cat([hard.pos_inds, drawn[is_pos]]),
            neg_inds=torch.cat([hard.neg_inds, drawn[~is_pos]]),
            priors=mined.priors,
            gt_bboxes=gt_instances.bboxes,
            assign_result=assign_result,
            gt_flags=gt_flags)

    def _widen(self, assign_result, pred_instances, gt_instances, feats):
        """``pred_instances`` with ``num_random_rois`` random boxes after
        the proposals; ``assign_result`` extended with their assignment."""
        priors = pred_instances.priors
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
        return InstanceData(priors=torch.cat([priors, extra.to(priors.dtype)]))


def _random_boxes(num: int, width: int, height: int, device) -> torch.Tensor:
    """Boxes with log-uniform sides (8 px to the image) anywhere inside."""
    side = torch.exp(
        torch.empty(num, 2, device=device).uniform_(
            math.log(8), math.log(min(width, height))))
    corner = torch.rand(
        num, 2, device=device) * (
            torch.tensor([width, height], device=device) - side)
    return torch.cat([corner, corner + side], dim=1)
