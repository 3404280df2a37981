"""The tree set's data step (mmohem_benchmark/trees.py) on small images and
a small wheel the tests make themselves: tiling, the split by source image,
the hash checks, the atomic cache and the offline message. The real wheel is
never fetched here."""
import hashlib
import json
import os
import os.path as osp
import subprocess
import sys
import zipfile

import cv2
import numpy as np
import pytest

from mmohem_benchmark import trees
from mmohem_benchmark.trees import (TreesUnavailable, cut_boxes,
                                    ensure_sources, ensure_trees, fetch_wheel,
                                    tile_edges)

# (width, height) of the stand-in images: one training image larger than a
# tile in both directions, three validation images
SIZES = {
    '2019_YELL_2_528000_4978000_image_crop2': (520, 450),
    '2019_YELL_2_541000_4977000_image_crop': (430, 410),
    'OSBS_029': (120, 100),
    'SOAP_061': (100, 120),
}


def voc(boxes, label='Tree'):
    objects = ''.join(
        f'<object><name>{label}</name><bndbox><xmin>{x1}</xmin>'
        f'<ymin>{y1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox>'
        '</object>' for x1, y1, x2, y2 in boxes)
    return f'<annotation>{objects}</annotation>'.encode()


def stand_in_files(seed=0):
    """Image and XML bytes per source, random boxes of 10-60 pixels."""
    rng = np.random.default_rng(seed)
    files = {}
    for stem, (w, h) in SIZES.items():
        img = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
        xy = rng.uniform(0, [w - 10, h - 10], (12, 2))
        wh = rng.uniform(10, 60, (12, 2))
        boxes = np.concatenate([xy, np.minimum(xy + wh, [w, h])], 1).round()
        files[f'{stem}.png'] = cv2.imencode('.png', img)[1].tobytes()
        files[f'{stem}.xml'] = voc(boxes.astype(int).tolist())
    return files


@pytest.fixture
def small_wheel(tmp_path, monkeypatch):
    """A wheel holding the stand-in files, pinned in place of the real one,
    in a cache of its own; returns the cache."""
    files = stand_in_files()
    cache = tmp_path / 'cache' / 'mmohem'
    wheel = cache / 'downloads' / trees.WHEEL
    wheel.parent.mkdir(parents=True)
    with zipfile.ZipFile(wheel, 'w') as archive:
        for name, data in files.items():
            archive.writestr(trees.MEMBER_DIR + name, data)
        archive.writestr('deepforest/__init__.py', '')
    sha = {
        name: hashlib.sha256(data).hexdigest()
        for name, data in files.items()
    }
    monkeypatch.setattr(trees, 'WHEEL_SHA256', trees.sha256(str(wheel)))
    monkeypatch.setattr(
        trees, 'SOURCES', {
            stem:
            trees.Source(source.split, sha[f'{stem}.png'], sha[f'{stem}.xml'])
            for stem, source in trees.SOURCES.items()
        })
    monkeypatch.setattr(trees, 'LAYOUT',
                        dict(trees.LAYOUT, tile=200, train_stride=100))
    return str(cache)


def test_tiles_cover_each_image_and_validation_tiles_do_not_overlap():
    # training: 200-pixel tiles every 100 pixels, the last one at the border
    assert tile_edges(520, 200, 100) == [(0, 200), (100, 300), (200, 400),
                                         (300, 500), (320, 520)]
    # validation: an even grid of tiles that do not overlap
    assert tile_edges(430, 200, 200) == [(0, 143), (143, 287), (287, 430)]
    assert tile_edges(120, 200, 100) == [(0, 120)]


def test_a_box_cut_by_a_border_is_kept_clipped_or_ignored():
    # 50 % inside, 70 % inside, fully inside, 40 % inside, outside
    boxes = np.array([[90, 0, 110, 10], [94, 0, 114, 10], [120, 0, 130, 10],
                      [94, 0, 104, 10], [10, 10, 20, 20]], np.float32)
    kept, ignored = cut_boxes(boxes, 100, 0, 200, 100)
    # kept: at least half inside, clipped, in the tile's coordinates
    assert kept.tolist() == [[0, 0, 10, 10], [0, 0, 14, 10], [20, 0, 30, 10]]
    # a smaller part inside is an ignored region; outside is neither
    assert ignored.tolist() == [[0, 0, 4, 10]]


def test_the_set_is_split_by_source_image_and_every_tree_scored_once(
        small_wheel, tmp_path):
    files = ensure_trees(str(tmp_path / 'trees'), small_wheel)
    sources = osp.join(small_wheel, 'deepforest-2.1.0')
    split = {}
    for name, path in files.items():
        with open(path) as f:
            split[name] = json.load(f)
    stems = {
        name: {
            im['file_name'].split('/')[1].rsplit('_x', 1)[0]
            for im in data['images']
        }
        for name, data in split.items()
    }
    assert stems['train'] == {'2019_YELL_2_528000_4978000_image_crop2'}
    assert stems['val'] == {
        '2019_YELL_2_541000_4977000_image_crop', 'OSBS_029', 'SOAP_061'
    }
    # training tiles overlap (5 x 4 of 200 pixels over 520 x 450); the
    # validation tiles partition their images: every tree is one box of one
    # tile, clipped, unless less than half of it lies in any tile
    assert len(split['train']['images']) == 5 * 4
    val_trees = sum(
        len(trees.read_voc(osp.join(sources, f'{stem}.xml')))
        for stem in stems['val'])
    kept = [a for a in split['val']['annotations'] if not a['iscrowd']]
    assert len(kept) <= val_trees
    assert len(split['val']['annotations']) >= val_trees
    area = sum(im['width'] * im['height'] for im in split['val']['images'])
    assert area == sum(w * h for stem, (w, h) in SIZES.items()
                       if stem in stems['val'])
    # proposals for every tile, from the image alone
    for name in files:
        with open(tmp_path / 'trees' / f'{name}_proposals.pkl', 'rb') as f:
            proposals = __import__('pickle').load(f)
        assert set(proposals) == {
            im['file_name']
            for im in split[name]['images']
        }
        assert all(
            len(p['bboxes']) == trees.NUM_PROPOSALS
            for p in proposals.values())


def test_a_corrupt_extracted_file_is_extracted_again(small_wheel):
    folder = ensure_sources(small_wheel)
    image = osp.join(folder, 'OSBS_029.png')
    with open(image, 'r+b') as f:
        f.seek(100)
        byte = f.read(1)
        f.seek(100)
        f.write(bytes([byte[0] ^ 1]))
    assert ensure_sources(small_wheel) == folder
    assert trees.sha256(image) == trees.SOURCES['OSBS_029'].png_sha256


def offline_env(cache_home):
    env = dict(os.environ, PIP_NO_INDEX='1', XDG_CACHE_HOME=str(cache_home))
    env.pop('PIP_FIND_LINKS', None)
    return env


def test_a_corrupt_wheel_offline_is_removed_and_refused(
        small_wheel, monkeypatch):
    """A wheel with one byte changed fails its hash: it is deleted and
    fetched again, which offline fails with the message, so nothing is
    extracted from it."""
    wheel = osp.join(small_wheel, 'downloads', trees.WHEEL)
    with open(wheel, 'r+b') as f:
        f.seek(10)
        byte = f.read(1)
        f.seek(10)
        f.write(bytes([byte[0] ^ 1]))
    monkeypatch.setenv('PIP_NO_INDEX', '1')
    with pytest.raises(TreesUnavailable) as err:
        ensure_sources(small_wheel)
    assert 'pip download deepforest==2.1.0' in str(err.value)
    assert not osp.exists(wheel)
    assert not osp.exists(osp.join(small_wheel, 'deepforest-2.1.0'))
    with pytest.raises(TreesUnavailable):
        fetch_wheel(small_wheel)


def test_offline_with_an_empty_cache_says_what_to_do_in_one_line(tmp_path):
    """`mmohem demo --regime trees_fast` offline with nothing cached: one
    line naming the command that fetches the data and the variable to set,
    exit status 1, no traceback, nothing left that passes for a set."""
    proc = subprocess.run([
        sys.executable, '-m', 'mmohem.tools.cli', 'demo', '--regime',
        'trees_fast', '--iters', '1', '--work-dir',
        str(tmp_path / 'work')
    ],
                          env=offline_env(tmp_path / 'empty'),
                          capture_output=True,
                          text=True)
    assert proc.returncode == 1
    assert 'Traceback' not in proc.stderr
    errors = proc.stderr.strip().splitlines()
    assert len(errors) == 1, proc.stderr
    assert 'python -m pip download deepforest==2.1.0 --no-deps -d' in errors[0]
    assert 'XDG_CACHE_HOME' in errors[0]
    assert not osp.exists(tmp_path / 'work' / 'data' / 'trees')
