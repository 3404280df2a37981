import logging
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
from mmdet.models.task_modules.assigners import AssignResult
from mmdet.models.task_modules.samplers import BaseSampler, SamplingResult
from mmdet.structures.bbox import (BaseBoxes, bbox2roi, cat_boxes,
                                   get_box_tensor)
from mmengine.logging import print_log
from mmengine.structures import InstanceData
from torch import Tensor

from ..checks import check_loss_weights, check_sampler_args
from ..registry import TASK_UTILS
from . import scoring_mode
from .box_nms import horizontal_nms, nms_for
from .hard_selection import select_hard
from .head_support import (HeadNotSupportedError, check_head, unscored_terms,
                           why_no_box_loss, why_no_cls_loss)
from .mining_record import MinedImage, MiningRecord
from .roi_loss import LOSS_KEYS, BoxTypes, per_roi_loss

OWNER = 'mmohem.OHEMSampler'  # how errors name the sampler


@TASK_UTILS.register_module()
class OHEMSampler(BaseSampler):
    r"""Online Hard Example Mining, as in `Training Region-based Object
    Detectors with Online Hard Example Mining
    <https://arxiv.org/abs/1604.03540>`_ (Shrivastava, Gupta and Girshick,
    CVPR 2016).

    For each image the RoI head's bbox branch scores **all** candidate RoIs
    (the proposals, plus the ground-truth boxes when ``add_gt_as_proposals``)
    in one read-only pass: eval mode, no gradients, on the features' device,
    in chunks of at most ``chunk_size`` RoIs. Each RoI's loss is the head's
    own classification loss plus, for foreground RoIs, its own regression
    loss. RoIs are ranked by that loss, class-aware NMS removes lower-loss
    RoIs that overlap a selected one, and the ``num`` hardest remain.

    Unlike mmdet's ``OHEMSampler`` this mines foreground and background
    together (no quota unless ``pos_fraction`` is set), ranks by the full loss,
    applies NMS, scores in eval mode (no normalization statistics change) and
    runs one forward per image.

    Non-finite losses (NaN or inf) are ranked after every finite one, so they
    fill the budget only when fewer than ``num`` finite candidates remain.
    A candidate whose box has a NaN or infinite coordinate (a diverging
    RPN's) is never selected and never suppresses another: it goes through
    the scoring pass and the NMS as an empty box (mmcv's rotated RoI ops
    crash the process on the box itself), its loss is set to NaN and it is
    ranked with the ignored RoIs. Both are counted in the mining statistics
    (``mining_record``, a :class:`~mmohem.samplers.mining_record.MiningRecord`
    that hooks such as ``MiningStatsHook`` read; computed only when read).

    :meth:`roi_losses`, the scoring pass on its own, is public: tests and
    benchmarks compare it with the head's own losses.

    Args:
        num (int): RoIs kept per image (the paper's B/N).
        pos_fraction (float, optional): None for pure OHEM (the paper). A
            float in (0, 1] switches to ratio mode: at most
            ``int(num * pos_fraction)`` foreground RoIs, the rest background,
            each group mined by loss. Defaults to None.
        context (nn.Module): The RoI head that builds the sampler; mmdet
            passes it. Must have a bbox branch (``bbox_head`` and
            ``_bbox_forward``).
        nms_iou_thr (float, optional): IoU threshold of the class-aware NMS
            among candidates ranked by loss; None disables NMS.
            Defaults to 0.7.
        loss_keys (Sequence[str], optional): Per-RoI terms summed into the
            ranking loss, from ``('loss_cls', 'loss_bbox')``. None (the
            default): both, or ``loss_cls`` alone for a bbox head that
            predicts no box deltas (Grid R-CNN, SABL), decided at build time
            and logged.
        neg_pos_ub (int): A ratio, not a count: at most
            ``neg_pos_ub * max(1, num_pos)`` background RoIs, e.g. 3 for
            1:3; -1 for no bound. Defaults to -1.
        add_gt_as_proposals (bool): Add ground-truth boxes to the candidates.
            Defaults to True.
        chunk_size (int): Most RoIs scored in one forward, bounding the
            memory of the scoring pass. Defaults to 2048.
        loss_weights (dict[str, float], optional): Weight of each ranking
            term, e.g. ``dict(loss_cls=1., loss_bbox=2.)`` (TF's
            ``cls_loss_weight`` and ``loc_loss_weight``): RoIs are ranked by
            the weighted sum. Terms not named weigh 1; only terms the
            sampler scores (``loss_keys``) may be named. Defaults to None
            (all 1: the head's own sum).
        min_negatives (int): Least background RoIs selected per image,
            where NMS left that many (TF's ``min_negatives_per_image``): the
            lowest-ranked foreground RoIs give up their places; with
            ``neg_pos_ub`` the background bound never falls below it. At
            most ``num``. Defaults to 0.
        class_agnostic_nms (bool): NMS across classes and background (TF's
            choice); False keeps the paper's per-class NMS. Defaults to
            False.
    """

    def __init__(self,
                 num: int,
                 pos_fraction: Optional[float] = None,
                 context=None,
                 nms_iou_thr: Optional[float] = 0.7,
                 loss_keys: Union[str, Sequence[str], None] = None,
                 neg_pos_ub: int = -1,
                 add_gt_as_proposals: bool = True,
                 chunk_size: int = 2048,
                 loss_weights: Optional[Dict[str, float]] = None,
                 min_negatives: int = 0,
                 class_agnostic_nms: bool = False) -> None:
        loss_keys = check_sampler_args(
            OWNER,
            LOSS_KEYS,
            num=num,
            pos_fraction=pos_fraction,
            nms_iou_thr=nms_iou_thr,
            loss_keys=loss_keys,
            neg_pos_ub=neg_pos_ub,
            chunk_size=chunk_size,
            min_negatives=min_negatives,
            class_agnostic_nms=class_agnostic_nms)
        if not (hasattr(context, 'bbox_head')
                and hasattr(context, '_bbox_forward')):
            raise HeadNotSupportedError(
                f'{OWNER} scores RoIs with an R-CNN bbox branch, but it was '
                f'built for {type(context).__name__}, which has none (no '
                'bbox_head/_bbox_forward). OHEM belongs in '
                'train_cfg.rcnn.sampler; keep RandomSampler in '
                'train_cfg.rpn.sampler.')
        self.scoring_inputs = check_head(context)
        super().__init__(num, pos_fraction, neg_pos_ub, add_gt_as_proposals)
        self.context = context
        self.nms_iou_thr = nms_iou_thr
        self.chunk_size = chunk_size
        # A cascade head builds one sampler per stage and sets
        # `current_stage` while doing so: remember which stage this one mines.
        self.stage = context.current_stage if hasattr(context,
                                                      'num_stages') else None
        self.loss_keys = self._decide_loss_keys(loss_keys)
        self.loss_weights = check_loss_weights(OWNER, loss_weights,
                                               self.loss_keys)
        self.min_negatives = min_negatives
        self.class_agnostic_nms = class_agnostic_nms
        self.mining_record = MiningRecord()

    def _decide_loss_keys(self, loss_keys: Optional[tuple]) -> tuple:
        """Both terms unless the head cannot score its box loss per RoI;
        then the classification loss, said once in the log. A classification
        loss that cannot be scored per RoI is refused where it is asked for
        (by default too)."""
        no_box = why_no_box_loss(self.bbox_head)
        where = type(self.context).__name__ + ('' if self.stage is None else
                                               f' stage {self.stage}')
        no_cls = why_no_cls_loss(self.bbox_head)
        if no_cls is not None and 'loss_cls' in (loss_keys or LOSS_KEYS):
            fix = ("loss_keys=('loss_bbox',) (rank by the box loss alone) "
                   'or ' if no_box is None else '')
            raise ValueError(
                f'{OWNER} in {where}: {no_cls}, so mmohem cannot '
                f'rank RoIs by it. Use {fix}a classification loss with one '
                'value per RoI (CrossEntropyLoss, FocalLoss, SeesawLoss), '
                'or keep RandomSampler for this head.')
        if loss_keys is None:
            if no_box is None:
                self._say_what_is_left_out(where)
                return LOSS_KEYS
            print_log(
                f'{OWNER} in {where}: {no_box}, so RoIs are '
                'ranked by their classification loss (loss_cls) alone.',
                logger='current',
                level=logging.INFO)
            return ('loss_cls', )
        if 'loss_bbox' in loss_keys and no_box is not None:
            raise ValueError(
                f"{OWNER} in {where}: loss_keys has 'loss_bbox', "
                f"but {no_box}. Use loss_keys=('loss_cls',) or leave "
                'loss_keys unset (the sampler then ranks by loss_cls).')
        return loss_keys

    def _say_what_is_left_out(self, where: str) -> None:
        """Log the head's loss terms that the ranking loss leaves out
        (e.g. Gliding Vertex's ``loss_fix`` and ``loss_ratio``)."""
        others = unscored_terms(self.bbox_head, LOSS_KEYS)
        if others:
            print_log(
                f'{OWNER} in {where}: '
                f'{type(self.bbox_head).__name__} trains with '
                f"{', '.join(others)} besides loss_cls and loss_bbox; mmohem "
                'scores only loss_cls and loss_bbox per RoI, so RoIs are '
                'ranked without them.',
                logger='current',
                level=logging.INFO)

    @property
    def bbox_head(self):
        """The bbox head whose losses rank the RoIs (this stage's)."""
        return self.of_stage(self.context.bbox_head)

    def of_stage(self, modules):
        """This sampler's stage's item of a cascade head's per-stage
        ``modules`` (bbox heads, extractors, assigners); ``modules`` itself
        in a single-stage head."""
        return modules if self.stage is None else modules[self.stage]

    def _sample_pos(self, *args, **kwargs):
        raise NotImplementedError(
            'OHEMSampler mines foreground and background together; use '
            'sample().')

    _sample_neg = _sample_pos

    def sample(self,
               assign_result: AssignResult,
               pred_instances: InstanceData,
               gt_instances: InstanceData,
               feats: Optional[Sequence[Tensor]] = None,
               **kwargs) -> SamplingResult:
        """Select the hardest RoIs of one image.

        Args:
            assign_result (:obj:`AssignResult`): Assignment of the priors.
            pred_instances (:obj:`InstanceData`): Has ``priors``, the
                candidate RoIs of this image: (n, 4) axis-aligned boxes (a
                tensor or ``HorizontalBoxes``) or rotated ``'rbox'`` boxes.
            gt_instances (:obj:`InstanceData`): Has ``bboxes`` and ``labels``.
            feats (Sequence[Tensor]): This image's multi-level features,
                each with a batch dimension of 1, as the RoI heads pass them.

        Returns:
            :obj:`SamplingResult`: The selected RoIs.
        """
        if feats is None:
            raise ValueError(
                f'{OWNER} needs the image features: call sample() '
                'with feats=[...] as StandardRoIHead and CascadeRoIHead do.')
        priors, gt_flags = self._candidates(assign_result, pred_instances,
                                            gt_instances)
        num_classes = self.bbox_head.num_classes
        gt_inds = assign_result.gt_inds
        # foreground: its class; background (gt_inds 0): num_classes;
        # ignored (gt_inds < 0): above num_classes, never selected, and
        # ranked after every other RoI, so it never suppresses one in NMS
        groups = torch.where(gt_inds > 0, assign_result.labels,
                             num_classes - gt_inds)
        # mmcv's rotated RoI ops can crash the process on a box with a NaN
        # or infinite coordinate (a diverging RPN's): it goes through the
        # scoring pass and the NMS as an empty box, its loss is NaN and it
        # is never selected
        raw_boxes = get_box_tensor(priors)
        usable = torch.isfinite(raw_boxes).all(1)
        empty = raw_boxes.new_zeros(())
        boxes = torch.where(usable[:, None], raw_boxes, empty)
        selectable = groups.masked_fill(~usable, num_classes + 1)
        # the box kinds the head's coder is given (rotated, quadrilateral
        # ground truth): as the head's own loss receives them
        box_types = BoxTypes(_box_type(priors), _box_type(gt_instances.bboxes))
        # contiguous: index_select takes a slow path on strided boxes
        gt_boxes = get_box_tensor(gt_instances.bboxes).contiguous()
        if len(gt_boxes) > 0:
            targets = gt_boxes.index_select(0, (gt_inds - 1).clamp_(min=0))
        else:
            # no foreground: the targets are never used, but they must be
            # boxes of the ground truth's kind for its coder (a copy: some
            # coders regularize their input in place)
            targets = get_box_tensor(_as_kind(priors, box_types.targets))
            targets = targets.clone() if targets is raw_boxes else targets

        # the NMS of the RoIs' box type (axis-aligned or rotated): an unknown
        # type is refused before the scoring pass; without NMS any box type
        # is ranked
        nms = horizontal_nms if self.nms_iou_thr is None else nms_for(priors)
        loss = self.roi_losses(feats, boxes, groups, targets, box_types)
        loss = loss.masked_fill(~usable, float('nan'))
        selection = select_hard(
            loss,
            boxes,
            selectable,
            num_classes,
            self.num,
            pos_fraction=self.pos_fraction,
            nms_iou_thr=self.nms_iou_thr,
            neg_pos_ub=self.neg_pos_ub,
            nms=nms,
            min_negatives=self.min_negatives,
            class_agnostic_nms=self.class_agnostic_nms)
        self.mining_record.add(
            MinedImage(loss, selection, priors, groups,
                       assign_result.max_overlaps))
        return SamplingResult(
            pos_inds=selection.pos_inds,
            neg_inds=selection.neg_inds,
            priors=priors,
            gt_bboxes=gt_instances.bboxes,
            assign_result=assign_result,
            gt_flags=gt_flags)

    def _candidates(
            self, assign_result: AssignResult, pred_instances: InstanceData,
            gt_instances: InstanceData
    ) -> Tuple[Union[Tensor, BaseBoxes], Tensor]:
        """The candidate RoIs and their GT flags: the proposals, after the
        ground-truth boxes when ``add_gt_as_proposals`` (``assign_result``
        is extended to match, as ``BaseSampler.sample`` does)."""
        priors = pred_instances.priors
        gt_bboxes = gt_instances.bboxes
        if len(priors.shape) < 2:
            priors = priors[None, :]
        gt_flags = priors.new_zeros((priors.shape[0], ), dtype=torch.uint8)
        if self.add_gt_as_proposals and len(gt_bboxes) > 0:
            gt_bboxes = _as_kind(gt_bboxes, _box_type(priors))
            priors = cat_boxes([gt_bboxes, priors], dim=0)
            assign_result.add_gt_(gt_instances.labels)
            gt_flags = torch.cat(
                [priors.new_ones(len(gt_bboxes), dtype=torch.uint8), gt_flags])
        return priors, gt_flags

    def _bbox_forward(self, feats: Sequence[Tensor], rois: Tensor,
                      inputs: dict) -> dict:
        if self.stage is None:
            return self.context._bbox_forward(feats, rois, **inputs)
        return self.context._bbox_forward(self.stage, feats, rois, **inputs)

    def roi_losses(self,
                   feats: Sequence[Tensor],
                   boxes: Tensor,
                   groups: Tensor,
                   targets: Tensor,
                   box_types: BoxTypes = BoxTypes(),
                   read_only: bool = True) -> Tensor:
        """The ranking loss of each RoI of one image under the current
        weights: the scoring pass of :meth:`sample`.

        The head's bbox branch runs on the RoIs in chunks of at most
        ``chunk_size``, without gradients, with the inputs its training
        forward gives it; each RoI's loss is the weighted sum of the
        ``loss_keys`` terms of the head's own loss modules.

        Args:
            feats (Sequence[Tensor]): The image's multi-level features,
                each with a batch dimension of 1.
            boxes (Tensor): The RoIs' box tensors, (n, 4) or (n, 5).
            groups (Tensor): Each RoI's label: a class, ``num_classes`` for
                background (no box loss), above it for ignored RoIs.
            targets (Tensor): Each RoI's matched ground-truth box tensor
                (any box for background RoIs).
            box_types (BoxTypes): The box types of the RoIs and of the
                targets, as the head's coder expects them; plain tensors
                by default.
            read_only (bool): Score in eval mode, every module's mode and
                any stateful loss's buffers restored afterwards (what
                :meth:`sample` does). False scores in the modules' current
                modes (in training: dropout active, normalization layers
                updating their statistics), as mmdet's ``OHEMSampler``
                does; for comparisons. Defaults to True.

        Returns:
            Tensor: The loss of each RoI, shape (n, ), float32.
        """
        num_rois = boxes.shape[0]
        if num_rois == 0:
            return boxes.new_zeros((0, ), dtype=torch.float32)
        head = self.bbox_head
        rois = bbox2roi([boxes])
        if num_rois <= self.chunk_size:
            chunks = [(rois, groups, targets)]
        else:
            chunks = zip(*(t.split(self.chunk_size)
                           for t in (rois, groups, targets)))
        losses = []
        stateful = [getattr(head, key) for key in self.loss_keys]
        mode = scoring_mode.read_only if read_only else scoring_mode.as_is
        with mode(self.context, stateful=stateful):
            # head-specific inputs (HTC's semantic features, ...), computed
            # from this image's features as the training forward does
            inputs = ({} if self.scoring_inputs is None else
                      self.scoring_inputs(self.context, feats))
            for chunk_rois, chunk_groups, chunk_targets in chunks:
                results = self._bbox_forward(feats, chunk_rois, inputs)
                losses.append(
                    per_roi_loss(head, results['cls_score'],
                                 results['bbox_pred'], chunk_rois,
                                 chunk_groups, chunk_targets, self.loss_keys,
                                 box_types, self.loss_weights))
        return losses[0] if len(losses) == 1 else torch.cat(losses)


def _box_type(boxes) -> Optional[type]:
    """The box type of ``boxes``; None for a plain tensor."""
    return type(boxes) if isinstance(boxes, BaseBoxes) else None


def _as_kind(boxes, box_type: Optional[type]):
    """``boxes`` converted to ``box_type`` (as they are if None or if they
    are plain tensors)."""
    if box_type is None or not isinstance(boxes, BaseBoxes) or isinstance(
            boxes, box_type):
        return boxes
    return boxes.convert_to(box_type)
