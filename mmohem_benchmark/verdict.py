"""When a gain counts: the one rule every table and page of the benchmark
applies to a variant against its baseline (docs/results.md).

Per seed, the paired difference (same seed, same data, the two samplers);
over the seeds, its mean and a 90 % t-interval (mean ± t(0.95, n − 1) ·
s / √n, s the sample standard deviation). The variant

- **pays** where the interval lies above zero and AP50 is not lower (its
  mean paired difference is at least 0);
- needs **more seeds** where the interval straddles zero, the mean is at
  least :data:`WORTH_MORE_SEEDS` AP and fewer than :data:`MAX_SEEDS` seeds
  ran;
- **loses** where the interval lies below zero;
- otherwise shows **no gain**.
"""
import math
import statistics
from typing import NamedTuple, Sequence

from scipy.stats import t as student_t

CONFIDENCE = 0.90
WORTH_MORE_SEEDS = 1.0  # AP
MAX_SEEDS = 5


class Verdict(NamedTuple):
    """The rule applied to paired differences (AP points).

    Attributes:
        mean (float): Mean paired difference of AP.
        low (float): Lower end of its 90 % t-interval (NaN for one seed).
        high (float): Upper end (NaN for one seed).
        ap50 (float): Mean paired difference of AP50.
        seeds (int): How many seeds both ran.
        word (str): ``'pays'``, ``'more seeds'``, ``'loses'`` or
            ``'no gain shown'``.
    """
    mean: float
    low: float
    high: float
    ap50: float
    seeds: int
    word: str

    def cell(self) -> str:
        """``+3.7 (+1.2, +6.2)``: the mean and the interval."""
        if math.isnan(self.low):
            return f'{self.mean:+.1f}'
        return f'{self.mean:+.1f} ({self.low:+.1f}, {self.high:+.1f})'


def verdict(ap: Sequence[float], ap50: Sequence[float]) -> Verdict:
    """The rule on paired differences per seed.

    Args:
        ap (Sequence[float]): Variant minus baseline AP, one per seed, in
            points.
        ap50 (Sequence[float]): The same for AP50.

    Returns:
        Verdict: The mean, the interval and the word.
    """
    n = len(ap)
    mean, mean50 = statistics.mean(ap), statistics.mean(ap50)
    if n < 2:
        return Verdict(mean, math.nan, math.nan, mean50, n, 'more seeds')
    half = student_t.ppf(0.5 + CONFIDENCE / 2,
                         n - 1) * statistics.stdev(ap) / math.sqrt(n)
    low, high = mean - half, mean + half
    if low > 0:
        word = 'pays' if mean50 >= 0 else 'no gain shown'
    elif high < 0:
        word = 'loses'
    elif mean >= WORTH_MORE_SEEDS and n < MAX_SEEDS:
        word = 'more seeds'
    else:
        word = 'no gain shown'
    return Verdict(mean, low, high, mean50, n, word)
