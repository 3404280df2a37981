"""Precomputed proposals in the spirit of selective search, from the image
alone (never from its annotations), in mmdet's proposal-file format.

Real selective search lives in opencv-contrib, whose ``cv2`` would replace
the one mmcv is built against, so this module generates proposals the same
way in miniature, then pads them with random boxes as selective search's
many low-ranked boxes do:

1. Segments: colours quantised at two granularities; each connected region
   (scipy.ndimage) is a segment, and its box a proposal.
2. Grouping: boxes of pairs of nearby segments merged (one level of the
   hierarchical grouping), and a few jittered copies of every box.
3. Random boxes, log-uniform in size and aspect ratio, up to ``num``:
   mostly easy background, as with selective search's 2000 boxes.

The file is a dict keyed ``'<split>/<file name>'`` (the key mmdet's
``BaseDetDataset.load_proposals`` builds from the image path) holding
``dict(bboxes=float32 (n, 4), scores=float32 (n, ))``, segment boxes first.
"""
import os.path as osp
import pickle
from typing import Dict

import cv2
import numpy as np
from scipy import ndimage


def _segment_boxes(img: np.ndarray, levels: int, min_area: int) -> np.ndarray:
    quantised = (img.astype(np.int32) * levels) // 256
    code = (quantised[..., 0] * levels + quantised[..., 1]) * levels + \
        quantised[..., 2]
    boxes = []
    for value in np.unique(code):
        regions, _ = ndimage.label(code == value)
        for sl in ndimage.find_objects(regions):
            ys, xs = sl
            if (ys.stop - ys.start) * (xs.stop - xs.start) >= min_area:
                boxes.append([xs.start, ys.start, xs.stop, ys.stop])
    return np.asarray(boxes, np.float32).reshape(-1, 4)


def _merge_neighbours(boxes: np.ndarray, gap: float) -> np.ndarray:
    if len(boxes) < 2:
        return boxes[:0]
    a, b = np.triu_indices(len(boxes), k=1)
    dx = np.maximum(boxes[a, 0], boxes[b, 0]) - np.minimum(
        boxes[a, 2], boxes[b, 2])
    dy = np.maximum(boxes[a, 1], boxes[b, 1]) - np.minimum(
        boxes[a, 3], boxes[b, 3])
    near = (dx <= gap) & (dy <= gap)
    a, b = a[near], b[near]
    return np.concatenate([
        np.minimum(boxes[a, :2], boxes[b, :2]),
        np.maximum(boxes[a, 2:], boxes[b, 2:])
    ], 1)


def _random_boxes(rng, num: int, size: int) -> np.ndarray:
    area = np.exp(rng.uniform(np.log(64), np.log(size * size * 0.6), num))
    ratio = np.exp(rng.uniform(np.log(1 / 3), np.log(3), num))
    w = np.sqrt(area * ratio).clip(4, size)
    h = np.sqrt(area / ratio).clip(4, size)
    x = rng.uniform(0, size - w)
    y = rng.uniform(0, size - h)
    return np.stack([x, y, x + w, y + h], 1).astype(np.float32)


def propose(img: np.ndarray, num: int = 1000, seed: int = 0) -> np.ndarray:
    """Proposals of one image, segment-based ones first.

    Args:
        img (np.ndarray): The image, HxWx3.
        num (int): Proposals per image.
        seed (int): Seed of the jitter and the random boxes.

    Returns:
        np.ndarray: float32 (num, 4) boxes, x1y1x2y2.
    """
    rng = np.random.default_rng(seed)
    size = max(img.shape[:2])
    smooth = cv2.GaussianBlur(img, (3, 3), 0)
    segments = np.concatenate(
        [_segment_boxes(smooth, levels, 36) for levels in (4, 6)])
    segments = segments[(segments[:, 2:] - segments[:, :2]).min(1) >= 4]
    grouped = np.concatenate(
        [segments, _merge_neighbours(segments[:200], gap=4)])
    grouped = grouped[:num // 2]
    wh = np.repeat(grouped[:, 2:] - grouped[:, :2], 2, 0)
    jitter = np.repeat(
        grouped, 2, 0) + rng.normal(0, 0.08,
                                    (len(wh), 4)) * np.concatenate([wh, wh], 1)
    boxes = np.concatenate([grouped, jitter])[:num]
    boxes = np.concatenate([boxes, _random_boxes(rng, num - len(boxes), size)])
    return boxes.clip(0, size).astype(np.float32)


def write_proposals(root: str, split: str, ann_file: str, num: int,
                    seed: int) -> str:
    """Proposals for every image of a split, in mmdet's proposal format.

    Returns:
        str: The proposal file, ``root/<split>_proposals.pkl``.
    """
    import json
    with open(ann_file) as f:
        images = json.load(f)['images']
    entries: Dict[str, dict] = {}
    for info in images:
        img = cv2.imread(osp.join(root, info['file_name']))
        boxes = propose(img, num=num, seed=seed * 100003 + info['id'])
        # descending scores: mmdet's LoadProposals keeps the first ones
        entries[info['file_name']] = dict(
            bboxes=boxes,
            scores=np.linspace(1, 0, len(boxes), dtype=np.float32))
    path = osp.join(root, f'{split}_proposals.pkl')
    with open(path, 'wb') as f:
        pickle.dump(entries, f)
    return path
