# Oriented R-CNN (mmrotate 1.0.0rc1), ResNet-18-FPN with 64 channels, random
# initialisation (no download), trained end to end on the shapes set's
# oriented boxes (mmrotate's DOTADataset format, written by `mmohem demo
# --regime oriented`) and evaluated with mmrotate's DOTAMetric. The network
# sizes, the RPN's proposal budget, the RoI budget (64 per image) and the
# schedule are those of faster_rcnn_r18_shapes.py; the R-CNN sampler is what
# the three variants in configs/shapes/ change. Needs mmrotate (the
# downstream stack, docs/installation.md).
_base_ = 'mmrotate::oriented_rcnn/oriented-rcnn-le90_r50_fpn_1x_dota.py'
custom_imports = dict(imports=['mmohem'], allow_failed_imports=False)

data_root = 'data/shapes/'
classes = ('disc', 'square', 'triangle')
image_scale = (256, 256)

model = dict(
    backbone=dict(depth=18, frozen_stages=-1, norm_eval=False, init_cfg=None),
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=64),
    rpn_head=dict(in_channels=64, feat_channels=64),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=64),
        bbox_head=dict(in_channels=64, fc_out_channels=256, num_classes=3)),
    train_cfg=dict(
        rpn=dict(allowed_border=-1),
        rpn_proposal=dict(
            nms_pre=2000,
            max_per_img=1000,
            nms=dict(type='nms', iou_threshold=0.7)),
        rcnn=dict(
            sampler=dict(
                type='mmdet.RandomSampler',
                num=64,
                pos_fraction=0.25,
                neg_pos_ub=-1,
                add_gt_as_proposals=True))),
    test_cfg=dict(
        rpn=dict(
            nms_pre=1000,
            max_per_img=1000,
            nms=dict(type='nms', iou_threshold=0.7)),
        # the shapes may overlap (one may hide up to half of another)
        rcnn=dict(
            nms_pre=1000,
            score_thr=0.05,
            nms=dict(type='nms_rotated', iou_threshold=0.5),
            max_per_img=100)))

train_pipeline = [
    dict(type='mmdet.LoadImageFromFile'),
    dict(type='mmdet.LoadAnnotations', with_bbox=True, box_type='qbox'),
    dict(type='ConvertBoxType', box_type_mapping=dict(gt_bboxes='rbox')),
    dict(type='mmdet.Resize', scale=image_scale, keep_ratio=True),
    dict(type='mmdet.RandomFlip', prob=0.5),
    dict(type='mmdet.PackDetInputs')
]
val_pipeline = [
    dict(type='mmdet.LoadImageFromFile'),
    dict(type='mmdet.Resize', scale=image_scale, keep_ratio=True),
    dict(type='mmdet.LoadAnnotations', with_bbox=True, box_type='qbox'),
    dict(type='ConvertBoxType', box_type_mapping=dict(gt_bboxes='rbox')),
    dict(
        type='mmdet.PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(_delete_=True, type='InfiniteSampler', shuffle=True),
    dataset=dict(
        data_root=data_root,
        metainfo=dict(classes=classes),
        ann_file='dota/train/',
        data_prefix=dict(img_path='train/'),
        img_shape=image_scale,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        metainfo=dict(classes=classes),
        ann_file='dota/val/',
        data_prefix=dict(img_path='val/'),
        img_shape=image_scale,
        pipeline=val_pipeline))
test_dataloader = val_dataloader
# mAP over IoU 0.50:0.05:0.95 (as COCO's AP), AP50 and AP75 among them
val_evaluator = dict(
    type='DOTAMetric',
    metric='mAP',
    iou_thrs=[0.5 + 0.05 * i for i in range(10)])
test_evaluator = val_evaluator

# the shapes schedule (shapes_schedule.py), restated over mmrotate's 1x
max_iters = 400
train_cfg = dict(
    _delete_=True,
    type='IterBasedTrainLoop',
    max_iters=max_iters,
    val_interval=max_iters)
optim_wrapper = dict(
    optimizer=dict(lr=0.02), clip_grad=dict(max_norm=10, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(
        type='MultiStepLR',
        by_epoch=False,
        begin=0,
        end=max_iters,
        milestones=[int(max_iters * 0.75)],
        gamma=0.1)
]
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(by_epoch=False, interval=max_iters, max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
