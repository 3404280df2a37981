# Rotated Fast R-CNN on the 1000 precomputed proposals per image with mmdet's
# built-in OHEMSampler: the 64 RoIs per image keep the 1:3 foreground quota,
# each group ranked by the classification loss alone, no NMS. Only the
# sampler differs from rotated_fast_rcnn_random_r18_shapes.py.
_base_ = './_base_/rotated_fast_rcnn_r18_shapes.py'

model = dict(
    train_cfg=dict(
        rcnn=dict(
            sampler=dict(
                _delete_=True,
                type='mmdet.OHEMSampler',
                num=64,
                pos_fraction=0.25,
                neg_pos_ub=-1,
                add_gt_as_proposals=True))))
