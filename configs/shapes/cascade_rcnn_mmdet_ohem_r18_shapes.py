# Cascade R-CNN on the shapes set with mmdet's built-in OHEMSampler in its
# three stages: 64 RoIs per image with the 1:3 foreground quota, each group
# ranked by the classification loss alone, no NMS. Only the samplers differ
# from cascade_rcnn_random_r18_shapes.py (the stages are restated: a config
# cannot change a list item by item).
_base_ = './_base_/cascade_rcnn_r18_shapes.py'


def _stage(iou):
    return dict(
        assigner=dict(
            type='MaxIoUAssigner',
            pos_iou_thr=iou,
            neg_iou_thr=iou,
            min_pos_iou=iou,
            match_low_quality=False,
            ignore_iof_thr=-1),
        sampler=dict(
            type='OHEMSampler',
            num=64,
            pos_fraction=0.25,
            neg_pos_ub=-1,
            add_gt_as_proposals=True),
        pos_weight=-1,
        debug=False)


model = dict(train_cfg=dict(rcnn=[_stage(0.5), _stage(0.6), _stage(0.7)]))
