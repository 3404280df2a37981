"""The tree set: real aerial images with human-drawn tree-crown boxes.

The images come from NEON's airborne observation platform (RGB, 10 cm
per pixel) as the ``deepforest`` 2.1.0 wheel ships them under
``deepforest/data/`` (the package's code is MIT-licensed), with boxes in
Pascal VOC XML. The wheel is fetched with pip's own ``pip download``, so a
user's pip configuration (index mirror, proxy) applies, and it is never
installed or imported; nothing of deepforest's dependencies is fetched.

- The wheel is checked against a pinned sha256 and kept in
  ``$XDG_CACHE_HOME/mmohem/downloads`` (``~/.cache/mmohem`` where that is
  unset); the four annotated images and their XML are extracted beside it
  and checked file by file against pinned hashes on every use. A file that
  fails its check (a corrupt or half-written wheel, an interrupted
  extraction) is fetched or extracted again; what is written goes to a
  temporary name first and is renamed into place when complete.
- Split by source image: the large YELL crop is the training split, the
  three other images the validation split; no tile of a validation image
  is trained on.
- Tiles of at most :data:`TILE` pixels: training tiles overlap by half a
  tile (a stride of ``TILE // 2``); validation images are cut into an even
  grid of tiles that do not overlap, so every tree is scored once. A box
  cut by a tile border stays a box of that tile, clipped to it, if at least
  :data:`MIN_VISIBLE` of its area lies inside; a smaller visible part is an
  ignored region (COCO ``iscrowd=1``): neither a tree to find nor
  background to learn.
- All boxes are one class, ``tree`` (SOAP_061's XML labels them ``Alive``
  and ``Dead``).

The result is a COCO-style set (``train.json``, ``val.json``, PNG tiles)
that mmdet's ``CocoDataset`` and ``CocoMetric`` read unchanged, with
proposals from the image alone (:mod:`.proposals`) for the paper's regime.
"""
import fcntl
import hashlib
import json
import math
import os
import os.path as osp
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
import zipfile
from typing import Dict, List, NamedTuple, Optional, Tuple

import cv2
import numpy as np

from .proposals import propose_blobs, write_proposals

REQUIREMENT = 'deepforest==2.1.0'
WHEEL = 'deepforest-2.1.0-py3-none-any.whl'
WHEEL_SHA256 = \
    '8c2798d8e9be7f0004b194fe207b76c1d9fff6e711b3db67b9508dcd5d00ae54'
# the folder inside the wheel that holds the images
MEMBER_DIR = 'deepforest/data/'


class Source(NamedTuple):
    """One annotated image of the wheel.

    Attributes:
        split (str): ``'train'`` or ``'val'``.
        png_sha256 (str): The image file's pinned hash.
        xml_sha256 (str): Its VOC annotation's pinned hash.
    """
    split: str
    png_sha256: str
    xml_sha256: str


SOURCES: Dict[str, Source] = {
    '2019_YELL_2_528000_4978000_image_crop2':
    Source('train',
           'a9bdb0f4447fdd899d22f567e0e20ba8320c5413b2ad0cd0ac8d9f3b6e0f9767',
           'bd431af6a5086d721eb731b22f5ea28cd8a8eab06883efc1c665391acbc68e11'),
    '2019_YELL_2_541000_4977000_image_crop':
    Source('val',
           '178e58a23cc2642226a364a30f71bd9258ddc1b012c826f12250914a90c7a131',
           'cefe4b96888bacbf8af1674f000082e549aa707aa6590d545effb23e43f26631'),
    'OSBS_029':
    Source('val',
           'd9477c6a00e4902c7bee487d4c5582c3b8b9a2f77f3908a29628b816b291e6ee',
           '1f68c4011d7b351c29ca755072e77f3d16e6fd1f995bd05a9dd4eb952b55373c'),
    'SOAP_061':
    Source('val',
           '256508f1a62149bec4a80879077a865caf50e8cace095e6564c76befa480d424',
           '4833280af75fd9c47965a93e38945282835e9e725cac412bdb9469d63480947c'),
}
CLASSES = ('tree', )
TILE = 400
MIN_VISIBLE = 0.5
# precomputed proposals per tile for the paper's regime
NUM_PROPOSALS = 1000
# what the tiles depend on beyond the source files: a change rebuilds them
LAYOUT = dict(
    tile=TILE,
    train_stride=TILE // 2,
    min_visible=MIN_VISIBLE,
    proposals=NUM_PROPOSALS,
    version=1)


class TreesUnavailable(RuntimeError):
    """The tree set is neither cached nor fetchable, or what was fetched is
    not the pinned file. The message is one line that says what to do."""


def cache_dir() -> str:
    """``$XDG_CACHE_HOME/mmohem``, or ``~/.cache/mmohem`` where the
    variable is unset or empty."""
    base = os.environ.get('XDG_CACHE_HOME') or osp.join(
        osp.expanduser('~'), '.cache')
    return osp.join(base, 'mmohem')


def sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch_hint(downloads: str) -> str:
    return (f'fetch it where the package index is reachable with `python -m '
            f'pip download {REQUIREMENT} --no-deps -d {downloads}`, or set '
            'XDG_CACHE_HOME to a folder whose mmohem/downloads holds '
            f'{WHEEL}')


def fetch_wheel(cache: str) -> str:
    """The pinned deepforest wheel in ``cache``, fetched with ``pip
    download`` if it is missing or fails its hash.

    Returns:
        str: The wheel's path.

    Raises:
        TreesUnavailable: If pip cannot fetch it (offline, no such
            release on the index) or fetches a file with another hash.
    """
    downloads = osp.join(cache, 'downloads')
    wheel = osp.join(downloads, WHEEL)
    if osp.isfile(wheel):
        if sha256(wheel) == WHEEL_SHA256:
            return wheel
        print(
            f'[trees] {wheel} fails its sha256 check (corrupt or '
            'half-written): fetching it again',
            flush=True)
        os.remove(wheel)
    os.makedirs(downloads, exist_ok=True)
    print(f'[trees] fetching {REQUIREMENT} with pip download', flush=True)
    with tempfile.TemporaryDirectory(dir=downloads) as tmp:
        proc = subprocess.run([
            sys.executable, '-m', 'pip', 'download', REQUIREMENT, '--no-deps',
            '--only-binary=:all:', '--disable-pip-version-check', '-d', tmp
        ],
                              capture_output=True,
                              text=True)
        fetched = osp.join(tmp, WHEEL)
        if proc.returncode or not osp.isfile(fetched):
            errors = [
                line.strip()
                for line in (proc.stderr + proc.stdout).splitlines()
                if line.strip()
            ]
            why = errors[-1] if errors else f'exit {proc.returncode}'
            raise TreesUnavailable(
                f'mmohem: the tree set is not cached in {cache} and `pip '
                f'download {REQUIREMENT}` failed ({why}); ' +
                _fetch_hint(downloads))
        got = sha256(fetched)
        if got != WHEEL_SHA256:
            raise TreesUnavailable(
                f'mmohem: pip fetched a {WHEEL} with sha256 {got}, not the '
                f'pinned {WHEEL_SHA256}: refused (check the index pip uses, '
                'PIP_INDEX_URL)')
        os.replace(fetched, wheel)  # same folder: complete or absent
    return wheel


def _files_intact(folder: str) -> bool:
    for stem, source in SOURCES.items():
        for ext, pinned in (('png', source.png_sha256), ('xml',
                                                         source.xml_sha256)):
            path = osp.join(folder, f'{stem}.{ext}')
            if not osp.isfile(path) or sha256(path) != pinned:
                return False
    return True


def ensure_sources(cache: str) -> str:
    """The four annotated images and their XML, extracted from the wheel
    into ``cache/deepforest-2.1.0`` and checked against their hashes.

    Returns:
        str: The folder.
    """
    folder = osp.join(cache, 'deepforest-2.1.0')
    os.makedirs(cache, exist_ok=True)
    # one process fetches and extracts; the others wait, then find it
    with open(osp.join(cache, '.lock'), 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _files_intact(folder):
            return folder
        wheel = fetch_wheel(cache)
        tmp = tempfile.mkdtemp(dir=cache, prefix='.extract-')
        os.chmod(tmp, 0o755)  # mkdtemp's folder is private
        try:
            with zipfile.ZipFile(wheel) as archive:
                for stem in SOURCES:
                    for ext in ('png', 'xml'):
                        name = f'{stem}.{ext}'
                        with archive.open(MEMBER_DIR + name) as src, \
                                open(osp.join(tmp, name), 'wb') as dst:
                            shutil.copyfileobj(src, dst)
            if not _files_intact(tmp):
                raise TreesUnavailable(
                    f'mmohem: the files extracted from {wheel} do not match '
                    'their pinned hashes; delete the wheel and run again')
            shutil.rmtree(folder, ignore_errors=True)
            os.replace(tmp, folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def read_voc(path: str) -> np.ndarray:
    """The boxes of a Pascal VOC file as float32 ``(n, 4)`` x1y1x2y2."""
    boxes = [[
        float(obj.find(f'bndbox/{key}').text)
        for key in ('xmin', 'ymin', 'xmax', 'ymax')
    ] for obj in ET.parse(path).getroot().iter('object')]
    return np.asarray(boxes, np.float32).reshape(-1, 4)


def tile_edges(length: int, tile: int, stride: int) -> List[Tuple[int, int]]:
    """``(start, stop)`` of the tiles along one side of ``length`` pixels.

    With ``stride < tile``: tiles of ``tile`` pixels every ``stride``
    pixels, the last one moved to end at the border. With ``stride ==
    tile``: an even grid of ``ceil(length / tile)`` tiles that do not
    overlap (each at most ``tile`` pixels).
    """
    if length <= tile:
        return [(0, length)]
    if stride >= tile:
        count = math.ceil(length / tile)
        cuts = [round(i * length / count) for i in range(count + 1)]
        return list(zip(cuts[:-1], cuts[1:]))
    starts = list(range(0, length - tile, stride)) + [length - tile]
    return [(s, s + tile) for s in starts]


def cut_boxes(boxes: np.ndarray, x0: int, y0: int, x1: int,
              y1: int) -> Tuple[np.ndarray, np.ndarray]:
    """The boxes of the tile ``[x0, x1) x [y0, y1)``, in its coordinates.

    Returns:
        tuple: ``(kept, ignored)``: the boxes with at least
        :data:`MIN_VISIBLE` of their area inside the tile, and those with a
        smaller part inside, each clipped to the tile.
    """
    clipped = np.stack([
        boxes[:, 0].clip(x0, x1), boxes[:, 1].clip(y0, y1), boxes[:, 2].clip(
            x0, x1), boxes[:, 3].clip(y0, y1)
    ], 1) - np.array([x0, y0, x0, y0], np.float32)
    inside = (clipped[:, 2] - clipped[:, 0]) * (clipped[:, 3] - clipped[:, 1])
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    visible = inside / np.maximum(area, 1e-6)
    kept = visible >= MIN_VISIBLE
    return clipped[kept], clipped[~kept & (inside > 0)]


def write_split(sources: str, root: str, split: str) -> str:
    """Tile the split's source images into ``root/<split>/`` and write
    ``root/<split>.json``.

    Returns:
        str: The annotation file.
    """
    tile = LAYOUT['tile']
    stride = LAYOUT['train_stride'] if split == 'train' else tile
    os.makedirs(osp.join(root, split), exist_ok=True)
    images, annotations = [], []

    def annotate(image_id, boxes, iscrowd):
        for x1, y1, x2, y2 in boxes.tolist():
            annotations.append(
                dict(
                    id=len(annotations) + 1,
                    image_id=image_id,
                    category_id=1,
                    bbox=[x1, y1, x2 - x1, y2 - y1],
                    area=(x2 - x1) * (y2 - y1),
                    iscrowd=iscrowd))

    for stem in sorted(s for s, src in SOURCES.items() if src.split == split):
        img = cv2.imread(osp.join(sources, f'{stem}.png'), cv2.IMREAD_COLOR)
        boxes = read_voc(osp.join(sources, f'{stem}.xml'))
        height, width = img.shape[:2]
        for y0, y1 in tile_edges(height, tile, stride):
            for x0, x1 in tile_edges(width, tile, stride):
                name = f'{split}/{stem}_x{x0}_y{y0}.png'
                cv2.imwrite(osp.join(root, name), img[y0:y1, x0:x1])
                image_id = len(images) + 1
                images.append(
                    dict(
                        id=image_id,
                        file_name=name,
                        width=x1 - x0,
                        height=y1 - y0))
                kept, ignored = cut_boxes(boxes, x0, y0, x1, y1)
                annotate(image_id, kept, 0)
                annotate(image_id, ignored, 1)
    ann_file = osp.join(root, f'{split}.json')
    with open(ann_file, 'w') as f:
        json.dump(
            dict(
                images=images,
                annotations=annotations,
                categories=[dict(id=1, name=CLASSES[0])]), f)
    return ann_file


def ensure_trees(root: str, cache: Optional[str] = None) -> Dict[str, str]:
    """The tiled tree set with its proposals under ``root``, built from the
    cached sources (fetched if missing) unless the same one is there.

    The set is built in a temporary folder beside ``root`` and renamed into
    place when complete, so an interrupted build leaves nothing that
    passes for a set.

    Returns:
        dict[str, str]: Annotation file per split.

    Raises:
        TreesUnavailable: If the sources are not cached and cannot be
            fetched.
    """
    stamp = osp.join(root, 'layout.json')
    wanted = json.dumps(dict(LAYOUT, wheel=WHEEL_SHA256), sort_keys=True)
    files = {
        split: osp.join(root, f'{split}.json')
        for split in ('train', 'val')
    }
    parent = osp.dirname(osp.abspath(root))
    os.makedirs(parent, exist_ok=True)
    # runs started at once build the set once: the others wait, then find it
    with open(osp.join(parent, '.trees.lock'), 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if osp.isfile(stamp):
            with open(stamp) as f:
                if f.read() == wanted:
                    return files
        sources = ensure_sources(cache or cache_dir())
        tmp = tempfile.mkdtemp(dir=parent, prefix='.trees-')
        os.chmod(tmp, 0o755)  # mkdtemp's folder is private
        try:
            print(f'[trees] tiling the tree set into {root}', flush=True)
            for split in files:
                ann_file = write_split(sources, tmp, split)
                write_proposals(
                    tmp,
                    split,
                    ann_file,
                    NUM_PROPOSALS,
                    seed=0,
                    method=propose_blobs)
            with open(osp.join(tmp, 'layout.json'), 'w') as f:
                f.write(wanted)
            shutil.rmtree(root, ignore_errors=True)
            os.replace(tmp, root)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return files


def describe(root: str) -> Dict[str, dict]:
    """Per split of a built tree set: tiles, boxes, ignored regions, and the
    share of boxes that some proposal covers at IoU 0.5 and 0.7 (the
    proposals' recall, the ceiling of the paper's regime).

    Returns:
        dict: ``{split: {tiles, boxes, ignored, recall50, recall70}}``.
    """
    import pickle

    import torch
    from mmdet.structures.bbox import bbox_overlaps
    out = {}
    for split in ('train', 'val'):
        with open(osp.join(root, f'{split}.json')) as f:
            data = json.load(f)
        with open(osp.join(root, f'{split}_proposals.pkl'), 'rb') as f:
            proposals = pickle.load(f)
        boxes: Dict[int, list] = {}
        ignored = 0
        for ann in data['annotations']:
            if ann['iscrowd']:
                ignored += 1
                continue
            x, y, w, h = ann['bbox']
            boxes.setdefault(ann['image_id'], []).append([x, y, x + w, y + h])
        best = []
        for image in data['images']:
            if image['id'] in boxes:
                iou = bbox_overlaps(
                    torch.tensor(boxes[image['id']]),
                    torch.from_numpy(proposals[image['file_name']]['bboxes']))
                best.append(iou.max(1).values)
        best = torch.cat(best)
        out[split] = dict(
            tiles=len(data['images']),
            boxes=len(best),
            ignored=ignored,
            recall50=float((best >= 0.5).float().mean()),
            recall70=float((best >= 0.7).float().mean()))
    return out


if __name__ == '__main__':
    # python -m mmohem_benchmark.trees [ROOT]: build the set if needed and
    # describe it
    root = sys.argv[1] if len(sys.argv) > 1 else 'work_dirs/demo/data/trees'
    ensure_trees(root)
    for split, row in describe(root).items():
        print(f"{split}: {row['tiles']} tiles, {row['boxes']} trees, "
              f"{row['ignored']} ignored regions; proposals cover "
              f"{row['recall50']:.0%} of the trees at IoU 0.5, "
              f"{row['recall70']:.0%} at 0.7")
