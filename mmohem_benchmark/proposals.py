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
from typing import Callable, Dict

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


def _random_boxes(rng, num: int, width: int, height: int) -> np.ndarray:
    area = np.exp(rng.uniform(np.log(64), np.log(width * height * 0.6), num))
    ratio = np.exp(rng.uniform(np.log(1 / 3), np.log(3), num))
    w = np.sqrt(area * ratio).clip(4, width)
    h = np.sqrt(area / ratio).clip(4, height)
    x = rng.uniform(0, width - w)
    y = rng.uniform(0, height - h)
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
    height, width = img.shape[:2]
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
    boxes = np.concatenate(
        [boxes, _random_boxes(rng, num - len(boxes), width, height)])
    limits = np.array([width, height, width, height], np.float32)
    return boxes.clip(0, limits).astype(np.float32)


# the scales (Gaussian sigma, pixels) of :func:`propose_blobs`: blobs of
# about 8 to 100 pixels across
BLOB_SIGMAS = (3, 4.5, 6.5, 9, 13, 18, 26)


def propose_blobs(img: np.ndarray,
                  num: int = 1000,
                  seed: int = 0) -> np.ndarray:
    """Proposals of one image from scale-space blobs, strongest first.

    Selective search in miniature (:func:`propose`) finds the shapes set's
    flat-coloured objects but few of the textured, round objects of aerial
    images, such as tree crowns. This is the older proposal method for
    those, from the image alone: the local maxima of the scale-normalised
    Laplacian of Gaussian (bright blobs) at the scales of
    :data:`BLOB_SIGMAS`, of the brightness and of the excess green
    (2G - R - B), the strongest ``num / 14`` of each, as the box of the
    blob's circle; random boxes (as in :func:`propose`) fill up to ``num``.

    Args:
        img (np.ndarray): The image, HxWx3, BGR.
        num (int): Proposals per image.
        seed (int): Seed of the random boxes.

    Returns:
        np.ndarray: float32 (num, 4) boxes, x1y1x2y2.
    """
    height, width = img.shape[:2]
    channels = img.astype(np.float32)
    blue, green, red = channels[..., 0], channels[..., 1], channels[..., 2]
    maps = (channels.mean(2), 2 * green - red - blue)
    per_map = num // (len(maps) * len(BLOB_SIGMAS))
    boxes = []
    for channel in maps:
        for sigma in BLOB_SIGMAS:
            smooth = cv2.GaussianBlur(channel, (0, 0), sigma)
            response = -cv2.Laplacian(smooth, cv2.CV_32F) * sigma**2
            peaks = (response == cv2.dilate(response, np.ones(
                (3, 3), np.uint8))) & (
                    response > 0)
            ys, xs = np.nonzero(peaks)
            top = np.argsort(-response[ys, xs], kind='stable')[:per_map]
            # a blob of scale sigma has a radius of about sqrt(2) sigma;
            # the crown's edge lies a little beyond it
            radius = 1.7 * sigma
            cx, cy = xs[top].astype(np.float32), ys[top].astype(np.float32)
            boxes.append(
                np.stack([cx - radius, cy - radius, cx + radius, cy + radius],
                         1))
    boxes = np.concatenate(boxes)[:num]
    rng = np.random.default_rng(seed)
    boxes = np.concatenate(
        [boxes, _random_boxes(rng, num - len(boxes), width, height)])
    limits = np.array([width, height, width, height], np.float32)
    return boxes.clip(0, limits).astype(np.float32)


def write_proposals(root: str,
                    split: str,
                    ann_file: str,
                    num: int,
                    seed: int,
                    method: Callable = propose) -> str:
    """Proposals for every image of a split, in mmdet's proposal format.

    Args:
        method (Callable): ``method(img, num=num, seed=seed)`` gives the
            proposals of one image: :func:`propose` or
            :func:`propose_blobs`.

    Returns:
        str: The proposal file, ``root/<split>_proposals.pkl``.
    """
    import json
    with open(ann_file) as f:
        images = json.load(f)['images']
    entries: Dict[str, dict] = {}
    for info in images:
        img = cv2.imread(osp.join(root, info['file_name']))
        boxes = method(img, num=num, seed=seed * 100003 + info['id'])
        # descending scores: mmdet's LoadProposals keeps the first ones
        entries[info['file_name']] = dict(
            bboxes=boxes,
            scores=np.linspace(1, 0, len(boxes), dtype=np.float32))
    path = osp.join(root, f'{split}_proposals.pkl')
    with open(path, 'wb') as f:
        pickle.dump(entries, f)
    return path
