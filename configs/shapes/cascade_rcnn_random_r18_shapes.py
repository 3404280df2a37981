# Cascade R-CNN on the shapes set with mmdet's RandomSampler in its three
# stages: 64 RoIs per image, a quarter of them foreground.
_base_ = './_base_/cascade_rcnn_r18_shapes.py'
