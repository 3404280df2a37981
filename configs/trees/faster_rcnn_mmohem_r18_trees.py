# Faster R-CNN end to end on the tree set with mmohem.OHEMSampler: all
# candidates scored, ranked by their full loss, NMS at 0.7, the 64 hardest per
# tile kept with no foreground quota (the paper). Only the sampler differs from
# faster_rcnn_random_r18_trees.py, plus the hook that logs and draws what was
# mined.
_base_ = './_base_/faster_rcnn_r18_trees.py'

model = dict(
    train_cfg=dict(
        rcnn=dict(
            sampler=dict(
                _delete_=True,
                type='mmohem.OHEMSampler',
                num=64,
                pos_fraction=None,
                nms_iou_thr=0.7,
                loss_keys=('loss_cls', 'loss_bbox'),
                neg_pos_ub=-1,
                add_gt_as_proposals=True))))
custom_hooks = [dict(type='mmohem.MiningStatsHook', draw_interval=100)]
