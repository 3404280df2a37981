"""The compatibility sweep on a representative subset of mmdet's configs,
one per kind of RoI head: each trains one step as shipped and with
mmohem's sampler (or is refused at build with the reason), the swap is
checked on the built model, and the table says how mmohem adapted to the
head. The configs are swept shrunk (:func:`small`): what the sweep checks
does not depend on their widths, and every config at its full size is
swept by ``mmohem sweep`` (docs/compatibility.md)."""
import os.path as osp

import pytest
from mmengine.config import Config
from tiny_coco import narrow_options

from mmohem.sampler_configs import rcnn_stages
from mmohem.tools.config_files import mim_config_dir
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


def small(cfg: Config) -> None:
    """Shrink a config of the subset in place: ResNet-18, the FPN and the
    heads narrowed (:func:`~tiny_coco.narrow_options`), 200 proposals per
    image and 64 RoIs per R-CNN stage. The heads, their branches and the
    samplers' kinds and settings stay as shipped: the RoIs' number and
    width decide what the step costs on the CPU, not whether it trains."""
    cfg.merge_from_dict({
        'model.backbone.depth': 18,
        'model.neck.in_channels': [64, 128, 256, 512],
        'model.train_cfg.rpn_proposal.nms_pre': 200,
        'model.train_cfg.rpn_proposal.max_per_img': 200,
        **narrow_options(cfg.model)
    })
    for _, stage in rcnn_stages(cfg.model):
        stage['sampler']['num'] = 64


@pytest.fixture(scope='module')
def rows(tmp_path_factory):
    """The sweep's rows of the subset, each config :func:`small`, written
    at its path in a config folder of its own."""
    root = tmp_path_factory.mktemp('configs')
    for config in SUBSET:
        cfg = Config.fromfile(osp.join(mim_config_dir('mmdet'), config))
        small(cfg)
        (root / config).parent.mkdir(exist_ok=True)
        cfg.dump(str(root / config))
    only = [f'^{config}$'.replace('.', r'\.') for config in SUBSET]
    return {
        row.config: row
        for row in run_sweep(
            everything=True, only=only, root=str(root), log=lambda _: None)
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
