"""A seeded synthetic detection dataset where hard examples matter.

Images are written as PNG files with COCO-format annotations, so that mmdet's
``CocoDataset``, ``CocoMetric`` and pycocotools read them unchanged. The
design mimics what makes real detection data imbalanced (docs/demo.md):

- mostly easy background: a smooth colour gradient with mild noise;
- clutter: random blobs and strokes, easy negatives;
- hard negatives: distractors that resemble the object classes (rings and
  outlines, crescents, elongated ellipses and rhombi) in the same colours;
- small objects (sizes log-uniform from ``min_size`` to ``max_size``) and
  partial occlusion (later shapes are drawn over earlier ones; an object
  stays annotated while at least ``min_visible`` of it shows);
- class imbalance (``class_weights``).

Everything is drawn from ``numpy.random.default_rng((seed, split, index))``,
so the same arguments always give the same files.
"""
import json
import os
import os.path as osp
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np

CLASSES = ('disc', 'square', 'triangle')


@dataclass
class ShapesSpec:
    """The knobs of the dataset (all have defaults; see docs/demo.md)."""
    num_train: int = 400
    num_val: int = 100
    image_size: int = 256
    objects: Tuple[int, int] = (1, 6)
    distractors: Tuple[int, int] = (2, 8)
    clutter: Tuple[int, int] = (4, 12)
    min_size: int = 10
    max_size: int = 72
    min_visible: float = 0.5
    class_weights: Tuple[float, ...] = (0.6, 0.3, 0.1)
    seed: int = 0
    classes: Tuple[str, ...] = field(default=CLASSES)


def _colour(rng) -> Tuple[int, int, int]:
    return tuple(int(c) for c in rng.integers(40, 256, 3))


def _background(rng, size: int) -> np.ndarray:
    corners = rng.integers(0, 140, (2, 2, 3)).astype(np.float32)
    ramp = np.linspace(0, 1, size, dtype=np.float32)
    top = corners[0, 0] + (corners[0, 1] - corners[0, 0]) * ramp[:, None]
    bottom = corners[1, 0] + (corners[1, 1] - corners[1, 0]) * ramp[:, None]
    img = top[None] + (bottom - top)[None] * ramp[:, None, None]
    img += rng.normal(0, 6, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def _polygon(kind: str, cx: float, cy: float, r: float,
             angle: float) -> np.ndarray:
    corners = {'square': 4, 'triangle': 3, 'rhombus': 4}[kind]
    t = angle + np.arange(corners) * 2 * np.pi / corners
    rx, ry = (r, r * 0.45) if kind == 'rhombus' else (r, r)
    pts = np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], 1)
    return pts.round().astype(np.int32)


def _draw(mask: np.ndarray, kind: str, cx: float, cy: float, r: float,
          angle: float, rng) -> None:
    """Draw shape ``kind`` as 1s into ``mask``."""
    c = (int(round(cx)), int(round(cy)))
    if kind == 'disc':
        cv2.circle(mask, c, int(round(r)), 1, -1)
    elif kind in ('square', 'triangle', 'rhombus'):
        cv2.fillPoly(mask, [_polygon(kind, cx, cy, r, angle)], 1)
    elif kind == 'ring':
        cv2.circle(mask, c, int(round(r)), 1, max(2, int(r / 4)))
    elif kind == 'outline':
        cv2.polylines(mask, [_polygon('square', cx, cy, r, angle)], True, 1,
                      max(2, int(r / 4)))
    elif kind == 'crescent':
        cv2.circle(mask, c, int(round(r)), 1, -1)
        off = (int(round(cx + r * 0.6)), int(round(cy)))
        cv2.circle(mask, off, int(round(r * 0.9)), 0, -1)
    elif kind == 'ellipse':
        axes = (int(round(r)), max(2, int(round(r * 0.3))))
        cv2.ellipse(mask, c, axes, float(np.degrees(angle)), 0, 360, 1, -1)
    elif kind == 'blob':
        for _ in range(3):
            jitter = rng.normal(0, r / 3, 2)
            cv2.circle(mask, (int(cx + jitter[0]), int(cy + jitter[1])),
                       max(1, int(r * rng.uniform(0.3, 0.7))), 1, -1)
    elif kind == 'stroke':
        end = (int(cx + r * np.cos(angle)), int(cy + r * np.sin(angle)))
        cv2.line(mask, c, end, 1, max(1, int(rng.integers(1, 4))))


def _oriented_box(xs: np.ndarray, ys: np.ndarray) -> List[float]:
    """The smallest rotated rectangle around the pixels (``xs``, ``ys``),
    covering each whole pixel, as its 4 corners (x1, y1, ..., x4, y4): the
    object's oriented box, DOTA's format."""
    corners = np.concatenate([
        np.stack([xs + dx, ys + dy], 1) for dx in (0, 1) for dy in (0, 1)
    ]).astype(np.float32)
    rect = cv2.minAreaRect(corners)
    return [float(v) for v in cv2.boxPoints(rect).reshape(-1)]


def _size(rng, spec: ShapesSpec) -> float:
    """Radius, log-uniform: many small objects, a few large ones."""
    diameter = np.exp(
        rng.uniform(np.log(spec.min_size), np.log(spec.max_size)))
    return diameter / 2


def render(spec: ShapesSpec, split: str,
           index: int) -> Tuple[np.ndarray, List[dict]]:
    """One image (BGR) and its objects (``bbox`` xyxy, ``label``)."""
    rng = np.random.default_rng((spec.seed, split == 'val', index))
    size = spec.image_size
    img = _background(rng, size)
    # what to draw, back to front: clutter, then objects and distractors
    # interleaved, so that anything may occlude an object
    layers = [('clutter', rng.choice(['blob', 'stroke']))
              for _ in range(rng.integers(*spec.clutter, endpoint=True))]
    weights = np.asarray(spec.class_weights) / sum(spec.class_weights)
    shapes = [('object', rng.choice(len(spec.classes), p=weights))
              for _ in range(rng.integers(*spec.objects, endpoint=True))]
    shapes += [
        ('distractor',
         rng.choice(['ring', 'outline', 'crescent', 'ellipse', 'rhombus']))
        for _ in range(rng.integers(*spec.distractors, endpoint=True))
    ]
    layers += [shapes[i] for i in rng.permutation(len(shapes))]

    owner = np.full((size, size), -1, np.int32)  # top object per pixel
    objects = []
    for role, what in layers:
        r = _size(rng, spec) if role != 'clutter' else rng.uniform(4, 20)
        r = min(r, size / 2)
        cx, cy = rng.uniform(r, size - r, 2)
        mask = np.zeros((size, size), np.uint8)
        kind = spec.classes[what] if role == 'object' else what
        _draw(mask, kind, cx, cy, r, rng.uniform(0, 2 * np.pi), rng)
        drawn = mask.astype(bool)
        if not drawn.any():
            continue
        img[drawn] = _colour(rng)
        owner[drawn] = len(objects) if role == 'object' else -1
        if role == 'object':
            ys, xs = np.nonzero(drawn)
            objects.append(
                dict(
                    label=int(what),
                    area=int(drawn.sum()),
                    bbox=[
                        float(xs.min()),
                        float(ys.min()),
                        float(xs.max() + 1),
                        float(ys.max() + 1)
                    ],
                    qbox=_oriented_box(xs, ys)))
    visible = np.bincount(owner[owner >= 0], minlength=len(objects))
    kept = [
        obj for i, obj in enumerate(objects)
        if visible[i] >= spec.min_visible * obj['area']
    ]
    return img, kept


def write_split(spec: ShapesSpec, root: str, split: str) -> str:
    """Write ``root/<split>/*.png`` and ``root/<split>.json``.

    Returns:
        str: The annotation file.
    """
    count = spec.num_train if split == 'train' else spec.num_val
    os.makedirs(osp.join(root, split), exist_ok=True)
    images, annotations = [], []
    for index in range(count):
        img, objects = render(spec, split, index)
        name = f'{index:05d}.png'
        cv2.imwrite(osp.join(root, split, name), img)
        images.append(
            dict(
                id=index + 1,
                file_name=f'{split}/{name}',
                width=spec.image_size,
                height=spec.image_size))
        for obj in objects:
            x1, y1, x2, y2 = obj['bbox']
            annotations.append(
                dict(
                    id=len(annotations) + 1,
                    image_id=index + 1,
                    category_id=obj['label'] + 1,
                    bbox=[x1, y1, x2 - x1, y2 - y1],
                    area=float(obj['area']),
                    iscrowd=0))
    categories = [
        dict(id=i + 1, name=name) for i, name in enumerate(spec.classes)
    ]
    ann_file = osp.join(root, f'{split}.json')
    with open(ann_file, 'w') as f:
        json.dump(
            dict(
                images=images, annotations=annotations, categories=categories),
            f)
    return ann_file


def write_dota_split(spec: ShapesSpec, root: str, split: str) -> str:
    """Write the oriented boxes of a split as DOTA annotations, one
    ``root/dota/<split>/<image>.txt`` per image (``x1 y1 ... x4 y4 class
    difficulty`` per object), beside the images :func:`write_split` writes:
    what mmrotate's ``DOTADataset`` reads.

    Returns:
        str: The annotation folder.
    """
    count = spec.num_train if split == 'train' else spec.num_val
    folder = osp.join(root, 'dota', split)
    os.makedirs(folder, exist_ok=True)
    for index in range(count):
        _, objects = render(spec, split, index)
        with open(osp.join(folder, f'{index:05d}.txt'), 'w') as f:
            for obj in objects:
                corners = ' '.join(f'{v:.1f}' for v in obj['qbox'])
                f.write(f"{corners} {spec.classes[obj['label']]} 0\n")
    return folder


def ensure_dota(spec: ShapesSpec, root: str) -> Dict[str, str]:
    """The dataset (:func:`ensure_dataset`) and its DOTA annotations, each
    written only if missing.

    Returns:
        dict[str, str]: Annotation folder per split.
    """
    ensure_dataset(spec, root)
    stamp = osp.join(root, 'dota', 'spec.json')
    wanted = json.dumps(asdict(spec), sort_keys=True)
    folders = {s: osp.join(root, 'dota', s) for s in SPLITS}
    if not stamp_matches(stamp, wanted):
        folders = {s: write_dota_split(spec, root, s) for s in SPLITS}
        write_stamp(stamp, wanted)
    return folders


def ensure_dataset(spec: ShapesSpec, root: str) -> Dict[str, str]:
    """Write the dataset under ``root`` unless the same one is there.

    Returns:
        dict[str, str]: Annotation file per split.
    """
    stamp = osp.join(root, 'spec.json')
    wanted = json.dumps(asdict(spec), sort_keys=True)
    if stamp_matches(stamp, wanted):
        return {s: osp.join(root, f'{s}.json') for s in SPLITS}
    files = {split: write_split(spec, root, split) for split in SPLITS}
    write_stamp(stamp, wanted)
    return files


def stamp_matches(stamp: str, wanted: str) -> bool:
    """Whether the files a stamp describes were written from ``wanted``
    (the stamp is written last, so an interrupted write does not match)."""
    if not osp.isfile(stamp):
        return False
    with open(stamp) as f:
        return f.read() == wanted


def write_stamp(stamp: str, wanted: str) -> None:
    """Record that the files were written from ``wanted``."""
    with open(stamp, 'w') as f:
        f.write(wanted)


SPLITS: Sequence[str] = ('train', 'val')
