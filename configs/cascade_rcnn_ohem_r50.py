# Cascade R-CNN R-50-FPN, COCO, mmdet's 1x schedule, with OHEM in the first
# stage (Shrivastava et al., CVPR 2016, https://arxiv.org/abs/1604.03540).
#
# Changes against mmdet's cascade-rcnn_r50_fpn_1x_coco.py, nothing else:
# - the first stage's sampler: RandomSampler(512, pos_fraction=0.25) becomes
#   mmohem.OHEMSampler (pure OHEM, NMS at IoU 0.7), same 512 RoIs per image,
#   mined among the RPN's proposals with the first stage's head.
# - Stages 2 and 3 keep mmdet's RandomSampler. Their candidates are the
#   previous stage's 512 sampled RoIs, refined, so there is almost nothing
#   to mine, and NMS at 0.7 thins the positives that converged on each
#   object: on the shapes benchmark (docs/results.md, 3 seeds) OHEM in every
#   stage lost 4.5 AP to RandomSampler. `mmohem convert --stages all` writes
#   the every-stage variant.
# - The stage assigners are mmdet's (IoU 0.5 / 0.6 / 0.7, below = background,
#   so bg_lo = 0); the list has to be restated because configs replace lists
#   whole.
_base_ = 'mmdet::cascade_rcnn/cascade-rcnn_r50_fpn_1x_coco.py'

# mmohem registers the sampler; the two fixes (mmohem/fixes/) let --resume
# and load_from of local checkpoint files work on torch >= 2.6, and torchrun
# train on CPU-only machines.
custom_imports = dict(
    imports=[
        'mmohem', 'mmohem.fixes.safe_checkpoint',
        'mmohem.fixes.cpu_distributed'
    ],
    allow_failed_imports=False)

ohem_sampler = dict(
    type='mmohem.OHEMSampler',
    num=512,
    pos_fraction=None,
    nms_iou_thr=0.7,
    loss_keys=('loss_cls', 'loss_bbox'),
    neg_pos_ub=-1,
    add_gt_as_proposals=True)

random_sampler = dict(
    type='RandomSampler',
    num=512,
    pos_fraction=0.25,
    neg_pos_ub=-1,
    add_gt_as_proposals=True)


# mmengine drops functions from the parsed config: _stage leaves no key.
def _stage(iou, sampler):
    return dict(
        assigner=dict(
            type='MaxIoUAssigner',
            pos_iou_thr=iou,
            neg_iou_thr=iou,
            min_pos_iou=iou,
            match_low_quality=False,
            ignore_iof_thr=-1),
        sampler=sampler,
        pos_weight=-1,
        debug=False)


model = dict(
    train_cfg=dict(rcnn=[
        _stage(0.5, ohem_sampler),
        _stage(0.6, random_sampler),
        _stage(0.7, random_sampler)
    ]))
