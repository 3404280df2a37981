"""The decision rule (mmohem_benchmark/verdict.py) on paired differences
whose interval is worked out by hand: t(0.95, 2) = 2.920, t(0.95, 4) =
2.132."""
import math

import pytest

from mmohem_benchmark.verdict import verdict


def test_interval_is_the_90_percent_t_interval():
    # mean 2, sample std 1, 3 seeds: 2 -+ 2.920 / sqrt(3)
    rule = verdict([1., 2., 3.], [0., 0., 0.])
    assert rule.mean == 2
    assert rule.low == pytest.approx(2 - 2.919986 / math.sqrt(3), abs=1e-5)
    assert rule.high == pytest.approx(2 + 2.919986 / math.sqrt(3), abs=1e-5)
    assert rule.word == 'pays'
    assert rule.cell() == '+2.0 (+0.3, +3.7)'


@pytest.mark.parametrize(
    'ap, ap50, word',
    [
        ([5.9, 4.0, 1.3], [10.4, 10.6, 5.6], 'more seeds'),  # straddles, >= 1
        ([5.9, 4.0, 1.3, 3.0, 2.0], [1.] * 5, 'pays'),  # 5 seeds settle it
        ([1., 2., 3.], [-1., 0., 0.], 'no gain shown'),  # AP50 lower
        ([0.5, -1., 2.], [0., 0., 0.], 'no gain shown'),  # mean below 1
        ([3., -1., 2., -2., 4.], [0.] * 5, 'no gain shown'),  # 5 seeds ran
        ([-3., -4., -2.], [0., 0., 0.], 'loses'),
        ([2.], [1.], 'more seeds'),  # one seed: no interval
    ])
def test_the_words(ap, ap50, word):
    assert verdict(ap, ap50).word == word
