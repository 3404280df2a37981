"""When a validation curve has stopped rising: the rule that picks a
regime's schedule from ``RandomSampler``'s curve (docs/trees.md), before
any other sampler trains at it.

One evaluation on a small validation split often moves by a point or more
from the next, so the rule reads running means, not the raw points: the
schedule ends at the first evaluation whose running mean of
:data:`WINDOW` evaluations (it and the ones before it) no later running
mean exceeds by :data:`RISE` AP or more, with at least :data:`WINDOW`
evaluations after it to show that.
"""
from typing import List, Optional, Sequence

WINDOW = 3
RISE = 0.005  # 0.5 AP, as a fraction like the recorded AP


def running_means(curve: Sequence[dict],
                  window: int = WINDOW) -> List[Optional[float]]:
    """Trailing running means of a curve's AP.

    Args:
        curve (Sequence[dict]): Evaluations in training order, each with
            ``AP``.
        window (int): Evaluations in each mean.

    Returns:
        list: The mean AP of each evaluation and the ``window - 1`` before
        it; None for the first ``window - 1``.
    """
    aps = [point['AP'] for point in curve]
    return [
        None if i + 1 < window else sum(aps[i + 1 - window:i + 1]) / window
        for i in range(len(aps))
    ]


def stops_rising_at(curve: Sequence[dict],
                    window: int = WINDOW,
                    rise: float = RISE) -> Optional[int]:
    """The iteration at which the curve's AP has stopped rising.

    Args:
        curve (Sequence[dict]): Evaluations in training order, each with
            ``iter`` and ``AP`` (a fraction), as a recorded run's ``curve``.
        window (int): Evaluations in each running mean.
        rise (float): The least increase of the running mean, later in the
            curve, that counts as still rising.

    Returns:
        int or None: The ``iter`` of the first evaluation whose running
        mean no later running mean exceeds by ``rise`` or more, among those
        followed by at least ``window`` evaluations; None where there is
        none (still rising, or too short a curve to tell): train longer.
    """
    means = running_means(curve, window)
    for i, mean in enumerate(means):
        if mean is None:
            continue
        later = means[i + 1:]
        if len(later) < window:
            break
        # recorded AP has 3 decimals: a rise of exactly `rise` must count
        # as one, whatever the float sums round to
        if round(max(later) - mean, 9) < rise:
            return curve[i]['iter']
    return None


def describe(curve: Sequence[dict], window: int = WINDOW) -> str:
    """One phrase for a table.

    Args:
        curve (Sequence[dict]): A recorded run's ``curve``.
        window (int): Evaluations in each running mean.

    Returns:
        str: Where the curve stops rising; that it is still rising at its
        last evaluation; or that it is too short to tell (fewer than
        ``2 * window`` evaluations: a first mean and ``window`` after it).
    """
    if not curve:
        return 'no curve'
    if len(curve) < 2 * window:
        return f"too short to tell ({len(curve)} evaluations)"
    at = stops_rising_at(curve, window)
    if at is None:
        return f"still rising at {curve[-1]['iter']}"
    return f'stops rising at {at}'
