"""A small synthetic training batch for any detector config, and one
training step on it: what the compatibility sweep runs per config.

The inputs come from mmdet's own test helpers (``mmdet.testing``), with the
annotations the model's heads need: masks for a mask head, a semantic map
for a semantic or panoptic head, proposals for a detector without an RPN,
video frames for a tracker.
"""
import copy
import math
from typing import Tuple

import numpy as np
import torch
from mmengine.structures import InstanceData
from torch import nn

TRACKERS = ('QDTrack', 'MaskTrackRCNN', 'DeepSORT', 'StrongSORT', 'ByteTrack',
            'OCSORT')


def _has_key(tree, key: str) -> bool:
    if isinstance(tree, dict):
        return any(k == key and v is not None or _has_key(v, key)
                   for k, v in tree.items())
    if isinstance(tree, (list, tuple)):
        return any(_has_key(v, key) for v in tree)
    return False


def _num_classes(model_cfg: dict) -> int:
    detector = model_cfg.get('detector', model_cfg)
    bbox_head = detector.get('roi_head', {}).get('bbox_head', {})
    if isinstance(bbox_head, (list, tuple)):
        bbox_head = bbox_head[0]
    return int(bbox_head.get('num_classes', 80))


def synthetic_batch(model_cfg: dict,
                    size: int = 128,
                    batch_size: int = 2,
                    num_proposals: int = 300) -> dict:
    """Inputs for ``model.data_preprocessor`` in training mode.

    Args:
        model_cfg (dict): The config's ``model``.
        size (int): Image side (square). Defaults to 128.
        batch_size (int): Images (or frame pairs for a tracker).
        num_proposals (int): Random proposals per image for a detector
            without an RPN (Fast R-CNN).

    Returns:
        dict: ``inputs`` and ``data_samples``, as a dataloader yields them.
    """
    from mmdet.testing import demo_mm_inputs, demo_track_inputs
    num_classes = _num_classes(model_cfg)
    with_mask = _has_key(model_cfg, 'mask_head')
    if model_cfg.get('type') in TRACKERS:
        return demo_track_inputs(
            batch_size=1,
            num_frames=2,
            key_frames_inds=[0],
            image_shapes=[(3, size, size)],
            num_items=[3],
            num_classes=num_classes,
            with_mask=with_mask)
    if 'semi_train_cfg' in model_cfg:  # SoftTeacher: one batch per branch
        batch = synthetic_batch(model_cfg['detector'], size, batch_size,
                                num_proposals)
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
    with_semantic = _has_key(model_cfg, 'semantic_head')
    batch = demo_mm_inputs(
        batch_size=batch_size,
        image_shapes=(3, size, size),
        num_items=[3] * batch_size,
        num_classes=max(num_classes, 2),
        with_mask=with_mask,
        with_semantic=with_semantic)
    generator = torch.Generator().manual_seed(0)
    for sample in batch['data_samples']:
        # mmdet's helper never draws label 0 and fails for one class
        labels = sample.gt_instances.labels
        sample.gt_instances.labels = torch.randint(
            0, num_classes, labels.shape, generator=generator)
    detector = model_cfg.get('detector', model_cfg)
    if detector.get('rpn_head') is None:
        for sample in batch['data_samples']:
            xy = torch.rand(num_proposals, 2, generator=generator) * size
            wh = torch.rand(num_proposals, 2, generator=generator) * size / 2
            boxes = torch.cat([xy, xy + wh], 1).clamp(max=size)
            sample.proposals = InstanceData(bboxes=boxes)
    return batch


def train_step(model: nn.Module, batch: dict) -> Tuple[float, list]:
    """One forward/backward of ``model`` in training mode on ``batch``.

    Returns:
        tuple: The total loss and the names of the loss terms.

    Raises:
        FloatingPointError: If the loss is not finite.
    """
    model.train()
    data = model.data_preprocessor(batch, training=True)
    losses = model(**data, mode='loss')
    loss, _ = model.parse_losses(losses)
    loss.backward()
    value = loss.item()
    if not math.isfinite(value):
        raise FloatingPointError(f'the loss is {value}')
    return value, sorted(losses)
