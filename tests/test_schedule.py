"""The schedule rule (mmohem_benchmark/schedule.py) on recorded curves whose
running means are worked out by hand."""
import json

import pytest

from mmohem_benchmark.schedule import describe, running_means, stops_rising_at


def curve(aps, every=200):
    """A recorded curve's shape from AP values in points."""
    return [
        dict(iter=every * (i + 1), AP=ap / 100, AP50=0.)
        for i, ap in enumerate(aps)
    ]


# trees_fast, RandomSampler, BatchNorm recipe, seed 0 (trees_schedule.json):
# trailing means of 3 from 600 on: 2.37, 2.80, 2.60, 2.97, 2.57, 2.77, 2.13,
# 2.43; 2.37 is later exceeded by 0.6, 2.80 never by 0.5 or more
BN_TREES = curve([1.5, 2.4, 3.2, 2.8, 1.8, 4.3, 1.6, 2.4, 2.4, 2.5])
# the group-norm recipe, every 100: its last mean (4.07) is 0.53 above the
# one at 500 (3.53), and no point with 3 evaluations after it holds
GN_TREES = curve([1.9, 1.7, 4.9, 2.7, 3.0, 3.0, 3.3, 3.9, 4.5, 3.8], 100)


def test_running_means_are_trailing():
    means = running_means(BN_TREES)
    assert means[:2] == [None, None]
    assert means[2] == pytest.approx(0.0237, abs=1e-4)
    assert means[3] == pytest.approx(0.0280, abs=1e-4)


def test_recorded_curves():
    assert stops_rising_at(BN_TREES) == 800
    assert stops_rising_at(GN_TREES) is None
    assert describe(BN_TREES) == 'stops rising at 800'
    assert describe(GN_TREES).startswith('still rising at 1000')


def test_a_rise_after_a_plateau_moves_the_schedule():
    flat_then_rise = curve([10, 10, 10, 10, 10, 10, 12, 12, 12, 12, 12, 12])
    # means: 10 up to 1200, then 10.67, 11.33, and 12 from 1800 on
    assert stops_rising_at(flat_then_rise) == 1800
    assert stops_rising_at(flat_then_rise, rise=0.03) == 600


def test_needs_evaluations_after_the_point():
    # flat, but only 3 running means: none has 3 after it
    assert stops_rising_at(curve([5, 5, 5, 5, 5])) is None
    assert stops_rising_at(curve([5] * 6)) == 600
    assert describe([]) == 'no curve'
    assert describe(curve([5] * 5)) == 'too short to tell (5 evaluations)'


@pytest.mark.parametrize('last, stops', [(1.9, None), (1.8, 600)])
def test_a_rise_of_exactly_half_a_point_counts(last, stops):
    # running means 0.4 from 600 on, then 0.9 (with 1.9) at the end: in
    # floats 0.009 - 0.004 falls short of 0.005, the rule's rise does not
    points = curve([0.4] * 8 + [last])
    assert stops_rising_at(points) == stops


def test_ablate_table_prints_where_each_curve_stops(tmp_path, capsys):
    from mmohem.tools.cli import main
    results = tmp_path / 'trees_schedule.json'
    run = dict(AP=0.025, AP50=0.1, AP75=0.0, AP_small=0.0, iters=2000)
    results.write_text(
        json.dumps(
            dict(
                trees_fast=dict(random={
                    '0': dict(run, curve=BN_TREES),
                    '1': dict(run, curve=GN_TREES)
                }))))
    png = tmp_path / 'curves.png'
    assert main([
        'ablate', '--table', '--regime', 'trees_fast', '--results',
        str(results), '--curves',
        str(png)
    ]) == 0
    out = capsys.readouterr().out
    assert 'random seed 0: stops rising at 800' in out
    assert 'random seed 1: still rising at 1000' in out
    assert png.stat().st_size > 0
