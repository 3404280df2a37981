# Cascade R-CNN (mmdet's three stages: IoU 0.5, 0.6, 0.7, stage loss weights
# 1, 0.5, 0.25, halving box-target stds) with faster_rcnn_r18_shapes.py's
# backbone, RPN, widths, data and schedule, and 64 RoIs per image in every
# stage. After the first stage the candidates are the previous stage's
# refined RoIs. The stages' samplers are what the variants in configs/shapes/
# change.
_base_ = './faster_rcnn_r18_shapes.py'


def _stage_head(stds):
    return dict(
        type='Shared2FCBBoxHead',
        in_channels=64,
        fc_out_channels=256,
        roi_feat_size=7,
        num_classes=3,
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder',
            target_means=[0., 0., 0., 0.],
            target_stds=stds),
        reg_class_agnostic=True,
        loss_cls=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
        loss_bbox=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0))


def _stage_train(iou):
    return dict(
        assigner=dict(
            type='MaxIoUAssigner',
            pos_iou_thr=iou,
            neg_iou_thr=iou,
            min_pos_iou=iou,
            match_low_quality=False,
            ignore_iof_thr=-1),
        sampler=dict(
            type='RandomSampler',
            num=64,
            pos_fraction=0.25,
            neg_pos_ub=-1,
            add_gt_as_proposals=True),
        pos_weight=-1,
        debug=False)


model = dict(
    type='CascadeRCNN',
    roi_head=dict(
        _delete_=True,
        type='CascadeRoIHead',
        num_stages=3,
        stage_loss_weights=[1, 0.5, 0.25],
        bbox_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0),
            out_channels=64,
            featmap_strides=[4, 8, 16, 32]),
        bbox_head=[
            _stage_head([0.1, 0.1, 0.2, 0.2]),
            _stage_head([0.05, 0.05, 0.1, 0.1]),
            _stage_head([0.033, 0.033, 0.067, 0.067])
        ]),
    train_cfg=dict(
        rcnn=[_stage_train(0.5),
              _stage_train(0.6),
              _stage_train(0.7)]))
