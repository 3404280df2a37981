# Fast R-CNN on the shapes set with mmdet's RandomSampler: 64 RoIs per
# image, a quarter of them foreground (the Fast R-CNN heuristic).
_base_ = './_base_/fast_rcnn_r18_shapes.py'
