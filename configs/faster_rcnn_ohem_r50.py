# Faster R-CNN R-50-FPN, COCO, mmdet's 1x schedule, with OHEM in the R-CNN
# stage (Shrivastava et al., CVPR 2016, https://arxiv.org/abs/1604.03540).
#
# Changes against mmdet's faster-rcnn_r50_fpn_1x_coco.py, nothing else:
# - train_cfg.rcnn.sampler: RandomSampler(512, pos_fraction=0.25) becomes
#   mmohem.OHEMSampler: all proposals of an image are scored by the R-CNN head
#   (read-only), ranked by loss, NMS'ed at IoU 0.7, and the 512 hardest are
#   trained on, with no foreground quota (the paper's pure OHEM).
# - The RoI budget stays at mmdet's 512 per image, so OHEM and its
#   RandomSampler baseline train on equally many RoIs, as in the paper.
# - bg_lo = 0: the R-CNN assigner already labels every RoI below IoU 0.5
#   background (neg_iou_thr=0.5, a float, not a (0.1, 0.5) range).
# The RPN keeps its RandomSampler: OHEM mines R-CNN RoIs only.
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'

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
