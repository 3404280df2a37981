# Oriented R-CNN on the shapes set's oriented boxes with mmdet's
# RandomSampler: 64 RoIs per image, a quarter of them foreground.
_base_ = './_base_/oriented_rcnn_r18_shapes.py'
