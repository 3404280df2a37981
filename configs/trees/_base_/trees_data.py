# The tree set that `mmohem demo --regime trees_fast` builds
# (mmohem_benchmark/trees.py, docs/results.md): tiles of at most 400x400
# pixels of NEON aerial images, one class, COCO-format annotations, the large
# YELL crop for training and the three other images for validation. Only
# variables here, with names of their own: the trees' regime configs take
# them on top of the shapes' models.
trees_root = 'data/trees/'
trees_dataset = dict(
    type='CocoDataset',
    data_root=trees_root,
    metainfo=dict(classes=('tree', )),
    data_prefix=dict(img=''))
trees_train_dataset = dict(
    trees_dataset,
    ann_file='train.json',
    filter_cfg=dict(filter_empty_gt=True, min_size=0))
trees_val_dataset = dict(trees_dataset, ann_file='val.json', test_mode=True)
trees_evaluator = dict(
    type='CocoMetric', ann_file=trees_root + 'val.json', metric='bbox')
# the tiles are used at their own resolution (10 cm per pixel); seen from
# above a tree has no up, so a tile is flipped in any of the four ways
trees_resize = dict(type='Resize', scale_factor=1.0, keep_ratio=True)
trees_flip = dict(
    type='RandomFlip',
    prob=[0.25, 0.25, 0.25],
    direction=['horizontal', 'vertical', 'diagonal'])
trees_photometric = dict(type='PhotoMetricDistortion')
