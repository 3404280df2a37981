"""Registries of mmohem, children of MMDetection's.

mmohem adds components to MMDetection without touching its registries'
names: ``TASK_UTILS`` holds the samplers and ``HOOKS`` the training hooks,
both under the scope ``mmohem``. Because they are children of mmdet's
registries, a config built by mmdet (whose default scope is ``mmdet``) finds
them by the scoped name, e.g. ``type='mmohem.OHEMSampler'``, while the bare
``type='OHEMSampler'`` still resolves to mmdet's own class.
"""
from mmdet.registry import HOOKS as MMDET_HOOKS
from mmdet.registry import TASK_UTILS as MMDET_TASK_UTILS
from mmengine.registry import Registry

TASK_UTILS = Registry(
    'task util',
    parent=MMDET_TASK_UTILS,
    scope='mmohem',
    locations=['mmohem.samplers'])
HOOKS = Registry(
    'hook', parent=MMDET_HOOKS, scope='mmohem', locations=['mmohem.hooks'])
