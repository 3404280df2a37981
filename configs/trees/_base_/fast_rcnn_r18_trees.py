# Fast R-CNN on the tree set with 1000 precomputed proposals per tile, made
# from the image alone (mmohem_benchmark/proposals.py): the paper's regime on
# real images. The model is the shapes regime's (ResNet-18-FPN, 64 channels,
# random initialisation: no pretrained weights are reachable offline) with
# one class; the data, the augmentation and the checkpoint loading differ.
_base_ = ['../../shapes/_base_/fast_rcnn_r18_shapes.py', './trees_data.py']
# safe_checkpoint: the long schedules resume from their checkpoints
custom_imports = dict(
    imports=[
        'mmohem', 'mmohem.fixes.proposal_file_check',
        'mmohem.fixes.safe_checkpoint'
    ],
    allow_failed_imports=False)

model = dict(roi_head=dict(bbox_head=dict(num_classes=1)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadProposals', num_max_proposals=1000),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='ProposalBroadcaster',
        transforms=[_base_.trees_resize, _base_.trees_flip]),
    _base_.trees_photometric,
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadProposals', num_max_proposals=None),
    dict(type='ProposalBroadcaster', transforms=[_base_.trees_resize]),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        **_base_.trees_train_dataset,
        proposal_file='train_proposals.pkl',
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        **_base_.trees_val_dataset,
        proposal_file='val_proposals.pkl',
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = _base_.trees_evaluator
test_evaluator = val_evaluator
