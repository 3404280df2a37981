"""A tiny COCO-format dataset and the overrides that shrink a config to it.

The overrides shrink images, the backbone and the heads' width in the test
only; the shipped configs stay as users run them.
"""
import json
import os.path as osp
import pickle
import uuid

import numpy as np
from mmcv import imwrite
from mmdet.datasets import CocoDataset

IMG_SIZE = 96
# All of COCO's class names, so that every label a detector predicts has a
# category; the objects drawn are persons (id 1) and cars (id 3).
CATEGORIES = [
    dict(id=i + 1, name=name)
    for i, name in enumerate(CocoDataset.METAINFO['classes'])
]
OBJECT_IDS = (1, 3)


def make_tiny_coco(root: str,
                   num_images: int = 4,
                   seed: int = 0,
                   empty_images: int = 0) -> str:
    """Write images, ``annotations.json`` and ``proposals.pkl`` under root.

    The last ``empty_images`` images have no objects (and no annotations).

    Returns:
        str: root.
    """
    rng = np.random.default_rng(seed)
    images, annotations, proposals = [], [], {}
    for img_id in range(1, num_images + 1):
        name = f'{img_id:04d}.png'
        img = rng.integers(0, 60, (IMG_SIZE, IMG_SIZE, 3), dtype=np.uint8)
        boxes = []
        objects = OBJECT_IDS if img_id <= num_images - empty_images else ()
        for cat_id in objects:
            x, y = rng.integers(0, IMG_SIZE // 2, 2)
            w, h = rng.integers(16, IMG_SIZE // 2, 2)
            img[y:y + h, x:x + w] = 200 if cat_id == 1 else 120
            x, y, w, h = float(x), float(y), float(w), float(h)
            boxes.append([x, y, w, h])
            annotations.append(
                dict(
                    id=len(annotations) + 1,
                    image_id=img_id,
                    category_id=cat_id,
                    bbox=[x, y, w, h],
                    area=float(w * h),
                    segmentation=[[x, y, x + w, y, x + w, y + h, x, y + h]],
                    iscrowd=0))
        imwrite(img, osp.join(root, 'images', name))
        # a semantic map for heads with a semantic branch (HTC, SCNet):
        # class 0 everywhere, the objects' label ids where they are
        seg = np.zeros((IMG_SIZE, IMG_SIZE), np.uint8)
        for (x, y, w, h), cat_id in zip(boxes, objects):
            seg[int(y):int(y + h), int(x):int(x + w)] = cat_id
        imwrite(seg, osp.join(root, 'seg', name))
        images.append(
            dict(id=img_id, file_name=name, width=IMG_SIZE, height=IMG_SIZE))
        # Fast R-CNN proposals: random boxes plus jittered copies of the GT
        xy = rng.uniform(0, IMG_SIZE - 8, (60, 2))
        wh = rng.uniform(8, IMG_SIZE / 2, (60, 2))
        gt = np.array([[x, y, x + w, y + h] for x, y, w, h in boxes])
        gt = gt.reshape(-1, 4)
        jittered = np.repeat(gt, 10, 0) + rng.normal(0, 3, (len(gt) * 10, 4))
        props = np.concatenate([np.hstack([xy, xy + wh]), jittered])
        proposals[f'images/{name}'] = dict(
            bboxes=props.clip(0, IMG_SIZE).astype(np.float32),
            scores=np.ones(len(props), np.float32))
    with open(osp.join(root, 'annotations.json'), 'w') as f:
        json.dump(
            dict(
                images=images, annotations=annotations, categories=CATEGORIES),
            f)
    with open(osp.join(root, 'proposals.pkl'), 'wb') as f:
        pickle.dump(proposals, f)
    return root


def _resize_index(pipeline):
    return next(i for i, t in enumerate(pipeline) if t['type'] == 'Resize')


def _dataset_options(key: str, dataset, root: str) -> dict:
    options = {
        f'{key}.type': 'CocoDataset',
        f'{key}.data_root': root,
        f'{key}.ann_file': 'annotations.json',
        f'{key}.data_prefix.img': 'images/',
    }
    pipeline = dataset.pipeline
    if any(t.get('with_seg') for t in pipeline):
        options[f'{key}.data_prefix.seg'] = 'seg/'
    if any(t['type'] == 'LoadProposals' for t in pipeline):
        options[f'{key}.proposal_file'] = 'proposals.pkl'
        outer = next(i for i, t in enumerate(pipeline)
                     if t['type'] == 'ProposalBroadcaster')
        inner = _resize_index(pipeline[outer]['transforms'])
        resize = f'{key}.pipeline.{outer}.transforms.{inner}'
    else:
        resize = f'{key}.pipeline.{_resize_index(pipeline)}'
    options[f'{resize}.scale'] = (IMG_SIZE, IMG_SIZE)
    return options


def shrink_options(cfg, root: str, work_dir: str) -> dict:
    """Overrides (``--cfg-options`` keys) that train ``cfg`` on the tiny set.

    R-18 instead of R-50 with random weights (no download), the heads
    narrowed (:func:`narrow_options`), 96-pixel images, 2 images per batch,
    one epoch of 2 iterations, then one validation with CocoMetric.
    ``cfg``'s datasets must be plain datasets (see :func:`shrink_config`
    for wrapped ones).
    """
    options = {
        'work_dir': work_dir,
        'model.backbone.depth': 18,
        'model.backbone.init_cfg': None,
        'model.neck.in_channels': [64, 128, 256, 512],
        # random weights score every class low: keep them all so that
        # CocoMetric has detections to evaluate
        'model.test_cfg.rcnn.score_thr': 0.0,
        'train_cfg.max_epochs': 1,
        'train_cfg.val_interval': 1,
        'default_hooks.logger.interval': 1,
        'train_dataloader.batch_size': 2,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'val_dataloader.num_workers': 0,
        'val_dataloader.persistent_workers': False,
        'val_evaluator.ann_file': osp.join(root, 'annotations.json'),
        'val_evaluator.metric': 'bbox',
        **narrow_options(cfg.model),
    }
    options.update(
        _dataset_options('train_dataloader.dataset',
                         cfg.train_dataloader.dataset, root))
    options.update(
        _dataset_options('val_dataloader.dataset', cfg.val_dataloader.dataset,
                         root))
    return options


def shrink_config(cfg, root: str, work_dir: str):
    """Apply :func:`shrink_options` to ``cfg`` in place, first replacing
    dataset wrappers (mmdet's VOC configs repeat and concatenate datasets)
    by the plain dataset they wrap."""
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        dataset = loader.dataset
        while 'dataset' in dataset or 'datasets' in dataset:
            dataset = dataset.get('dataset') or dataset.datasets[0]
        loader.dataset = dict(pipeline=dataset.pipeline)
    cfg.val_evaluator = dict(type='CocoMetric')
    # mmengine keeps visualizers by name for the whole process: a second
    # Runner in one process would write into the first one's log folder
    cfg.visualizer.name = f'visualizer_{uuid.uuid4().hex}'
    cfg.merge_from_dict(
        shrink_options(cfg, root, work_dir), allow_list_keys=True)
    return cfg


# the width of the FPN's outputs in mmdet's configs, which every head that
# reads them names in a ``*channels`` setting
FPN_WIDTH = 256


def narrow_options(model_cfg, width: int = 64, path: str = 'model') -> dict:
    """Overrides (``--cfg-options`` keys) that narrow a model: every
    ``*channels`` setting of :data:`FPN_WIDTH` (the FPN's outputs and the
    RPN, RoI extractors, box, mask, semantic and context heads that read
    them) becomes ``width``.

    For tests where the width is not the point: on the CPU, a two-stage
    detector's time goes to RoIAlign and the heads' convolutions, which
    scale with it. The backbone and the fully connected layers keep their
    widths.

    Args:
        model_cfg (dict): A config's ``model``.
        width (int): The narrowed width. Defaults to 64.
        path (str): The dotted path of ``model_cfg``, for the keys.

    Returns:
        dict: Dotted key (``model.roi_head.bbox_head.0.in_channels``) ->
        ``width``.
    """
    if isinstance(model_cfg, dict):
        items = model_cfg.items()
    elif isinstance(model_cfg, (list, tuple)):
        items = enumerate(model_cfg)
    else:
        return {}
    options = {}
    for key, value in items:
        if (str(key).endswith('channels') and not str(key).startswith('fc')
                and value == FPN_WIDTH):
            options[f'{path}.{key}'] = width
        else:
            options.update(narrow_options(value, width, f'{path}.{key}'))
    return options


def cli_options(options: dict) -> list:
    """``options`` as ``--cfg-options`` arguments (``key=value`` strings)."""

    def text(value):
        if isinstance(value, (list, tuple)):
            inner = ','.join(text(v) for v in value)
            return f'[{inner}]' if isinstance(value, list) else f'({inner})'
        return str(value)

    return [f'{key}={text(value)}' for key, value in options.items()]


def train_two_iterations(cfg, root: str, work_dir: str):
    """Shrink ``cfg`` to the tiny set, train it (2 iterations, then one
    validation) and check that it did.

    Returns:
        Runner: The runner after training.
    """
    import torch
    from mmengine.runner import Runner
    runner = Runner.from_cfg(shrink_config(cfg, root, work_dir))
    runner.train()
    assert runner.iter == 2
    loss = runner.message_hub.get_scalar('train/loss').current()
    assert torch.isfinite(torch.tensor(loss))
    # the val loop ran CocoMetric on the tiny set
    assert 'val/coco/bbox_mAP' in runner.message_hub.log_scalars
    return runner
