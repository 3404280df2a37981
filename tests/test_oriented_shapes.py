"""The shapes set's oriented boxes and the Oriented R-CNN benchmark configs
(``mmohem demo --regime oriented``): the DOTA annotations hold each object's
smallest rotated rectangle, mmrotate's DOTADataset reads them, and the
mmohem variant trains and is evaluated with DOTAMetric. Runs where mmrotate
is installed (the downstream stack)."""
import os.path as osp

import cv2
import numpy as np
import pytest

pytest.importorskip('mmrotate')

from mmohem_benchmark.shapes import ShapesSpec, ensure_dota, render  # noqa

SPEC = ShapesSpec(num_train=8, num_val=4, seed=5)


def test_oriented_boxes_are_the_objects_smallest_rotated_rectangles():
    found = 0
    for index in range(6):
        img, objects = render(SPEC, 'train', index)
        for obj in objects:
            corners = np.asarray(obj['qbox'], np.float32).reshape(4, 2)
            x1, y1, x2, y2 = obj['bbox']
            # it holds every pixel, so it spans the axis-aligned box
            assert corners[:, 0].min() <= x1 + 1e-3
            assert corners[:, 0].max() >= x2 - 1e-3
            assert corners[:, 1].min() <= y1 + 1e-3
            assert corners[:, 1].max() >= y2 - 1e-3
            rotated_area = cv2.contourArea(corners)
            # no larger than the axis-aligned box, no smaller than the
            # object's pixels
            assert obj['area'] - 1e-3 <= rotated_area
            assert rotated_area <= (x2 - x1) * (y2 - y1) + 1e-2
            found += 1
    assert found > 5


def test_dota_annotations_load_in_mmrotate(tmp_path):
    from mmengine.registry import init_default_scope
    from mmrotate.datasets import DOTADataset
    root = str(tmp_path)
    folders = ensure_dota(SPEC, root)
    init_default_scope('mmrotate')
    dataset = DOTADataset(
        data_root=root + '/',
        ann_file='dota/train/',
        data_prefix=dict(img_path='train/'),
        img_shape=(SPEC.image_size, SPEC.image_size),
        metainfo=dict(classes=SPEC.classes),
        pipeline=[])
    info = dataset.get_data_info(0)
    index = int(info['img_id'])
    _, objects = render(SPEC, 'train', index)
    assert [i['bbox_label'] for i in info['instances']] == \
        [o['label'] for o in objects]
    for instance, obj in zip(info['instances'], objects):
        assert instance['bbox'] == pytest.approx(obj['qbox'], abs=0.05)
    assert osp.isfile(info['img_path'])
    assert sorted(folders) == ['train', 'val']


def test_the_oriented_mmohem_config_trains_and_is_evaluated(tmp_path):
    """Smoke test: 2 iterations and DOTAMetric's evaluation run."""
    from mmohem.tools.config_files import CONFIG_DIR
    from mmohem_benchmark.train_one import train_one
    root = str(tmp_path / 'data')
    ensure_dota(SPEC, root)
    result = train_one(
        osp.join(CONFIG_DIR, 'shapes', 'oriented_rcnn_mmohem_r18_shapes.py'),
        str(tmp_path / 'work'),
        root,
        iters=2,
        seed=0,
        # fewer candidates (mmcv's CPU rotated NMS compares every pair), and
        # random weights detect everywhere: evaluate fewer, at 2 IoUs
        extra_options={
            'model.train_cfg.rpn_proposal.max_per_img': 200,
            'model.test_cfg.rpn.max_per_img': 200,
            'model.test_cfg.rcnn.max_per_img': 20,
            'val_evaluator.iou_thrs': [0.5, 0.75]
        })
    assert 0 <= result['AP'] <= result['AP50'] <= 1
    assert result['AP_small'] is None
    assert result['mining']['num_selected'] <= 64
