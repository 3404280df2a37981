# Faster R-CNN end to end on the tree set: the shapes regime's model (RPN and
# R-CNN, ResNet-18-FPN, random initialisation) with one class, on the trees'
# data and augmentation.
_base_ = ['../../shapes/_base_/faster_rcnn_r18_shapes.py', './trees_data.py']
# safe_checkpoint: the long schedules resume from their checkpoints
custom_imports = dict(
    imports=['mmohem', 'mmohem.fixes.safe_checkpoint'],
    allow_failed_imports=False)

model = dict(roi_head=dict(bbox_head=dict(num_classes=1)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True), _base_.trees_resize,
    _base_.trees_flip, _base_.trees_photometric,
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'), _base_.trees_resize,
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(
    dataset=dict(
        _delete_=True, **_base_.trees_train_dataset, pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        _delete_=True, **_base_.trees_val_dataset, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = _base_.trees_evaluator
test_evaluator = val_evaluator
