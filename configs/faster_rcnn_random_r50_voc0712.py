# The RandomSampler twin of faster_rcnn_ohem_r50_voc0712.py: mmdet's
# Faster R-CNN R-50-FPN on Pascal VOC 07+12 trainval, tested on VOC07 test,
# unchanged. The paper's VOC result (Shrivastava et al., CVPR 2016:
# FRCN 70.0 vs FRCN+OHEM 74.6 mAP, VGG16, 07+12) can be repeated with this
# detector by training both configs of this pair; they differ in the R-CNN
# sampler alone.
_base_ = 'mmdet::pascal_voc/faster-rcnn_r50_fpn_1x_voc0712.py'
