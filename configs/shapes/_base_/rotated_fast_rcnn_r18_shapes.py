# Rotated Fast R-CNN: Rotated Faster R-CNN's RoI head (mmrotate 1.0.0rc1:
# horizontal RoIs, rotated boxes predicted by DeltaXYWHTHBBoxCoder), ResNet-18
# -FPN with 64 channels, random initialisation (no download), trained on the
# 1000 precomputed proposals per image of the fast regime (mostly random
# boxes: the paper's regime, where most candidates are easy background) to
# detect the shapes set's oriented boxes, evaluated with mmrotate's
# DOTAMetric. The data, the schedule and the RoI budget (64 per image) are
# those of oriented_rcnn_r18_shapes.py; the R-CNN sampler is what the three
# variants in configs/shapes/ change. Needs mmrotate (the downstream stack).
_base_ = './oriented_rcnn_r18_shapes.py'
custom_imports = dict(
    imports=['mmohem', 'mmohem_benchmark.rotated_fast'],
    allow_failed_imports=False)

model = dict(
    _delete_=True,
    type='mmohem_benchmark.BoxedFastRCNN',
    data_preprocessor=dict(
        type='mmdet.DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=32,
        boxtype2tensor=False),
    backbone=dict(
        type='mmdet.ResNet',
        depth=18,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        frozen_stages=-1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        style='pytorch',
        init_cfg=None),
    neck=dict(
        type='mmdet.FPN',
        in_channels=[64, 128, 256, 512],
        out_channels=64,
        num_outs=5),
    roi_head=dict(
        type='mmdet.StandardRoIHead',
        bbox_roi_extractor=dict(
            type='mmdet.SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0),
            out_channels=64,
            featmap_strides=[4, 8, 16, 32]),
        bbox_head=dict(
            type='mmdet.Shared2FCBBoxHead',
            predict_box_type='rbox',
            in_channels=64,
            fc_out_channels=256,
            roi_feat_size=7,
            num_classes=3,
            reg_predictor_cfg=dict(type='mmdet.Linear'),
            cls_predictor_cfg=dict(type='mmdet.Linear'),
            bbox_coder=dict(
                type='DeltaXYWHTHBBoxCoder',
                angle_version='le90',
                norm_factor=2,
                edge_swap=True,
                target_means=(.0, .0, .0, .0, .0),
                target_stds=(0.1, 0.1, 0.2, 0.2, 0.1)),
            reg_class_agnostic=True,
            loss_cls=dict(
                type='mmdet.CrossEntropyLoss',
                use_sigmoid=False,
                loss_weight=1.0),
            loss_bbox=dict(
                type='mmdet.SmoothL1Loss', beta=1.0, loss_weight=1.0))),
    train_cfg=dict(
        rcnn=dict(
            assigner=dict(
                type='mmdet.MaxIoUAssigner',
                pos_iou_thr=0.5,
                neg_iou_thr=0.5,
                min_pos_iou=0.5,
                match_low_quality=False,
                ignore_iof_thr=-1,
                iou_calculator=dict(type='RBbox2HBboxOverlaps2D')),
            sampler=dict(
                type='mmdet.RandomSampler',
                num=64,
                pos_fraction=0.25,
                neg_pos_ub=-1,
                add_gt_as_proposals=True),
            pos_weight=-1,
            debug=False)),
    test_cfg=dict(
        rcnn=dict(
            nms_pre=1000,
            min_bbox_size=0,
            score_thr=0.05,
            # the shapes may overlap (one may hide up to half of another)
            nms=dict(type='nms_rotated', iou_threshold=0.5),
            max_per_img=100)))

image_scale = {{_base_.image_scale}}
train_pipeline = [
    dict(type='mmdet.LoadImageFromFile'),
    dict(type='mmdet.LoadProposals', num_max_proposals=1000),
    dict(type='mmdet.LoadAnnotations', with_bbox=True, box_type='qbox'),
    dict(type='ConvertBoxType', box_type_mapping=dict(gt_bboxes='rbox')),
    dict(
        type='mmdet.ProposalBroadcaster',
        transforms=[
            dict(type='mmdet.Resize', scale=image_scale, keep_ratio=True),
            dict(type='mmdet.RandomFlip', prob=0.5),
        ]),
    dict(type='mmdet.PackDetInputs')
]
val_pipeline = [
    dict(type='mmdet.LoadImageFromFile'),
    dict(type='mmdet.LoadProposals', num_max_proposals=None),
    dict(
        type='mmdet.ProposalBroadcaster',
        transforms=[
            dict(type='mmdet.Resize', scale=image_scale, keep_ratio=True),
        ]),
    dict(type='mmdet.LoadAnnotations', with_bbox=True, box_type='qbox'),
    dict(type='ConvertBoxType', box_type_mapping=dict(gt_bboxes='rbox')),
    dict(
        type='mmdet.PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(
    dataset=dict(
        type='mmohem_benchmark.DOTAWithProposals',
        proposal_file='train_proposals.pkl',
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        type='mmohem_benchmark.DOTAWithProposals',
        proposal_file='val_proposals.pkl',
        pipeline=val_pipeline))
test_dataloader = val_dataloader
