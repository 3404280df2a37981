# The synthetic shapes set that `mmohem demo` generates (docs/demo.md):
# 256x256 images, 3 classes, COCO-format annotations, and precomputed
# proposals (train_proposals.pkl, val_proposals.pkl) for Fast R-CNN.
data_root = 'data/shapes/'
classes = ('disc', 'square', 'triangle')
image_scale = (256, 256)

train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='CocoDataset',
        data_root=data_root,
        metainfo=dict(classes=classes),
        ann_file='train.json',
        data_prefix=dict(img=''),
        filter_cfg=dict(filter_empty_gt=True, min_size=0)))
val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='CocoDataset',
        data_root=data_root,
        metainfo=dict(classes=classes),
        ann_file='val.json',
        data_prefix=dict(img=''),
        test_mode=True))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='CocoMetric', ann_file=data_root + 'val.json', metric='bbox')
test_evaluator = val_evaluator
