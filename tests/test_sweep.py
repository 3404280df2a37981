"""The compatibility sweep on a representative subset of mmdet's configs:
each trains one step as shipped and with mmohem's sampler (or is refused at
build with the reason), the swap is checked on the built model, and the
table says how mmohem adapted to the head."""
import pytest

from mmohem_benchmark.sweep import (Outcome, Row, Status, is_regression,
                                    markdown, run_sweep)

SUBSET = {
    'faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py': Status.TRAINS,
    'cascade_rcnn/cascade-rcnn_r50_fpn_1x_coco.py': Status.TRAINS,
    'htc/htc_r50_fpn_1x_coco.py': Status.TRAINS,  # with its semantic branch
    'scnet/scnet_r50_fpn_1x_coco.py': Status.TRAINS,
    'grid_rcnn/grid-rcnn_r50_fpn_gn-head_1x_coco.py': Status.TRAINS,
    'ms_rcnn/ms-rcnn_r50_fpn_1x_coco.py': Status.TRAINS,
    'point_rend/point-rend_r50-caffe_fpn_ms-1x_coco.py': Status.TRAINS,
    'pisa/faster-rcnn_r50_fpn_pisa_1x_coco.py': Status.REFUSED,
}


@pytest.fixture(scope='module')
def rows():
    only = [f'^{config}$'.replace('.', r'\.') for config in SUBSET]
    return {
        row.config: row
        for row in run_sweep(everything=True, only=only, log=lambda _: None)
    }


def test_the_subset_was_swept(rows):
    assert set(rows) == set(SUBSET)


@pytest.mark.parametrize('config', list(SUBSET))
def test_mmohem_trains_or_refuses_where_the_shipped_config_trains(
        rows, config):
    row = rows[config]
    assert row.outcomes['shipped'].status == Status.TRAINS, row.outcomes
    assert row.outcomes['mmohem'].status == SUBSET[config], row.outcomes
    if SUBSET[config] == Status.REFUSED:
        assert 'ScoreHLRSampler' in row.outcomes['mmohem'].detail


def test_the_table_says_how_mmohem_adapted(rows):
    assert 'ranks by loss_cls' in rows[
        'grid_rcnn/grid-rcnn_r50_fpn_gn-head_1x_coco.py'].note
    assert 'semantic' in rows['htc/htc_r50_fpn_1x_coco.py'].note
    assert 'global context' in rows['scnet/scnet_r50_fpn_1x_coco.py'].note
    assert rows['faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'].note == ''
    # mmdet's own sampler cannot score HTC's RoIs (no semantic features)
    htc = rows['htc/htc_r50_fpn_1x_coco.py'].outcomes['mmdet_ohem']
    assert htc.status == Status.FAILS and 'NoneType' in htc.detail
    table = markdown(list(rows.values()))
    assert table.count('\n') == len(rows) + 1
    assert '| htc | `htc/htc_r50_fpn_1x_coco.py` | trains | trains | ' \
        '**fails**' in table


def test_a_row_where_mmohem_breaks_a_training_config_is_a_regression():
    trains = Outcome(Status.TRAINS)
    fails = Outcome(Status.FAILS, 'in the step')
    refused = Outcome(Status.REFUSED, 'mmohem.OHEMSampler cannot be used')

    def row(shipped, mmohem):
        return Row('m', 'c.py',
                   dict(shipped=shipped, mmohem=mmohem, mmdet_ohem=fails), '',
                   0.0)

    assert is_regression(row(trains, fails))
    assert not is_regression(row(trains, refused))
    assert not is_regression(row(trains, trains))
    assert not is_regression(row(fails, fails))


def test_markdown_goes_between_the_markers_and_keeps_the_prose(tmp_path):
    from mmohem_benchmark.markdown import markers, write_markdown
    BEGIN, END = markers('sweep')
    doc = tmp_path / 'compatibility.md'
    doc.write_text(f'# Title\n\nprose\n\n{BEGIN}\nold table\n{END}\n\nmore\n')
    write_markdown(str(doc), '| new | table |')
    assert doc.read_text() == (f'# Title\n\nprose\n\n{BEGIN}\n| new | table |'
                               f'\n{END}\n\nmore\n')
    plain = tmp_path / 'plain.md'
    write_markdown(str(plain), '| t |')
    assert plain.read_text() == '| t |\n'
