"""When a validation curve has stopped rising: the rule that picks a
regime's schedule from ``RandomSampler``'s curve (docs/trees.md), before
any other sampler trains at it.

A single evaluation on a small validation split moves by a point or more
from one to the next, so the rule reads a running mean, not the raw
points: the schedule ends at the first evaluation whose running mean of
:data:`WINDOW` evaluations (it and the ones before it) is never exceeded
by :data:`RISE` AP or more later in the curve, with at least
:data:`WINDOW` evaluations after it to show that.
"""
from typing import List, Optional, Sequence

WINDOW = 3
RISE = 0.005  # 0.5 AP, as a fraction like the recorded AP


def running_means(curve: Sequence[dict],
                  window: int = WINDOW) -> List[Optional[float]]:
    """The mean AP of each evaluation and the ``window - 1`` before it
    (None for the first ``window - 1``)."""
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
        if max(later) < mean + rise:
            return curve[i]['iter']
    return None


def describe(curve: Sequence[dict]) -> str:
    """One phrase for a table: where the curve stopped rising, or that it
    had not by its last evaluation."""
    if not curve:
        return 'no curve'
    at = stops_rising_at(curve)
    if at is None:
        return f"still rising at {curve[-1]['iter']} (or too few points)"
    return f'stops rising at {at}'
