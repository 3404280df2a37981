"""What mmohem selects did not change when its cost was cut: on the cost
benchmark's batch (docs/benchmarks.md) each setting selects the RoIs, in the
order, that the code before the cut (commit e93f2ef) selected. The record,
tests/data/selection_record.json, was written by running
:func:`helpers.benchmark_batch_selection` with that commit's package."""
import json
import os.path as osp

import pytest
from helpers import RECORDED_SAMPLERS, benchmark_batch_selection

RECORD = osp.join(osp.dirname(__file__), 'data', 'selection_record.json')


@pytest.fixture(scope='module')
def selected():
    return benchmark_batch_selection(RECORDED_SAMPLERS)


@pytest.fixture(scope='module')
def recorded():
    with open(RECORD) as f:
        return json.load(f)['selection']


@pytest.mark.parametrize('setting', list(RECORDED_SAMPLERS))
def test_same_rois_in_the_same_order_as_before(selected, recorded, setting):
    assert len(selected[setting]) == 2  # images
    for now, before in zip(selected[setting], recorded[setting]):
        assert now['pos'] == before['pos']
        assert now['neg'] == before['neg']
        assert len(before['pos']) + len(before['neg']) > 0
