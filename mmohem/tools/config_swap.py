"""Find the R-CNN samplers of a detector config and swap them for OHEM.

Two-stage detectors keep the R-CNN sampler in ``train_cfg.rcnn.sampler``:
one dict, or a list with one dict per stage for cascades. The detector may
sit inside another model (``model.detector`` of a tracker or of a
semi-supervised wrapper), so every ``train_cfg`` under ``model`` is searched.
The RPN's sampler (``train_cfg.rpn``) is never touched.
"""
from typing import Iterator, List, Optional, Tuple

# what a swap keeps from the original sampler
KEPT_KEYS = ('num', 'add_gt_as_proposals')
DEFAULT_NUM = 512  # mmdet's R-CNN configs
# which stages of a cascade get OHEM: 'first' mines the RPN's proposals
# only; a later stage's candidates are the previous stage's sampled RoIs,
# refined, about as many as it keeps, so there is little left to mine and
# NMS thins the positives that converged on each object (docs/results.md:
# -4.5 AP in every stage, +1.5, within the seed spread, in the first only,
# on the shapes benchmark, 3 seeds)
STAGE_CHOICES = ('first', 'all')


def rcnn_stages(model_cfg: dict,
                path: str = 'model') -> Iterator[Tuple[str, dict]]:
    """Every R-CNN stage's train config under ``model_cfg``.

    Args:
        model_cfg (dict): The ``model`` part of a config.
        path (str): Dotted path of ``model_cfg``, for the yielded paths.

    Yields:
        tuple[str, dict]: The stage's dotted path (e.g.
        ``model.train_cfg.rcnn`` or ``model.train_cfg.rcnn.2``) and its
        dict, which has a ``sampler``.
    """
    if not isinstance(model_cfg, dict):
        return
    train_cfg = model_cfg.get('train_cfg')
    if isinstance(train_cfg, dict):
        rcnn = train_cfg.get('rcnn')
        base = f'{path}.train_cfg.rcnn'
        if isinstance(rcnn, dict) and 'sampler' in rcnn:
            yield base, rcnn
        elif isinstance(rcnn, (list, tuple)):
            for i, stage in enumerate(rcnn):
                if isinstance(stage, dict) and 'sampler' in stage:
                    yield f'{base}.{i}', stage
    for key, value in model_cfg.items():
        if key != 'train_cfg' and isinstance(value, dict):
            yield from rcnn_stages(value, f'{path}.{key}')


def is_later_stage(path: str) -> bool:
    """Whether a path of :func:`rcnn_stages` is a cascade stage after the
    first (``...rcnn.1``, ``...rcnn.2``)."""
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


# arguments only mmohem.OHEMSampler takes: mmdet's OHEMSampler, given
# them, takes them silently into its **kwargs and ignores them
MMOHEM_ONLY_KEYS = ('nms_iou_thr', 'loss_keys', 'chunk_size', 'loss_weights',
                    'min_negatives', 'class_agnostic_nms')
MMDET_OHEM_TYPES = ('OHEMSampler', 'mmdet.OHEMSampler')


def mmohem_arguments(sampler: dict) -> List[str]:
    """mmohem.OHEMSampler's own arguments in ``sampler`` when it names
    mmdet's ``OHEMSampler``: the trap of ``type='OHEMSampler'`` (mmdet's)
    written with mmohem's arguments. Empty otherwise.

    Args:
        sampler (dict): A sampler config.

    Returns:
        list[str]: Those arguments (``pos_fraction=None`` among them: only
        mmohem's sampler accepts it).
    """
    if not isinstance(sampler,
                      dict) or sampler.get('type') not in MMDET_OHEM_TYPES:
        return []
    found = [key for key in MMOHEM_ONLY_KEYS if key in sampler]
    if 'pos_fraction' in sampler and sampler['pos_fraction'] is None:
        found.append('pos_fraction=None')
    return found


def mistyped_samplers(cfg) -> List[Tuple[str, List[str]]]:
    """The R-CNN samplers of ``cfg`` that fall into that trap.

    Args:
        cfg (Config | dict): A full config (with ``model``).

    Returns:
        list[tuple[str, list[str]]]: Each sampler's dotted path and the
        mmohem arguments it passes to mmdet's sampler.
    """
    found = []
    for path, stage in rcnn_stages(cfg.get('model') or {}):
        keys = mmohem_arguments(stage['sampler'])
        if keys:
            found.append((f'{path}.sampler', keys))
    return found


def mistyped_message(found: List[Tuple[str, List[str]]]) -> str:
    """What :func:`mistyped_samplers` found, and the fix."""
    where = '; '.join(f"{path} ({', '.join(keys)})" for path, keys in found)
    return (
        "type='OHEMSampler' is mmdet's built-in sampler, but the config "
        f"gives it mmohem.OHEMSampler's arguments: {where}. mmdet's sampler "
        'takes them into its **kwargs and ignores them (with '
        'pos_fraction=None, training then fails with "unsupported operand '
        "type(s) for *: 'int' and 'NoneType'\"). Write type="
        "'mmohem.OHEMSampler', with 'mmohem' in custom_imports.")


def ohem_sampler(original: Optional[dict], **options) -> dict:
    """``mmohem.OHEMSampler`` config replacing ``original``.

    Args:
        original (dict, optional): The sampler it replaces; its ``num`` and
            ``add_gt_as_proposals`` are kept (512 and True if absent), and
            all of mmohem's arguments when it is mmdet's ``OHEMSampler``
            written with them (:func:`mmohem_arguments`).
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


def mmdet_ohem_sampler(original: Optional[dict]) -> dict:
    """mmdet's built-in ``OHEMSampler`` replacing ``original`` (its quota
    and bounds kept, the 1:3 default quota where it had none)."""
    original = original or {}
    return dict(
        # scoped: a downstream repo's registry (mmrotate's) does not see
        # mmdet's bare name
        type='mmdet.OHEMSampler',
        num=original.get('num', DEFAULT_NUM),
        pos_fraction=original.get('pos_fraction', 0.25),
        neg_pos_ub=original.get('neg_pos_ub', -1),
        add_gt_as_proposals=original.get('add_gt_as_proposals', True))


def swap_samplers(cfg,
                  make_sampler=ohem_sampler,
                  stages: str = 'all',
                  **options) -> List[str]:
    """Replace the R-CNN samplers of ``cfg`` in place.

    Args:
        cfg (Config | dict): A full config (with ``model``).
        make_sampler (Callable): ``make_sampler(original, **options)`` gives
            the new sampler dict. Defaults to :func:`ohem_sampler`.
        stages (str): ``'all'`` (every R-CNN stage, what the compatibility
            sweep checks) or ``'first'`` (a cascade's later stages keep
            the source's samplers, whatever they are, as ``mmohem convert``
            does by default; see :func:`is_mined`).
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
