# Written by `mmohem convert configs/shapes/cascade_rcnn_random_r18_shapes.py
# -o configs/shapes/cascade_rcnn_mmohem_r18_shapes.py --stages all`:
# configs/shapes/cascade_rcnn_random_r18_shapes.py with mmohem.OHEMSampler in
# its 3 R-CNN stage(s); the RPN, the assigners and everything else as there.
# The cascade stages are restated from the source with only the sampler changed
# (a config cannot change a list item by item); run the command again if the
# source's stages change.
_base_ = 'cascade_rcnn_random_r18_shapes.py'
custom_imports = dict(
    allow_failed_imports=False,
    imports=[
        'mmohem',
        'mmohem.fixes.proposal_file_check',
        'mmohem.fixes.safe_checkpoint',
        'mmohem.fixes.cpu_distributed',
    ])
model = dict(
    train_cfg=dict(rcnn=[
        dict(
            assigner=dict(
                ignore_iof_thr=-1,
                match_low_quality=False,
                min_pos_iou=0.5,
                neg_iou_thr=0.5,
                pos_iou_thr=0.5,
                type='MaxIoUAssigner'),
            debug=False,
            pos_weight=-1,
            sampler=dict(
                add_gt_as_proposals=True,
                nms_iou_thr=0.7,
                num=64,
                pos_fraction=None,
                type='mmohem.OHEMSampler')),
        dict(
            assigner=dict(
                ignore_iof_thr=-1,
                match_low_quality=False,
                min_pos_iou=0.6,
                neg_iou_thr=0.6,
                pos_iou_thr=0.6,
                type='MaxIoUAssigner'),
            debug=False,
            pos_weight=-1,
            sampler=dict(
                add_gt_as_proposals=True,
                nms_iou_thr=0.7,
                num=64,
                pos_fraction=None,
                type='mmohem.OHEMSampler')),
        dict(
            assigner=dict(
                ignore_iof_thr=-1,
                match_low_quality=False,
                min_pos_iou=0.7,
                neg_iou_thr=0.7,
                pos_iou_thr=0.7,
                type='MaxIoUAssigner'),
            debug=False,
            pos_weight=-1,
            sampler=dict(
                add_gt_as_proposals=True,
                nms_iou_thr=0.7,
                num=64,
                pos_fraction=None,
                type='mmohem.OHEMSampler')),
    ]))
custom_hooks = [dict(type='mmohem.MiningStatsHook', draw_interval=100)]
