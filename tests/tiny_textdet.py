"""A tiny generated text-detection set in mmocr 1.x's format (OCRDataset):
dark word-like bars on a light background, each a (possibly slanted)
quadrilateral annotated as a polygon and its bounding box."""
import json
import os
import os.path as osp

import numpy as np

SIZE = 256


def _word(rng: np.random.Generator) -> np.ndarray:
    """A slanted bar: four corners (x, y), clockwise, inside the image."""
    w, h = rng.uniform(60, 150), rng.uniform(18, 36)
    cx, cy = rng.uniform(w / 2 + 8, SIZE - w / 2 - 8), rng.uniform(
        h / 2 + 20, SIZE - h / 2 - 20)
    angle = rng.uniform(-0.3, 0.3)
    corners = np.array([[-w, -h], [w, -h], [w, h], [-w, h]]) / 2
    rot = np.array([[np.cos(angle), -np.sin(angle)],
                    [np.sin(angle), np.cos(angle)]])
    return np.clip(corners @ rot.T + [cx, cy], 0, SIZE - 1)


def make_tiny_textdet(root: str, num_images: int = 4, seed: int = 0) -> str:
    """Write the images and ``textdet_train.json`` under ``root``.

    Returns:
        str: ``root``, to use as the dataset's ``data_root``.
    """
    import cv2
    rng = np.random.default_rng(seed)
    img_dir = osp.join(root, 'textdet_imgs', 'train')
    os.makedirs(img_dir, exist_ok=True)
    data_list = []
    for i in range(num_images):
        image = np.full((SIZE, SIZE, 3), 220, np.uint8)
        image += rng.integers(0, 20, image.shape, dtype=np.uint8)
        instances = []
        for _ in range(3):
            quad = _word(rng)
            cv2.fillPoly(image, [quad.round().astype(np.int32)], (30, 30, 30))
            x1, y1 = quad.min(0)
            x2, y2 = quad.max(0)
            instances.append(
                dict(
                    polygon=quad.reshape(-1).round(1).tolist(),
                    bbox=[float(v) for v in (x1, y1, x2, y2)],
                    bbox_label=0,
                    ignore=False))
        name = f'img_{i}.jpg'
        cv2.imwrite(osp.join(img_dir, name), image)
        data_list.append(
            dict(
                img_path=f'textdet_imgs/train/{name}',
                height=SIZE,
                width=SIZE,
                instances=instances))
    annotation = dict(
        metainfo=dict(
            dataset_type='TextDetDataset',
            task_name='textdet',
            category=[dict(id=0, name='text')]),
        data_list=data_list)
    with open(osp.join(root, 'textdet_train.json'), 'w') as f:
        json.dump(annotation, f)
    return root
