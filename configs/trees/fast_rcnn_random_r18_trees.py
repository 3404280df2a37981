# Fast R-CNN on precomputed proposals on the tree set with mmdet's
# RandomSampler: 64 RoIs per tile, a quarter of them foreground (the Fast R-CNN
# heuristic).
_base_ = './_base_/fast_rcnn_r18_trees.py'
