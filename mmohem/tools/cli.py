"""The ``mmohem`` command line: ``info``, ``configs`` and ``convert``, and
the commands other installed packages add through the entry point group
:data:`COMMANDS_GROUP` (the embedded benchmark's ``demo``, ``ablate`` and
``sweep``, which the product does not import)."""
import argparse
import shlex
import sys
from typing import List, Optional

# entry points whose objects are called with mmohem's subcommands
# (``argparse`` subparsers) and add their own, each with a ``func`` default
# that takes the parsed arguments and returns the exit status
COMMANDS_GROUP = 'mmohem.commands'


def _info(args: argparse.Namespace) -> int:
    import mmohem
    from mmohem.version_check import check_versions
    print(f'mmohem {mmohem.__version__}')
    for package, version in check_versions().items():
        print(f'{package} {version}')
    return 0


def _configs(args: argparse.Namespace) -> int:
    from .config_files import config_path, list_configs
    for name in list_configs():
        print(config_path(name))
    return 0


def _sampler_options(args: argparse.Namespace) -> dict:
    options = {}
    for key in ('num', 'pos_fraction', 'nms_iou_thr', 'loss_keys',
                'neg_pos_ub', 'chunk_size', 'loss_weights', 'min_negatives'):
        value = getattr(args, key)
        if value is not None:
            options[key] = value
    if options.get('nms_iou_thr') == 'none':
        options['nms_iou_thr'] = None
    if 'loss_weights' in options:
        options['loss_weights'] = dict(options['loss_weights'])
    if args.class_agnostic_nms:
        options['class_agnostic_nms'] = True
    return options


def _weight(value: str):
    key, _, weight = value.partition('=')
    try:
        return key, float(weight)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'{value!r}: give each weight as TERM=NUMBER, e.g. '
            'loss_bbox=2') from None


def _threshold(value: str):
    return 'none' if value.lower() == 'none' else float(value)


def _convert(args: argparse.Namespace) -> int:
    from .convert import convert
    command = 'mmohem ' + ' '.join(
        shlex.quote(a) for a in (args.argv or sys.argv[1:]))
    try:
        dst = convert(
            args.src,
            args.out,
            command=command,
            force=args.force,
            check=not args.no_check,
            stages=args.stages,
            **_sampler_options(args))
    except (ValueError, TypeError, FileNotFoundError, FileExistsError) as e:
        print(f'mmohem convert: {e}', file=sys.stderr)
        return 2
    print(f'wrote {dst}')
    return 0


def _added_commands() -> list:
    """The entry points of :data:`COMMANDS_GROUP`, each once, by name."""
    from importlib.metadata import entry_points
    try:
        found = entry_points(group=COMMANDS_GROUP)
    except TypeError:  # Python < 3.10: no selection, a dict of groups
        found = entry_points().get(COMMANDS_GROUP, ())
    # Python < 3.10 lists a distribution once per metadata folder it finds
    # (an editable install's and a checkout's *.egg-info on sys.path)
    unique = {entry_point.name: entry_point for entry_point in found}
    return [unique[name] for name in sorted(unique)]


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog='mmohem',
        description='Online Hard Example Mining for MMDetection 3.x')
    commands = parser.add_subparsers(dest='command', required=True)
    info = commands.add_parser('info', help='print installed versions')
    info.set_defaults(func=_info)
    configs = commands.add_parser(
        'configs', help='print the paths of the configs mmohem ships')
    configs.set_defaults(func=_configs)
    convert = commands.add_parser(
        'convert',
        help='write a config that inherits SRC and uses mmohem.OHEMSampler '
        'in its R-CNN stage (a cascade\'s first stage)',
        description='SRC is an mmdet:: name (mmdet::cascade_rcnn/'
        'cascade-rcnn_r50_fpn_1x_coco.py) or a config path. The written '
        'config keeps SRC\'s assigners, RPN and everything else; each '
        'stage\'s num and add_gt_as_proposals are kept unless given here. '
        'The model is built before the file is kept, so a bad option fails '
        'here and writes nothing.')
    convert.add_argument('src')
    convert.add_argument('-o', '--out', required=True, help='config to write')
    convert.add_argument('--num', type=int, help='RoIs kept per image')
    convert.add_argument(
        '--pos-fraction',
        type=float,
        help='foreground quota (ratio mode); default: none (pure OHEM)')
    convert.add_argument(
        '--nms-iou-thr',
        type=_threshold,
        help='NMS IoU threshold; none: no NMS')
    convert.add_argument(
        '--loss-keys',
        nargs='+',
        choices=['loss_cls', 'loss_bbox'],
        help='ranking loss terms')
    convert.add_argument(
        '--neg-pos-ub',
        type=int,
        help='at most this many background RoIs per foreground RoI (a '
        'ratio, not a count)')
    convert.add_argument('--chunk-size', type=int)
    convert.add_argument(
        '--loss-weights',
        nargs='+',
        type=_weight,
        metavar='TERM=WEIGHT',
        help='weights of the ranking terms, e.g. loss_cls=1 loss_bbox=2')
    convert.add_argument(
        '--min-negatives',
        type=int,
        help='least background RoIs selected per image')
    convert.add_argument(
        '--class-agnostic-nms',
        action='store_true',
        help='NMS across classes and background (default: per class)')
    convert.add_argument(
        '--stages',
        choices=['first', 'all'],
        default='first',
        help='cascades (Cascade R-CNN, HTC, SCNet, ...): OHEM in the first '
        'R-CNN stage (default; the later stages keep SRC\'s samplers, '
        'whatever they are), or in every stage. Models with one R-CNN stage '
        'get it either way')
    convert.add_argument(
        '--force', action='store_true', help='overwrite OUT if it exists')
    convert.add_argument(
        '--no-check',
        action='store_true',
        help='do not build the model before writing')
    convert.set_defaults(func=_convert)
    for entry_point in _added_commands():
        entry_point.load()(commands)

    args = parser.parse_args(argv)
    args.argv = argv
    return args.func(args)


if __name__ == '__main__':
    sys.exit(main())
