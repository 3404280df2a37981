"""``mmohem sweep``: which two-stage configs of MMDetection, or of a
downstream repo (mmrotate, mmocr), train with OHEM.

For every config installed with mmdet (``mmdet/.mim/configs``; with
``package``, that package's ``.mim/configs``) whose model
has an R-CNN sampler — one representative per method folder by default,
all of them with ``--all`` — three variants are built and trained one step
on the CPU on a small synthetic batch, in the config's own registry scope:
the config as shipped, the config
with ``mmohem.OHEMSampler`` in every R-CNN stage, and with mmdet's built-in
``OHEMSampler`` in every stage. Each variant ends as

- ``trains``: built, the swap checked on the built model, one finite step;
- ``refused``: mmohem stopped it when the model was built, saying why;
- ``fails``: any other error (where, the exception and its message);
- ``skipped``: the shipped config itself cannot be built here (a package it
  needs is missing).

A regression is a row where the shipped config trains and mmohem's variant
neither trains nor is refused: the sweep exits non-zero on one.
"""
import enum
import glob
import os.path as osp
import re
import time
import traceback
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence

from mmengine.config import Config

from mmohem.sampler_configs import (mistyped_message, mistyped_samplers,
                                    rcnn_stages)
from mmohem.samplers import (HeadNotSupportedError, OHEMSampler, ohem_samplers,
                             rcnn_samplers)
from mmohem.samplers.head_support import unscored_terms, why_no_box_loss
from mmohem.tools.config_files import mim_config_dir
from mmohem.tools.config_swap import DEFAULT_NUM, ohem_sampler, swap_samplers
from mmohem.tools.scope import build_model
from .synthetic_batch import gt_box_type, synthetic_batch, train_step


def mmdet_ohem_sampler(original: Optional[dict]) -> dict:
    """mmdet's built-in ``OHEMSampler`` replacing ``original`` (its quota
    and bounds kept, the 1:3 default quota where it had none)."""
    original = original or {}
    return dict(
        # scoped: a downstream repo's registry (mmrotate's) does not see
        # mmdet's bare name
        type='mmdet.OHEMSampler',
        num=original.get('num', DEFAULT_NUM),
        pos_fraction=original.get('pos_fraction', 0.25),
        neg_pos_ub=original.get('neg_pos_ub', -1),
        add_gt_as_proposals=original.get('add_gt_as_proposals', True))


# the config as shipped, then with each OHEM sampler in every R-CNN stage
VARIANTS = ('shipped', 'mmohem', 'mmdet_ohem')
# configs of a folder tried, in order, for one that trains as shipped
MAX_TRIES = 3
MAKERS: Dict[str, Optional[Callable]] = {
    'shipped': None,
    'mmohem': ohem_sampler,
    'mmdet_ohem': mmdet_ohem_sampler
}


class Status(str, enum.Enum):
    """How one variant of a config ended (see the module doc)."""
    TRAINS = 'trains'
    REFUSED = 'refused'
    FAILS = 'fails'
    SKIPPED = 'skipped'


class Outcome(NamedTuple):
    status: Status
    detail: str = ''
    note: str = ''  # how mmohem's sampler adapted to the head
    at_build: bool = False  # FAILS: when the model was built, not stepped


class Row(NamedTuple):
    method: str
    config: str
    outcomes: Dict[str, Outcome]
    note: str
    seconds: float


class Candidate(NamedTuple):
    config: str  # relative to the config folder
    load_error: str = ''  # why it does not load here, if it does not


def discover(
    root: Optional[str] = None,
    only: Sequence[str] = ()
) -> Dict[str, List[Candidate]]:
    """Configs whose model has an R-CNN sampler, by method folder.

    Configs that do not load here (a package they import is missing) and
    whose name says R-CNN come last, with the error.

    Args:
        root (str, optional): Config folder; mmdet's installed configs by
            default.
        only (Sequence[str]): Regular expressions; only the configs whose
            path (relative to ``root``) matches one are loaded.

    Returns:
        dict[str, list[Candidate]]: Folder -> its configs, best
        representative first (loads, ResNet-50, 1x, COCO, shortest name).
    """
    root = root or mim_config_dir('mmdet')
    found: Dict[str, List[Candidate]] = {}
    for path in sorted(
            glob.glob(osp.join(root, '**', '*.py'), recursive=True)):
        rel = osp.relpath(path, root)
        if '_base_' in rel.split(
                osp.sep) or only and not any(re.search(o, rel) for o in only):
            continue
        try:
            cfg = Config.fromfile(path)
        except Exception as e:
            if 'rcnn' in osp.basename(rel).lower():
                found.setdefault(rel.split(osp.sep)[0],
                                 []).append(Candidate(rel, _short(e)))
            continue
        if 'model' in cfg and any(rcnn_stages(cfg.model)):
            found.setdefault(rel.split(osp.sep)[0], []).append(Candidate(rel))
    return {
        method: sorted(candidates, key=_preference)
        for method, candidates in sorted(found.items())
    }


def _preference(candidate: Candidate):
    name = osp.basename(candidate.config)
    unlike = ['r50' not in name, '1x' not in name, 'coco' not in name]
    return (bool(candidate.load_error), *unlike, 'caffe'
            in name, len(name), name)


def _check_swap(variant: str, model, num_stages: int) -> None:
    """The built model really mines with the sampler the variant asked."""
    from mmdet.models.task_modules.samplers import \
        OHEMSampler as MMDetOHEMSampler
    if variant == 'shipped':
        return
    wanted = OHEMSampler if variant == 'mmohem' else MMDetOHEMSampler
    samplers = rcnn_samplers(model)
    # a wrapper may build its detector twice (SoftTeacher: teacher, student)
    if not samplers or len(samplers) % num_stages or not all(
            type(s) is wanted for s in samplers):
        raise AssertionError(
            f'the swap did not take: the built R-CNN samplers are '
            f'{[type(s).__name__ for s in samplers]}, expected '
            f'{num_stages} x {wanted.__module__}.{wanted.__name__}')


def _short(error: BaseException) -> str:
    message = ' '.join(str(error).split())
    message = message.split(', the current sys.path is')[0]
    # mmengine prefixes build errors with the class chain; keep the cause
    message = re.sub(r'^(class `\w+` in [\w.]+: )+', '', message)
    return f'{type(error).__name__}: {message[:300]}'


def run_variant(path: str, variant: str, size: int = 128) -> Outcome:
    """Build one variant of the config at ``path`` and train it one step."""
    import torch
    cfg = Config.fromfile(path)
    stages = list(rcnn_stages(cfg.model))
    mistyped = mistyped_samplers(cfg)
    if MAKERS[variant] is None and mistyped:
        # as it is, it would build mmdet's sampler and fail in the step
        return Outcome(Status.FAILS, mistyped_message(mistyped), at_build=True)
    if MAKERS[variant] is not None:
        swap_samplers(cfg, MAKERS[variant], stages='all')
    _for_this_machine(cfg.model)
    torch.manual_seed(0)
    try:
        model = build_model(cfg)
        # random, but initialised as the config says (some modules are
        # left uninitialised until init_weights, e.g. DetectoRS's SAC)
        model.init_weights()
    except HeadNotSupportedError as e:
        return Outcome(Status.REFUSED, _short(e))
    except Exception as e:
        return Outcome(Status.FAILS, _short(e), at_build=True)
    try:
        _check_swap(variant, model, len(stages))
        batch = synthetic_batch(
            cfg.model, size=size, box_type=gt_box_type(cfg))
        loss, _ = train_step(model, batch)
    except Exception as e:
        where = traceback.extract_tb(e.__traceback__)[-1]
        return Outcome(
            Status.FAILS, f'in the step ({osp.basename(where.filename)}:'
            f'{where.lineno}): {_short(e)}')
    return Outcome(Status.TRAINS, f'loss {loss:.3f}', _note(model))


def _for_this_machine(tree) -> None:
    """Adapt a model config in place to the sweep: no checkpoint loading
    (no downloads: random weights), and plain BN for synchronized BN (one
    process, no process group)."""
    if isinstance(tree, dict):
        if tree.get('type') in ('SyncBN', 'MMSyncBN'):
            tree['type'] = 'BN'
        for key, value in list(tree.items()):
            if key == 'pretrained' and isinstance(value, str) or (
                    key == 'init_cfg' and isinstance(value, dict)
                    and value.get('type') == 'Pretrained'):
                tree[key] = None
            else:
                _for_this_machine(value)
    elif isinstance(tree, (list, tuple)):
        for value in tree:
            _for_this_machine(value)


def _note(model) -> str:
    """How mmohem's samplers adapted to this model's heads, if they did."""
    notes = []
    for sampler in ohem_samplers(model):
        if 'loss_bbox' not in sampler.loss_keys:
            why = why_no_box_loss(sampler.bbox_head) or 'as configured'
            notes.append(f'ranks by loss_cls: {why}')
        left_out = unscored_terms(sampler.bbox_head, sampler.loss_keys)
        if 'loss_bbox' in sampler.loss_keys and left_out:
            notes.append(f"ranks without the head's {', '.join(left_out)}")
        if sampler.scoring_inputs is not None:
            doc = sampler.scoring_inputs.__doc__.split('\n')[0]
            notes.append(f'scoring inputs: {doc}')
    return '; '.join(dict.fromkeys(notes))  # unique, in order


def is_regression(row: Row) -> bool:
    shipped, mmohem = row.outcomes['shipped'], row.outcomes['mmohem']
    return shipped.status == Status.TRAINS and mmohem.status not in (
        Status.TRAINS, Status.REFUSED)


def run_sweep(everything: bool = False,
              only: Sequence[str] = (),
              root: Optional[str] = None,
              log: Callable[[str], None] = print,
              package: str = 'mmdet') -> List[Row]:
    """Sweep the configs (see the module doc).

    Args:
        everything (bool): All configs, not one per method folder.
        only (Sequence[str]): Regular expressions; keep the configs whose
            path matches one.
        root (str, optional): Config folder; ``package``'s installed
            configs by default.
        log (Callable): Progress output.
        package (str): Whose configs to sweep (``mmdet``, ``mmrotate``,
            ``mmocr``, ...). Defaults to ``mmdet``.

    Returns:
        list[Row]: One row per config swept.
    """
    root = root or mim_config_dir(package)
    rows = []
    start = time.time()
    for method, chosen in discover(root, only).items():
        if everything:
            runs = ((c, _run_candidate(root, c)) for c in chosen)
        else:
            runs = iter([_pick(root, chosen)])
        for candidate, outcomes in runs:
            row = Row(method, candidate.config, outcomes,
                      outcomes['mmohem'].note,
                      time.time() - start)
            start = time.time()
            rows.append(row)
            log(f'[sweep] {row.config}: ' +
                ', '.join(f'{v} {o.status.value}'
                          for v, o in outcomes.items()) +
                f' ({row.seconds:.0f} s)' +
                ('  <- REGRESSION' if is_regression(row) else ''))
    return rows


def _pick(root: str, chosen: List[Candidate]):
    """A folder's representative: the first of its best few configs that
    trains as shipped (the first may need an op without a CPU kernel), or
    the first if none does."""
    tried = []
    for candidate in chosen[:MAX_TRIES]:
        outcomes = _run_candidate(root, candidate)
        if outcomes['shipped'].status == Status.TRAINS:
            return candidate, outcomes
        tried.append((candidate, outcomes))
    return tried[0]


def _run_candidate(root: str, candidate: Candidate) -> Dict[str, Outcome]:
    if candidate.load_error:
        skip = Outcome(
            Status.SKIPPED,
            'the config does not load here: ' + candidate.load_error)
        return {v: skip for v in VARIANTS}
    return _run_config(osp.join(root, candidate.config))


def _run_config(path: str) -> Dict[str, Outcome]:
    shipped = run_variant(path, 'shipped')
    if shipped.status == Status.FAILS and shipped.at_build:
        skip = Outcome(
            Status.SKIPPED,
            'the shipped config does not build here: ' + shipped.detail)
        return {v: skip for v in VARIANTS}
    outcomes = {'shipped': shipped}
    for variant in VARIANTS[1:]:
        outcomes[variant] = run_variant(path, variant)
    return outcomes


def _cell(outcome: Outcome) -> str:
    if outcome.status == Status.TRAINS:
        return Status.TRAINS.value
    detail = ('at build: ' if outcome.at_build else '') + outcome.detail
    detail = detail.replace('|', '\\|')
    return f'**{outcome.status.value}**: {detail}'


def markdown(rows: Sequence[Row]) -> str:
    """The compatibility table and its counts."""
    lines = [
        '| method | config | as shipped | mmohem.OHEMSampler | '
        "mmdet's OHEMSampler | note |", '|---|---|---|---|---|---|'
    ]
    for row in rows:
        cells = [_cell(row.outcomes[v]) for v in VARIANTS]
        lines.append(f'| {row.method} | `{row.config}` | ' +
                     ' | '.join(cells) + f' | {row.note} |')
    return '\n'.join(lines)


def counts(rows: Sequence[Row]) -> Dict[str, Dict[str, int]]:
    """How many rows end in each status, per variant."""
    result: Dict[str, Dict[str, int]] = {}
    for variant in VARIANTS:
        tally: Dict[str, int] = {}
        for row in rows:
            status = row.outcomes[variant].status.value
            tally[status] = tally.get(status, 0) + 1
        result[variant] = tally
    return result
