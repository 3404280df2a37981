"""What mmohem selects does not change unnoticed: on the cost benchmark's
batch (docs/benchmarks.md) each setting of ``helpers.RECORDED_SAMPLERS``
selects the RoIs, in the order, that tests/data/selection_record.json holds
(written by :func:`helpers.benchmark_batch_selection`; the file names the
commit and the machine it was written with).

The record detects change, not correctness (the reference tests check
that). The batch carries jittered copies of each ground-truth box among its
proposals (``helpers.with_jittered_gt``), so that NMS, the foreground quota
and the background bound each change what is selected: every setting selects
something else (:func:`test_every_setting_selects_something_else`), and a
change to any of them shows. The record depends on the CPU's arithmetic:
the RPN of a random-weight ResNet-50 ranks its proposals by float sums that
another instruction set or mmcv build computes a little differently, so
near-tied proposals swap indices and the selection's indices move with them
(unpinned, a CPU with AVX-512 moves image 0's background indices from rank
151 on). The selection
is therefore computed in a subprocess that limits oneDNN, MKL and ATen to
AVX2 kernels (:data:`PINNED_ISA`). Where the record must be written anew (a
machine on which the pinned selection still differs), write it with
:data:`PINNED_ISA` set, after checking on that machine that the package of
the commit the record names selects exactly what the current code selects:
then the new record holds the same selection in that machine's arithmetic.
"""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
from helpers import RECORDED_SAMPLERS

TESTS = osp.dirname(__file__)
RECORD = osp.join(TESTS, 'data', 'selection_record.json')
# read when the libraries load, so only a new process can set them
PINNED_ISA = dict(
    ONEDNN_MAX_CPU_ISA='AVX2',
    DNNL_MAX_CPU_ISA='AVX2',
    MKL_ENABLE_INSTRUCTIONS='AVX2',
    ATEN_CPU_CAPABILITY='avx2')
SELECT = """\
import json, sys
from helpers import RECORDED_SAMPLERS, benchmark_batch_selection
with open(sys.argv[1], 'w') as f:
    json.dump(benchmark_batch_selection(RECORDED_SAMPLERS), f)
"""


@pytest.fixture(scope='module')
def selected(tmp_path_factory):
    out = tmp_path_factory.mktemp('selection') / 'selected.json'
    proc = subprocess.run(
        [sys.executable, '-c', SELECT, str(out)],
        cwd=TESTS,
        env=dict(os.environ, **PINNED_ISA),
        capture_output=True,
        text=True,
        timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(out) as f:
        return json.load(f)


@pytest.fixture(scope='module')
def recorded():
    with open(RECORD) as f:
        return json.load(f)['selection']


def test_every_setting_selects_something_else(recorded):
    settings = list(RECORDED_SAMPLERS)
    assert set(recorded) == set(settings)
    for i, a in enumerate(settings):
        for b in settings[i + 1:]:
            assert recorded[a] != recorded[b], (a, b)
    # NMS removes near-duplicate foreground; the quota caps it at 8 of 64
    default, no_nms = recorded['default'][0], recorded['no_nms'][0]
    assert len(no_nms['pos']) > len(default['pos'])
    assert len(recorded['ratio'][0]['pos']) == 8


@pytest.mark.parametrize('setting', list(RECORDED_SAMPLERS))
def test_same_rois_in_the_same_order_as_before(selected, recorded, setting):
    assert len(selected[setting]) == 2  # images
    for now, before in zip(selected[setting], recorded[setting]):
        assert now['pos'] == before['pos']
        assert now['neg'] == before['neg']
        assert len(before['pos']) + len(before['neg']) > 0
