"""Where a config keeps its R-CNN samplers, and the one way of writing them
that builds a sampler other than the one meant: ``type='OHEMSampler'``
(mmdet's) with mmohem's arguments.

Both the hooks (to name that mistake when a run mines nothing) and the
tools (``mmohem convert``, the config swap) read configs this way, so it
sits below both and imports neither.

Two-stage detectors keep the R-CNN sampler in ``train_cfg.rcnn.sampler``:
one dict, or a list with one dict per stage for cascades. The detector may
sit inside another model (``model.detector`` of a tracker or of a
semi-supervised wrapper), so every ``train_cfg`` under ``model`` is searched.
The RPN's sampler (``train_cfg.rpn``) is never an R-CNN sampler.
"""
from typing import Iterator, List, Tuple


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
