# Fast R-CNN R-50-FPN on precomputed proposals, COCO, mmdet's 1x schedule,
# with OHEM: the regime of the paper (Shrivastava et al., CVPR 2016,
# https://arxiv.org/abs/1604.03540), where up to 2000 unfiltered proposals per
# image are mostly easy background and OHEM helps most.
#
# Changes against mmdet's fast-rcnn_r50_fpn_1x_coco.py, nothing else:
# - train_cfg.rcnn.sampler: RandomSampler(512, pos_fraction=0.25) becomes
#   mmohem.OHEMSampler (pure OHEM, NMS at IoU 0.7), same 512 RoIs per image.
# - bg_lo = 0 already holds (the assigner's neg_iou_thr=0.5).
# Proposal files as in mmdet's config: data/coco/proposals/*.pkl.
_base_ = 'mmdet::fast_rcnn/fast-rcnn_r50_fpn_1x_coco.py'

# mmohem registers the sampler; the fixes (mmohem/fixes/) let --resume and
# load_from of local checkpoint files work on torch >= 2.6, torchrun train
# on CPU-only machines, and name the images an incomplete proposal file
# lacks.
custom_imports = dict(
    imports=[
        'mmohem', 'mmohem.fixes.safe_checkpoint',
        'mmohem.fixes.cpu_distributed', 'mmohem.fixes.proposal_file_check'
    ],
    allow_failed_imports=False)

model = dict(
    train_cfg=dict(
        rcnn=dict(
            sampler=dict(
                _delete_=True,
                type='mmohem.OHEMSampler',
                num=512,
                pos_fraction=None,
                nms_iou_thr=0.7,
                loss_keys=('loss_cls', 'loss_bbox'),
                neg_pos_ub=-1,
                add_gt_as_proposals=True))))
