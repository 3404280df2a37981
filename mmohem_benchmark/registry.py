"""The benchmark's registry: a child of mmdet's ``TASK_UTILS`` with the
scope ``mmohem_benchmark``, so that its research-only samplers
(``type='mmohem_benchmark.ResearchOHEMSampler'``) stay out of the product's
``mmohem`` scope."""
from mmdet.registry import TASK_UTILS as MMDET_TASK_UTILS
from mmengine.registry import Registry

TASK_UTILS = Registry(
    'task util',
    parent=MMDET_TASK_UTILS,
    scope='mmohem_benchmark',
    locations=['mmohem_benchmark.research_samplers'])
