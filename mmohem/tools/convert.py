"""``mmohem convert``: write a config that turns OHEM on for any detector
config, cascades included, in one step.

The written config inherits the source (an ``mmdet::`` name or a local
path) and sets ``mmohem.OHEMSampler`` in its R-CNN stage (a cascade's first
stage; every stage with ``stages='all'``), keeping the source's ``num`` and
``add_gt_as_proposals``; assigners, the RPN and everything else stay
inherited. A single R-CNN stage is changed with ``_delete_=True`` on its
sampler. A cascade's stages are a list, which mmengine's inheritance cannot
change item by item, so the stages are restated from the source with only
the sampler changed — by this command, not by hand; run it again if the
source's stages change.
"""
import logging
import os
import os.path as osp
import tempfile
import textwrap
from typing import List, Optional

from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log

from ..sampler_configs import mistyped_message, mistyped_samplers, rcnn_stages
from .config_files import mim_config_dir
from .config_swap import (check_stages, has_key, is_later_stage, is_mined,
                          ohem_sampler)
from .scope import build_model


def resolve_config(src: str) -> str:
    """Path of a config given as ``pkg::rel/path.py`` or a file path.

    Raises:
        FileNotFoundError: Naming what was looked for.
    """
    if '::' in src:
        package, rel = src.split('::', 1)
        try:
            path = osp.join(mim_config_dir(package), rel)
        except FileNotFoundError as e:
            raise FileNotFoundError(f'{src}: {e}') from e
    else:
        path = src
    if not osp.isfile(path):
        raise FileNotFoundError(f'no config file {src!r} (looked for {path})')
    return osp.abspath(path)


def _nest(path: str, value) -> dict:
    """``'model.a.b', v`` -> ``{'a': {'b': v}}`` (below ``model``)."""
    keys = path.split('.')[1:]
    for key in reversed(keys):
        value = {key: value}
    return value


def _merge(into: dict, other: dict) -> None:
    for key, value in other.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def ohem_overrides(cfg: Config, stages: str = 'first', **options) -> dict:
    """The ``model`` overrides that put OHEM in the R-CNN stages of
    ``cfg``.

    Args:
        cfg (Config): The source config.
        stages (str): ``'first'``: a cascade's first stage (its later
            stages are restated with the source's samplers, whatever they
            are; see :func:`~.config_swap.is_mined`); ``'all'``: every
            stage.
        **options: ``mmohem.OHEMSampler`` arguments.

    Returns:
        dict: To merge into ``model``; empty if the model has no R-CNN
        sampler.
    """
    check_stages(stages)
    model: dict = {}
    containers = {}  # rcnn path -> its (path, stage) pairs, in order
    for path, stage in rcnn_stages(cfg.model):
        container, _, index = path.rpartition('.')
        if index.isdigit():
            containers.setdefault(container, []).append((path, stage))
        else:
            sampler = dict(
                _delete_=True, **ohem_sampler(stage['sampler'], **options))
            _merge(model, _nest(path, dict(sampler=sampler)))
    for container, cascade in containers.items():
        restated = []
        for path, stage in cascade:
            stage = _plain(stage)
            if is_mined(path, stage, stages):
                stage['sampler'] = ohem_sampler(stage['sampler'], **options)
            restated.append(stage)
        _merge(model, _nest(container, restated))
    return model


def _plain(value):
    if isinstance(value, ConfigDict):
        value = value.to_dict()
    return value


# what every converted config switches on: resume and load_from of local
# checkpoint files under torch >= 2.6, and distributed training on CPU-only
# machines
FIXES = ('mmohem.fixes.safe_checkpoint', 'mmohem.fixes.cpu_distributed')
# and one that reads precomputed proposals (Fast R-CNN)
PROPOSAL_FIX = 'mmohem.fixes.proposal_file_check'


def _imports(cfg: Config) -> List[str]:
    """The source's custom imports, then mmohem and the fixes the config
    needs (see :mod:`mmohem.fixes`)."""
    imports = list(cfg.get('custom_imports', {}).get('imports', []))
    wanted = ['mmohem', *FIXES]
    if has_key(cfg.to_dict(), 'proposal_file'):
        wanted.append(PROPOSAL_FIX)
    return imports + [name for name in wanted if name not in imports]


def render(src: str,
           dst: str,
           command: str,
           stages: str = 'first',
           **options) -> str:
    """Text of the config that ``convert`` writes (see the module doc)."""
    path = resolve_config(src)
    cfg = Config.fromfile(path)
    model = ohem_overrides(cfg, stages, **options)
    if not model:
        raise ValueError(
            f'{src}: {cfg.model.get("type", "this model")} has no R-CNN '
            'sampler (model.train_cfg.rcnn.sampler). OHEM mines the RoIs of '
            "a two-stage detector's R-CNN head; one-stage, DETR-like and "
            'RPN-only models have none.')
    if '::' in src:
        base = src
    else:
        base = osp.relpath(path, osp.dirname(osp.abspath(dst)))
    found = list(rcnn_stages(cfg.model))
    cascade = any(is_later_stage(path) for path, _ in found)
    mined = [path for path, stage in found if is_mined(path, stage, stages)]
    body = Config(
        dict(
            custom_imports=dict(
                imports=_imports(cfg), allow_failed_imports=False),
            model=model)).pretty_text
    where = f'its {len(mined)} R-CNN stage(s)'
    if cascade and stages == 'first':
        where = ('the first stage of each cascade; the later stages keep '
                 'the source\'s samplers: their candidates are the previous '
                 'stage\'s sampled RoIs, refined, with little left to mine '
                 '(--stages all mines them too)')
        later = [path for path in mined if is_later_stage(path)]
        if later:
            where += (f'; and in {", ".join(later)}, which named mmdet\'s '
                      'OHEMSampler with mmohem\'s arguments')
    header = (f'Written by `{command}`: {src} with mmohem.OHEMSampler in '
              f'{where}; the RPN, the assigners and everything else as '
              'there.')
    mistyped = mistyped_samplers(cfg)
    if mistyped:
        print_log(
            f'mmohem convert: {src}: {mistyped_message(mistyped)} The '
            'converted config uses mmohem.OHEMSampler with those arguments.',
            logger='current',
            level=logging.WARNING)
        header += (' The source named mmdet\'s OHEMSampler with mmohem\'s '
                   'arguments, which mmdet\'s sampler ignores; they are '
                   'kept here, for mmohem.OHEMSampler.')
    if cascade:
        header += (' The cascade stages are restated from the source with '
                   'only the sampler changed (a config cannot change a list '
                   'item by item); run the command again if the source\'s '
                   'stages change.')
    header = textwrap.fill(
        header,
        79,
        initial_indent='# ',
        subsequent_indent='# ',
        break_long_words=False,
        break_on_hyphens=False)
    return header + f'\n_base_ = {base!r}\n' + body


def convert(src: str,
            dst: str,
            command: Optional[str] = None,
            force: bool = False,
            check: bool = True,
            stages: str = 'first',
            **options) -> str:
    """Write the OHEM config of ``src`` to ``dst``.

    Args:
        src (str): ``mmdet::faster_rcnn/...py`` or a config path.
        dst (str): File to write (``.py``).
        command (str, optional): The command line, for the header.
        force (bool): Overwrite an existing ``dst``.
        check (bool): Build the written config's model (in its
            ``default_scope``) before keeping the file, so that a bad
            sampler option fails here, naming the option, and no file is
            left behind.
        stages (str): ``'first'`` (default): OHEM in a cascade's first
            stage, the later stages keep the source's samplers (see
            :func:`~.config_swap.is_mined`); ``'all'``: in every stage.
            Models with one R-CNN stage get it either way.
        **options: ``mmohem.OHEMSampler`` arguments.

    Returns:
        str: ``dst``.
    """
    if not dst.endswith('.py'):
        raise ValueError(f'{dst}: the config to write must end in .py')
    if osp.exists(dst) and not force:
        raise FileExistsError(f'{dst} exists; pass --force to overwrite it')
    text = render(src, dst, command or f'mmohem convert {src} -o {dst}',
                  stages, **options)
    folder = osp.dirname(osp.abspath(dst))
    os.makedirs(folder, exist_ok=True)
    # written next to dst first (relative _base_ paths resolve the same),
    # and moved into place only once it loads (and builds)
    fd, tmp = tempfile.mkstemp(suffix='.py', dir=folder, prefix='.convert-')
    try:
        with os.fdopen(fd, 'w') as f:
            f.write(text)
        cfg = Config.fromfile(tmp)
        if check:
            build_model(cfg)
        os.replace(tmp, dst)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    return dst
