# Faster R-CNN R-50-FPN on Pascal VOC 07+12 with OHEM: the paper's VOC
# protocol (Shrivastava et al., CVPR 2016, https://arxiv.org/abs/1604.03540),
# trained on VOC07+12 trainval, tested on VOC07 test (mAP at IoU 0.5).
#
# Changes against its twin faster_rcnn_random_r50_voc0712.py (mmdet's
# faster-rcnn_r50_fpn_1x_voc0712.py), nothing else:
# - train_cfg.rcnn.sampler: RandomSampler(512, pos_fraction=0.25) becomes
#   mmohem.OHEMSampler (pure OHEM, NMS at IoU 0.7), same 512 RoIs per image.
# - bg_lo = 0 already holds (the assigner's neg_iou_thr=0.5).
_base_ = './faster_rcnn_random_r50_voc0712.py'

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
