"""``mmohem convert``: one step turns OHEM on for any config, cascades
included. The written config trains, mmohem's sampler is in the R-CNN
stages asked for (a cascade's first stage by default, every stage with
``stages='all'``), the RPN keeps RandomSampler, and the assigners are the
source's."""
import os.path as osp
from types import SimpleNamespace

import pytest
from mmengine.config import Config
from mmengine.runner import Runner
from tiny_coco import shrink_config, train_two_iterations

from mmohem.sampler_configs import rcnn_stages
from mmohem.tools.cli import main
from mmohem.tools.convert import convert, resolve_config

DOWNSTREAM = """\
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['my_project_module'],
                      allow_failed_imports=False)
model = dict(
    roi_head=dict(bbox_head=dict(num_classes=80)),
    train_cfg=dict(
        rcnn=dict(
            assigner=dict(pos_iou_thr=0.6, neg_iou_thr=0.6, min_pos_iou=0.6),
            sampler=dict(num=256))))
"""


@pytest.fixture
def downstream(tmp_path, monkeypatch):
    """A downstream project's config, with a module of its own."""
    project = tmp_path / 'project'
    (project / 'configs').mkdir(parents=True)
    (project / 'my_project_module.py').write_text('IMPORTED = True\n')
    (project / 'configs' / 'my_faster.py').write_text(DOWNSTREAM)
    monkeypatch.syspath_prepend(str(project))
    return str(project / 'configs' / 'my_faster.py')


def assigners(cfg):
    return [stage['assigner'] for _, stage in rcnn_stages(cfg.model)]


def samplers(cfg):
    return [stage['sampler'] for _, stage in rcnn_stages(cfg.model)]


OHEM, RANDOM = 'mmohem.OHEMSampler', 'RandomSampler'

FASTER = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
CASCADE = 'mmdet::cascade_rcnn/cascade-rcnn_r50_fpn_1x_coco.py'
HTC = 'mmdet::htc/htc_r50_fpn_1x_coco.py'


# HTC's first-stage conversion is built, not trained: its one mined stage
# trains in the every-stage case, and the stages it leaves to RandomSampler
# are mmdet's own
@pytest.mark.parametrize('src, stages, expected, trains', [
    (FASTER, 'first', [OHEM], True),
    (CASCADE, 'first', [OHEM, RANDOM, RANDOM], True),
    (CASCADE, 'all', [OHEM] * 3, True),
    (HTC, 'first', [OHEM, RANDOM, RANDOM], False),
    (HTC, 'all', [OHEM] * 3, True),
    ('downstream', 'first', [OHEM], True),
])
def test_converted_config_puts_ohem_in_the_stages_asked_and_trains(
        src, stages, expected, trains, tiny_coco, downstream, tmp_path):
    src = downstream if src == 'downstream' else src
    source = Config.fromfile(resolve_config(src))
    dst = str(tmp_path / 'out' / 'converted.py')
    convert(src, dst, num=128, nms_iou_thr=0.6, stages=stages)

    if trains:
        runner = train_two_iterations(
            Config.fromfile(dst), tiny_coco, str(tmp_path))
    else:
        # the runner builds the model and dumps the config
        runner = Runner.from_cfg(
            shrink_config(Config.fromfile(dst), tiny_coco, str(tmp_path)))

    dumped = Config.fromfile(osp.join(str(tmp_path), 'converted.py'))
    assert [s['type'] for s in samplers(dumped)] == expected
    mined = [s for s in samplers(dumped) if s['type'] == OHEM]
    assert all(s['num'] == 128 and s['nms_iou_thr'] == 0.6 for s in mined)
    # the stages left alone are the source's, unchanged
    kept = [i for i, t in enumerate(expected) if t != OHEM]
    assert [samplers(dumped)[i] for i in kept] == \
        [samplers(source)[i] for i in kept]
    assert dumped.model.train_cfg.rpn.sampler.type == 'RandomSampler'
    assert assigners(dumped) == assigners(source)
    # mmohem and the fixes a converted config needs
    fixes = ['mmohem.fixes.safe_checkpoint', 'mmohem.fixes.cpu_distributed']
    assert dumped.custom_imports.imports[-3:] == ['mmohem', *fixes]
    # the built model mines with mmohem's sampler where the config says
    built = runner.model.roi_head.bbox_sampler
    built = built if isinstance(built, list) else [built]
    assert [type(s).__name__ for s in built] == \
        [t.split('.')[-1] for t in expected]
    built = [s for s in built if type(s).__module__.startswith('mmohem')]
    assert len(built) == len(mined)
    # 2 iterations x 2 images; HTC (interleaved) samples twice per stage,
    # the second time among the refined boxes for its mask branch
    if trains:
        calls = 8 if 'htc' in src else 4
        for sampler in built:
            assert len(sampler.mining_record.pop()) == calls


def test_convert_header_says_which_stages_it_mined(tmp_path):
    cascade = 'mmdet::cascade_rcnn/cascade-rcnn_r50_fpn_1x_coco.py'
    first = open(convert(cascade, str(tmp_path / 'a.py'), check=False)).read()
    assert 'in the first stage of each cascade' in first
    every = open(
        convert(cascade, str(tmp_path / 'b.py'), check=False,
                stages='all')).read()
    assert 'in its 3 R-CNN stage(s)' in every
    with pytest.raises(ValueError, match="stages='second'"):
        convert(cascade, str(tmp_path / 'c.py'), stages='second')
    assert not (tmp_path / 'c.py').exists()


def test_converted_downstream_config_keeps_its_imports_and_changes(
        downstream, tmp_path):
    dst = str(tmp_path / 'converted.py')
    convert(downstream, dst)
    cfg = Config.fromfile(dst)
    assert cfg.custom_imports.imports == [
        'my_project_module', 'mmohem', 'mmohem.fixes.safe_checkpoint',
        'mmohem.fixes.cpu_distributed'
    ]
    assert cfg.model.train_cfg.rcnn.assigner.pos_iou_thr == 0.6
    # the source's num is kept when --num is not given
    assert cfg.model.train_cfg.rcnn.sampler.num == 256
    # inherits through a path relative to the written file
    assert "_base_ = 'project/configs/my_faster.py'" in open(dst).read()


def test_cli_refuses_bad_input_and_writes_nothing(tmp_path, capsys):
    dst = tmp_path / 'x.py'

    def run(*args):
        returncode = main(['convert', *args])
        out, err = capsys.readouterr()
        return SimpleNamespace(returncode=returncode, stdout=out, stderr=err)

    retina = run('mmdet::retinanet/retinanet_r50_fpn_1x_coco.py', '-o',
                 str(dst))
    assert retina.returncode == 2
    assert 'has no R-CNN sampler' in retina.stderr
    bad = run('mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py', '-o',
              str(dst), '--neg-pos-ub', '-5')
    assert bad.returncode == 2
    assert 'neg_pos_ub' in bad.stderr and 'ratio, not a count' in bad.stderr
    missing = run('mmdet::faster_rcnn/nope.py', '-o', str(dst))
    assert missing.returncode == 2 and 'no config file' in missing.stderr
    assert not dst.exists()
    assert [p.name for p in tmp_path.iterdir()] == []  # no temp file left

    dst.write_text('# mine\n')
    exists = run('mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py', '-o',
                 str(dst))
    assert exists.returncode == 2 and '--force' in exists.stderr
    assert dst.read_text() == '# mine\n'


MISTYPED = """\
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
model = dict(
    train_cfg=dict(
        rcnn=dict(
            sampler=dict(
                type='OHEMSampler', num=256, pos_fraction=None,
                nms_iou_thr=0.5, loss_keys=('loss_cls', )))))
"""


def test_mmdets_sampler_with_mmohems_arguments_is_named_everywhere(
        tmp_path, tiny_coco):
    """type='OHEMSampler' (mmdet's) with mmohem's arguments: convert keeps
    the arguments for mmohem.OHEMSampler and says so; MiningStatsHook and
    the sweep name the trap and the fix instead of failing later."""
    from mmengine.runner import Runner
    from tiny_coco import shrink_config

    from mmohem_benchmark.sweep import Status, run_variant
    src = tmp_path / 'mistyped.py'
    src.write_text(MISTYPED)

    dst = convert(str(src), str(tmp_path / 'fixed.py'))
    header = ' '.join(open(dst).read().replace('#', ' ').split())
    assert "named mmdet's OHEMSampler with mmohem's arguments" in header
    sampler = Config.fromfile(dst).model.train_cfg.rcnn.sampler
    assert sampler.type == 'mmohem.OHEMSampler'
    assert (sampler.num, sampler.pos_fraction, sampler.nms_iou_thr,
            tuple(sampler.loss_keys)) == (256, None, 0.5, ('loss_cls', ))

    cfg = shrink_config(
        Config.fromfile(str(src)), tiny_coco, str(tmp_path / 'work'))
    cfg.custom_imports = dict(imports=['mmohem'])
    cfg.custom_hooks = [dict(type='mmohem.MiningStatsHook')]
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError) as err:
        runner.train()
    for part in ("type='OHEMSampler' is mmdet's", 'nms_iou_thr',
                 'pos_fraction=None', "type='mmohem.OHEMSampler'"):
        assert part in str(err.value), part

    outcome = run_variant(str(src), 'shipped')
    assert outcome.status is Status.FAILS
    assert "Write type='mmohem.OHEMSampler'" in outcome.detail


def test_a_later_stage_with_mmdets_name_and_mmohems_arguments_is_mined(
        tmp_path):
    """With ``stages='first'`` the later stages keep their samplers, unless
    one names mmdet's OHEMSampler with mmohem's arguments: as it is, it
    would build mmdet's sampler and fail in training."""
    from mmohem.tools.config_swap import swap_samplers
    from mmohem.tools.convert import ohem_overrides, render

    def stage(sampler):
        return dict(assigner=dict(type='MaxIoUAssigner'), sampler=sampler)

    random = dict(type='RandomSampler', num=64, pos_fraction=0.25)
    mistyped = dict(type='OHEMSampler', num=32, nms_iou_thr=0.5)
    cfg = Config(
        dict(
            model=dict(
                type='CascadeRCNN',
                train_cfg=dict(
                    rcnn=[stage(random),
                          stage(random),
                          stage(mistyped)]))))
    src = tmp_path / 'mistyped_cascade.py'
    src.write_text(cfg.pretty_text)
    rcnn = ohem_overrides(cfg, 'first')['train_cfg']['rcnn']
    assert [s['sampler']['type'] for s in rcnn] == [OHEM, RANDOM, OHEM]
    assert rcnn[1]['sampler'] == random
    assert rcnn[0]['sampler']['num'] == 64
    assert rcnn[2]['sampler']['num'] == 32
    assert rcnn[2]['sampler']['nms_iou_thr'] == 0.5
    every = ohem_overrides(cfg, 'all')['train_cfg']['rcnn']
    assert [s['sampler']['type'] for s in every] == [OHEM] * 3
    # swap_samplers decides alike
    assert swap_samplers(
        cfg, stages='first') == [
            'model.train_cfg.rcnn.0', 'model.train_cfg.rcnn.2'
        ]
    # and the written header says which stages were mined
    header = render(str(src), str(tmp_path / 'out.py'), 'mmohem convert')
    assert 'model.train_cfg.rcnn.2, which named mmdet' in \
        ' '.join(header.replace('#', ' ').split())
    with pytest.raises(ValueError, match="stages='third'"):
        ohem_overrides(cfg, 'third')


def test_swap_samplers_replaces_a_cascades_first_stage_or_every_stage():
    from mmohem.tools.config_swap import swap_samplers
    cascade = 'mmdet::cascade_rcnn/cascade-rcnn_r50_fpn_1x_coco.py'
    cfg = Config.fromfile(resolve_config(cascade))
    # by default the stages convert mines by default: the first
    assert swap_samplers(cfg) == ['model.train_cfg.rcnn.0']
    assert [s['type'] for s in samplers(cfg)] == [OHEM, RANDOM, RANDOM]
    cfg = Config.fromfile(resolve_config(cascade))
    assert len(swap_samplers(cfg, stages='all')) == 3
    assert [s['type'] for s in samplers(cfg)] == [OHEM] * 3
    with pytest.raises(ValueError, match="stages='none'"):
        swap_samplers(cfg, stages='none')
