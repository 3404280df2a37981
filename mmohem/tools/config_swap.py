"""Swap the R-CNN samplers of a detector config for OHEM: which stages get
it (the stage rule that ``mmohem convert`` follows too) and the sampler
that replaces each (:mod:`mmohem.sampler_configs` finds them). The RPN's
sampler is never touched.
"""
from typing import List, Optional

from ..sampler_configs import MMOHEM_ONLY_KEYS, mmohem_arguments, rcnn_stages

# what a swap keeps from the original sampler
KEPT_KEYS = ('num', 'add_gt_as_proposals')
DEFAULT_NUM = 512  # mmdet's R-CNN configs
# which stages of a cascade get OHEM: 'first' mines the RPN's proposals
# only, the pool OHEM was made for. A later stage's candidates are the
# previous stage's sampled RoIs, refined, about as many as it keeps, so
# there is little left to mine, and NMS thins the positives that converged
# on each object; docs/results.md (the cascade regime) has the measurements
STAGE_CHOICES = ('first', 'all')


def is_later_stage(path: str) -> bool:
    """Whether a path of :func:`~mmohem.sampler_configs.rcnn_stages` is a
    cascade stage after the first (``...rcnn.1``, ``...rcnn.2``)."""
    index = path.rpartition('.')[2]
    return index.isdigit() and index != '0'


def check_stages(stages: str) -> None:
    """Refuse a ``stages`` value that is not one of :data:`STAGE_CHOICES`.
    """
    if stages not in STAGE_CHOICES:
        raise ValueError(f'stages={stages!r}: give one of {STAGE_CHOICES} '
                         "('first': OHEM in the first R-CNN stage of a "
                         "cascade only, 'all': in every stage)")


def is_mined(path: str, stage: dict, stages: str) -> bool:
    """Whether the R-CNN stage at ``path`` gets mmohem's sampler: every
    stage with ``stages='all'``; with ``'first'``, all but a cascade's
    later stages, and those too when one names mmdet's OHEMSampler with
    mmohem's arguments (meant for mmohem; as written, it would not train).
    """
    return (stages == 'all' or not is_later_stage(path)
            or bool(mmohem_arguments(stage['sampler'])))


def has_key(tree, key: str) -> bool:
    """Whether a config tree (dicts and lists) sets ``key`` anywhere to
    something other than None."""
    if isinstance(tree, dict):
        return any(k == key and v is not None or has_key(v, key)
                   for k, v in tree.items())
    if isinstance(tree, (list, tuple)):
        return any(has_key(v, key) for v in tree)
    return False


def ohem_sampler(original: Optional[dict], **options) -> dict:
    """``mmohem.OHEMSampler`` config replacing ``original``.

    Args:
        original (dict, optional): The sampler it replaces; its ``num`` and
            ``add_gt_as_proposals`` are kept (512 and True if absent), and
            all of mmohem's arguments when it is mmdet's ``OHEMSampler``
            written with them
            (:func:`~mmohem.sampler_configs.mmohem_arguments`).
        **options: mmohem.OHEMSampler arguments (``pos_fraction``,
            ``nms_iou_thr``, ``loss_keys``, ``neg_pos_ub``, ...), which win.

    Returns:
        dict: The new sampler config.
    """
    original = original or {}
    # the paper's choices, spelled out so that a written config shows them
    sampler = dict(
        type='mmohem.OHEMSampler',
        num=DEFAULT_NUM,
        pos_fraction=None,
        nms_iou_thr=0.7)
    kept = KEPT_KEYS
    if mmohem_arguments(original):
        # mmdet's name with mmohem's arguments: they were meant for mmohem
        kept += MMOHEM_ONLY_KEYS + ('pos_fraction', 'neg_pos_ub')
    sampler.update({k: original[k] for k in kept if k in original})
    sampler.update(options)
    return sampler


def swap_samplers(cfg,
                  make_sampler=ohem_sampler,
                  stages: str = 'first',
                  **options) -> List[str]:
    """Replace the R-CNN samplers of ``cfg`` in place.

    Args:
        cfg (Config | dict): A full config (with ``model``).
        make_sampler (Callable): ``make_sampler(original, **options)`` gives
            the new sampler dict. Defaults to :func:`ohem_sampler`.
        stages (str): ``'first'`` (default, as ``mmohem convert``): a
            cascade's later stages keep the source's samplers, whatever
            they are (see :func:`is_mined`); ``'all'``: every R-CNN stage.
        **options: Passed to ``make_sampler``.

    Returns:
        list[str]: The dotted paths of the stages changed.

    Raises:
        ValueError: If the config has no R-CNN sampler.
    """
    check_stages(stages)
    found = list(rcnn_stages(cfg['model']))
    if not found:
        raise ValueError(
            f"{cfg['model'].get('type', 'this model')} has no R-CNN sampler "
            '(model.train_cfg.rcnn.sampler): OHEM mines the RoIs of a '
            'two-stage detector\'s R-CNN head. One-stage detectors, DETR-like '
            'models and RPN-only models have none.')
    changed = [(path, stage) for path, stage in found
               if is_mined(path, stage, stages)]
    for _, stage in changed:
        stage['sampler'] = make_sampler(stage['sampler'], **options)
    return [path for path, _ in changed]
