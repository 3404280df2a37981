"""A synthetic training batch for any detector config, one training step on
it, and what a two-stage detector's R-CNN sampler is given for it: what the
compatibility sweep runs per config, and the seeded detector and batch that
the cost benchmarks time and tests/test_selection_record.py checks.

The inputs come from mmdet's own test helpers (``mmdet.testing``), with the
annotations the model's heads need: masks for a mask head, a semantic map
for a semantic or panoptic head, proposals for a detector without an RPN,
video frames for a tracker.
"""
import copy
import math
from typing import List, Optional, Tuple, Union

import numpy as np
import torch
from mmdet.structures.bbox import get_box_tensor
from mmengine.config import Config
from mmengine.structures import InstanceData
from torch import nn

from mmohem.tools.config_swap import has_key
from mmohem.tools.scope import build_model

TRACKERS = ('QDTrack', 'MaskTrackRCNN', 'DeepSORT', 'StrongSORT', 'ByteTrack',
            'OCSORT')


def _detector(model_cfg: dict) -> dict:
    """The detector inside a wrapper (a tracker's or SoftTeacher's
    ``detector``, mmocr's ``MMDetWrapper``'s ``cfg``), or the model."""
    for key in ('detector', 'cfg'):
        if isinstance(model_cfg.get(key), dict):
            return model_cfg[key]
    return model_cfg


def _num_classes(model_cfg: dict) -> int:
    detector = _detector(model_cfg)
    bbox_head = detector.get('roi_head', {}).get('bbox_head', {})
    if isinstance(bbox_head, (list, tuple)):
        bbox_head = bbox_head[0]
    return int(bbox_head.get('num_classes', 80))


def gt_box_type(cfg: Config) -> Optional[str]:
    """The box type a config's training pipeline gives the ground truth
    (``'rbox'``, ``'qbox'``: mmrotate's ``LoadAnnotations(box_type=...)``,
    ``ConvertBoxType``), or None for axis-aligned boxes."""
    dataset = cfg.get('train_dataloader', {}).get('dataset', {})
    while isinstance(dataset.get('dataset'), dict):  # dataset wrappers
        dataset = dataset['dataset']
    kind = None
    for transform in dataset.get('pipeline') or []:
        name = str(transform.get('type', '')).split('.')[-1]
        if name == 'LoadAnnotations':
            kind = transform.get('box_type', kind)
        elif name == 'ConvertBoxType':
            kind = transform.get('box_type_mapping', {}).get('gt_bboxes', kind)
    return None if kind in (None, 'hbox') else kind


def synthetic_batch(model_cfg: dict,
                    size: Union[int, Tuple[int, int]] = 128,
                    batch_size: int = 2,
                    num_proposals: int = 300,
                    num_items: int = 3,
                    box_type: Optional[str] = None) -> dict:
    """Inputs for ``model.data_preprocessor`` in training mode.

    Args:
        model_cfg (dict): The config's ``model``.
        size (int | tuple[int, int]): Image side, or (height, width).
            Defaults to 128.
        batch_size (int): Images (or frame pairs for a tracker).
        num_proposals (int): Random proposals per image for a detector
            without an RPN (Fast R-CNN).
        num_items (int): Ground-truth objects per image.
        box_type (str, optional): The ground truth's box type (``'rbox'``,
            ``'qbox'``: :func:`gt_box_type`); axis-aligned if None. Rotated
            ground truth gets random angles.

    Returns:
        dict: ``inputs`` and ``data_samples``, as a dataloader yields them.
    """
    from mmdet.testing import demo_mm_inputs
    height, width = (size, size) if isinstance(size, int) else size
    num_classes = _num_classes(model_cfg)
    with_mask = has_key(model_cfg, 'mask_head')
    if model_cfg.get('type') in TRACKERS:
        # mmdet 3.0 has no trackers, nor this helper
        from mmdet.testing import demo_track_inputs
        return demo_track_inputs(
            batch_size=1,
            num_frames=2,
            key_frames_inds=[0],
            image_shapes=[(3, height, width)],
            num_items=[num_items],
            num_classes=num_classes,
            with_mask=with_mask)
    if 'semi_train_cfg' in model_cfg:  # SoftTeacher: one batch per branch
        batch = synthetic_batch(model_cfg['detector'], size, batch_size,
                                num_proposals, num_items)
        for sample in batch['data_samples']:
            sample.set_metainfo(
                dict(homography_matrix=np.eye(3, dtype=np.float32)))
        branches = ('sup', 'unsup_teacher', 'unsup_student')
        return {
            key: {
                branch: copy.deepcopy(value)
                for branch in branches
            }
            for key, value in batch.items()
        }
    with_semantic = has_key(model_cfg, 'semantic_head')
    batch = demo_mm_inputs(
        batch_size=batch_size,
        image_shapes=(3, height, width),
        num_items=[num_items] * batch_size,
        num_classes=max(num_classes, 2),
        with_mask=with_mask,
        with_semantic=with_semantic)
    generator = torch.Generator().manual_seed(0)
    for sample in batch['data_samples']:
        # mmdet's helper never draws label 0 and fails for one class
        labels = sample.gt_instances.labels
        sample.gt_instances.labels = torch.randint(
            0, num_classes, labels.shape, generator=generator)
        # and gives transposed (strided) boxes; a dataset's are contiguous
        boxes = sample.gt_instances.bboxes
        if isinstance(boxes, torch.Tensor):
            sample.gt_instances.bboxes = boxes.contiguous()
        if box_type is not None:
            sample.gt_instances.bboxes = _rotated(
                get_box_tensor(boxes), generator).convert_to(box_type)
    if _detector(model_cfg).get('rpn_head') is None:
        for sample in batch['data_samples']:
            extent = torch.tensor([width, height])
            xy = torch.rand(num_proposals, 2, generator=generator) * extent
            wh = torch.rand(num_proposals, 2, generator=generator) * extent / 2
            boxes = torch.cat([xy, torch.min(xy + wh, extent)], 1)
            sample.proposals = InstanceData(bboxes=boxes)
    return batch


def _rotated(boxes: torch.Tensor, generator: torch.Generator):
    """Rotated boxes with the centres and sides of ``boxes`` (x1, y1, x2,
    y2) and random angles."""
    from mmdet.structures.bbox.box_type import box_types
    rotated = box_types['rbox']  # registered by mmrotate
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    angles = (torch.rand(len(boxes), 1, generator=generator) - 0.5) * math.pi
    return rotated(
        torch.cat([centres, boxes[:, 2:] - boxes[:, :2], angles], 1))


def random_detector(config: str,
                    device='cpu',
                    seed: int = 0) -> Tuple[nn.Module, dict]:
    """The detector of ``config`` with seeded random weights (its backbone's
    pretrained checkpoint is not loaded: no download), built in the
    config's registry scope, in training mode.

    Returns:
        tuple: The model and the config's ``model`` part.
    """
    cfg = Config.fromfile(config)
    cfg.model.backbone.init_cfg = None
    torch.manual_seed(seed)
    model = build_model(cfg)
    return model.to(device).train(), cfg.model


def detector_batch(model: nn.Module,
                   model_cfg: dict,
                   num_images: int = 2,
                   size: Tuple[int, int] = (800, 1333),
                   num_gts: int = 8,
                   seed: int = 0) -> dict:
    """A seeded :func:`synthetic_batch` through ``model``'s data
    preprocessor, on the model's device: what a training step is given."""
    torch.manual_seed(seed)
    batch = synthetic_batch(
        model_cfg, size=tuple(size), batch_size=num_images, num_items=num_gts)
    return model.data_preprocessor(batch, training=True)


def train_step(model: nn.Module, batch: dict) -> Tuple[float, list]:
    """One forward/backward of ``model`` in training mode on ``batch`` (no
    optimizer step: the weights stay as they are).

    Args:
        model (nn.Module): The detector.
        batch (dict): As a dataloader yields it, or already through
            ``model.data_preprocessor`` (``inputs`` a tensor).

    Returns:
        tuple: The total loss and the names of the loss terms.

    Raises:
        FloatingPointError: If the loss is not finite.
    """
    model.train()
    model.zero_grad(set_to_none=True)
    data = batch if isinstance(batch['inputs'], torch.Tensor) else \
        model.data_preprocessor(batch, training=True)
    losses = model(**data, mode='loss')
    loss, _ = model.parse_losses(losses)
    loss.backward()
    value = loss.item()
    if not math.isfinite(value):
        raise FloatingPointError(f'the loss is {value}')
    return value, sorted(losses)


def rcnn_inputs(model: nn.Module, data: dict) -> List[dict]:
    """What the R-CNN sampler of a two-stage ``model`` is given for each
    image of a preprocessed batch, as in training: the image's features,
    the RPN's proposals and their assignment to the ground truth.

    Args:
        model (nn.Module): A two-stage detector with an RPN.
        data (dict): ``model.data_preprocessor(batch, training=True)``.

    Returns:
        list[dict]: Per image ``feats``, ``proposals`` (``priors``), ``gt``
        and ``assigned``; pass :func:`fresh_assignment` of ``assigned`` to
        each ``sample()`` call, which extends it in place.
    """
    samples = data['data_samples']
    with torch.no_grad():
        feats = model.extract_feat(data['inputs'])
        rpn_samples = copy.deepcopy(samples)
        for sample in rpn_samples:
            sample.gt_instances.labels = torch.zeros_like(
                sample.gt_instances.labels)
        _, proposals = model.rpn_head.loss_and_predict(
            feats, rpn_samples, proposal_cfg=model.train_cfg.rpn_proposal)
    images = []
    for i, (found, sample) in enumerate(zip(proposals, samples)):
        found.priors = found.pop('bboxes')
        images.append(
            dict(
                feats=[level[i][None] for level in feats],
                proposals=found,
                gt=sample.gt_instances,
                assigned=model.roi_head.bbox_assigner.assign(
                    found, sample.gt_instances)))
    return images


def sample_rcnn_input(sampler, image: dict):
    """``sampler.sample()`` on one of :func:`rcnn_inputs`' images, with a
    fresh copy of its assignment.

    Returns:
        SamplingResult: What the sampler selected.
    """
    return sampler.sample(
        fresh_assignment(image['assigned']),
        image['proposals'],
        image['gt'],
        feats=image['feats'])


def fresh_assignment(assigned):
    """A copy of an ``AssignResult`` that ``sample()`` may extend."""
    return type(assigned)(assigned.num_gts, assigned.gt_inds.clone(),
                          assigned.max_overlaps.clone(),
                          assigned.labels.clone())
