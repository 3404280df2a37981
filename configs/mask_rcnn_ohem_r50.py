# Mask R-CNN R-50-FPN, COCO, mmdet's 1x schedule, with OHEM in the R-CNN
# stage (Shrivastava et al., CVPR 2016, https://arxiv.org/abs/1604.03540).
#
# Changes against mmdet's mask-rcnn_r50_fpn_1x_coco.py, nothing else:
# - train_cfg.rcnn.sampler: RandomSampler(512, pos_fraction=0.25) becomes
#   mmohem.OHEMSampler (pure OHEM, NMS at IoU 0.7), same 512 RoIs per image.
#   RoIs are ranked by the box branch's loss (classification + regression);
#   the mask head then trains on the foreground RoIs of that selection.
# - bg_lo = 0 already holds (the assigner's neg_iou_thr=0.5).
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'

# mmohem registers the sampler; the two fixes (mmohem/fixes/) let --resume
# and load_from of local checkpoint files work on torch >= 2.6, and torchrun
# train on CPU-only machines.
custom_imports = dict(
    imports=[
        'mmohem', 'mmohem.fixes.safe_checkpoint',
        'mmohem.fixes.cpu_distributed'
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
