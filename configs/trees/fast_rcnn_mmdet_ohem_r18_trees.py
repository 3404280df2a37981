# Fast R-CNN on precomputed proposals on the tree set with mmdet's built-in
# OHEMSampler: the 1:3 foreground quota, each group ranked by the
# classification loss alone, no NMS. Only the sampler differs from
# fast_rcnn_random_r18_trees.py.
_base_ = './_base_/fast_rcnn_r18_trees.py'

model = dict(
    train_cfg=dict(
        rcnn=dict(
            sampler=dict(
                _delete_=True,
                type='OHEMSampler',
                num=64,
                pos_fraction=0.25,
                neg_pos_ub=-1,
                add_gt_as_proposals=True))))
