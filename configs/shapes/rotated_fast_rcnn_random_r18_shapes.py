# Rotated Fast R-CNN on the 1000 precomputed proposals per image with mmdet's
# RandomSampler: 64 RoIs per image, a quarter of them foreground.
_base_ = './_base_/rotated_fast_rcnn_r18_shapes.py'
