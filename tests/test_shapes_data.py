"""The demo's synthetic dataset and proposals: deterministic, imbalanced,
mostly background, and proposals that never look at the annotations."""
import json
import os.path as osp
import pickle
from collections import Counter

import numpy as np
import pytest
import torch
from mmdet.structures.bbox import bbox_overlaps

from mmohem_benchmark.proposals import propose, write_proposals
from mmohem_benchmark.shapes import ShapesSpec, ensure_dataset, render

SPEC = ShapesSpec(num_train=30, num_val=30, seed=3)


@pytest.fixture(scope='module')
def shapes(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('shapes'))
    files = ensure_dataset(SPEC, root)
    proposals = write_proposals(root, 'val', files['val'], 1000, SPEC.seed)
    with open(files['val']) as f:
        ann = json.load(f)
    with open(proposals, 'rb') as f:
        return root, ann, pickle.load(f)


def test_same_spec_same_images_and_annotations(tmp_path):
    for _ in range(2):
        img, objects = render(SPEC, 'train', 7)
        again, same = render(SPEC, 'train', 7)
        assert np.array_equal(img, again) and objects == same
    other, _ = render(ShapesSpec(seed=4), 'train', 7)
    assert not np.array_equal(img, other)


def test_dataset_is_written_once(shapes):
    root, _, _ = shapes
    stamp = osp.getmtime(osp.join(root, 'train.json'))
    ensure_dataset(SPEC, root)
    assert osp.getmtime(osp.join(root, 'train.json')) == stamp


def test_objects_are_imbalanced_and_often_small(shapes):
    _, ann, _ = shapes
    counts = Counter(a['category_id'] for a in ann['annotations'])
    assert counts[1] > counts[2] > counts[3] > 0  # weights 0.6 / 0.3 / 0.1
    small = [a['area'] < 32 * 32 for a in ann['annotations']]
    assert 0.3 < np.mean(small) < 0.9  # COCO 'small'
    per_image = Counter(a['image_id'] for a in ann['annotations'])
    assert max(per_image.values()) <= SPEC.objects[1]


def test_proposals_cover_objects_and_are_mostly_background(shapes):
    _, ann, proposals = shapes
    recall, fg_share = [], []
    for info in ann['images']:
        boxes = torch.from_numpy(proposals[info['file_name']]['bboxes'])
        assert boxes.shape == (1000, 4)
        gt = torch.tensor([[x, y, x + w, y + h] for a in ann['annotations']
                           if a['image_id'] == info['id']
                           for x, y, w, h in [a['bbox']]]).reshape(-1, 4)
        if len(gt):
            iou = bbox_overlaps(gt, boxes)
            recall += (iou.max(1).values >= 0.5).tolist()
            fg_share.append((iou.max(0).values >= 0.5).float().mean().item())
    assert np.mean(recall) >= 0.9
    assert np.mean(fg_share) < 0.1  # background outnumbers objects > 9:1


def test_proposals_depend_on_the_image_alone(shapes):
    root, ann, proposals = shapes
    info = ann['images'][0]
    img, _ = render(SPEC, 'val', 0)
    boxes = propose(img, num=1000, seed=SPEC.seed * 100003 + info['id'])
    assert np.array_equal(boxes, proposals[info['file_name']]['bboxes'])
