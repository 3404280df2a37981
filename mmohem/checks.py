"""Argument checks shared by mmohem's components, and the OHEM sampler's: a
bad config value fails when the component is built, naming the component,
the value and the fix."""
import math
from numbers import Real
from typing import Dict, Optional, Sequence, Tuple, Union


def check_int(owner: str,
              name: str,
              value,
              minimum: int,
              hint: str = '') -> None:
    """Raise unless ``value`` is an integer (not a bool) >= ``minimum``.

    Args:
        owner (str): The component, e.g. ``'mmohem.OHEMSampler'``.
        name (str): The argument's name.
        value: The argument's value.
        minimum (int): The smallest value allowed.
        hint (str): Appended to the message (what the value means).

    Raises:
        ValueError: Naming the owner, the argument and the value.
    """
    if isinstance(value, bool) or not isinstance(value, int) \
            or value < minimum:
        raise ValueError(f'{owner}: {name} must be an integer >= {minimum}, '
                         f'got {value!r}. {hint}'.rstrip())


def in_unit_interval(value) -> bool:
    """Whether ``value`` is a real number (not a bool) in (0, 1]."""
    return (isinstance(value, Real) and not isinstance(value, bool)
            and 0 < value <= 1)


def check_sampler_args(owner: str, terms: Tuple[str, ...], *, num: int,
                       pos_fraction: Optional[float],
                       nms_iou_thr: Optional[float],
                       loss_keys: Union[str, Sequence[str], None],
                       neg_pos_ub: int, chunk_size: int, min_negatives: int,
                       class_agnostic_nms: bool) -> Optional[Tuple[str, ...]]:
    """Raise unless the OHEM sampler's arguments (those of
    :class:`~mmohem.OHEMSampler` of the same names) are valid; ``loss_keys``
    may name only ``terms``. Returns ``loss_keys`` as a tuple (None stays
    None: the head decides).

    Raises:
        ValueError: Naming ``owner``, the argument and the value.
    """
    check_int(owner, 'num', num, 1)
    for name, value, none in (('pos_fraction', pos_fraction, 'pure OHEM'),
                              ('nms_iou_thr', nms_iou_thr, 'no NMS')):
        if value is not None and not in_unit_interval(value):
            raise ValueError(f'{owner}: {name} must be None ({none}) or a '
                             f'number in (0, 1], got {value!r}')
    if loss_keys is not None:
        loss_keys = (loss_keys, ) if isinstance(loss_keys,
                                                str) else tuple(loss_keys)
        if not loss_keys or any(key not in terms for key in loss_keys):
            raise ValueError(f'{owner}: loss_keys must be a non-empty '
                             f'subset of {terms}, got {loss_keys!r}')
    check_int(
        owner,
        'neg_pos_ub',
        neg_pos_ub,
        -1,
        hint='It is a ratio, not a count: at most neg_pos_ub background RoIs '
        'per foreground RoI (e.g. 3 for 1:3); -1 for no bound. To cap the '
        'RoIs per image, set num.')
    check_int(owner, 'chunk_size', chunk_size, 1)
    check_int(
        owner,
        'min_negatives',
        min_negatives,
        0,
        hint='It is a count of background RoIs per image.')
    if min_negatives > num:
        raise ValueError(
            f'{owner}: min_negatives ({min_negatives}) exceeds num ({num}), '
            'the RoIs kept per image; lower min_negatives or raise num.')
    if not isinstance(class_agnostic_nms, bool):
        raise ValueError(f'{owner}: class_agnostic_nms must be True or '
                         f'False, got {class_agnostic_nms!r}')
    return loss_keys


def check_loss_weights(
        owner: str, weights: Optional[Dict[str, float]],
        loss_keys: Tuple[str, ...]) -> Optional[Dict[str, float]]:
    """The weight of each scored term (``loss_keys``) from the sampler's
    ``loss_weights`` (a term not named weighs 1), or None when all are 1.

    Raises:
        ValueError: Naming ``owner`` and what is wrong with ``weights``.
    """
    if weights is None:
        return None
    if not isinstance(weights, dict):
        raise ValueError(
            f'{owner}: loss_weights must be a dict of ranking terms to '
            f'weights, e.g. dict(loss_cls=1., loss_bbox=2.), got {weights!r}')
    for key, value in weights.items():
        if key not in loss_keys:
            raise ValueError(
                f'{owner}: loss_weights names {key!r}, which this sampler '
                f'does not score (it ranks by {loss_keys}); name only those '
                f'terms, or add {key!r} to loss_keys if the head can score '
                'it.')
        if isinstance(value, bool) or not isinstance(
                value, Real) or not math.isfinite(value) or value < 0:
            raise ValueError(
                f'{owner}: loss_weights[{key!r}] must be a finite number '
                f'>= 0, got {value!r}')
    full = {key: float(weights.get(key, 1.)) for key in loss_keys}
    if not any(full.values()):
        raise ValueError(
            f'{owner}: every loss_weights value is 0, so every RoI would '
            'rank alike; give at least one term a positive weight.')
    return None if all(w == 1 for w in full.values()) else full
