"""The ``mmohem`` command line."""
import argparse
import sys
from typing import List, Optional


def _info(args: argparse.Namespace) -> int:
    import mmohem
    from mmohem.compat import check_versions
    print(f'mmohem {mmohem.__version__}')
    for package, version in check_versions().items():
        print(f'{package} {version}')
    return 0


def _configs(args: argparse.Namespace) -> int:
    from mmohem.config_files import config_path, list_configs
    for name in list_configs():
        print(config_path(name))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from mmohem.demo.run import run_demo
    from mmohem.demo.shapes import ShapesSpec
    regimes = ['fast', 'faster'] if args.regime == 'both' else [args.regime]
    run_demo(
        regimes,
        iters=args.iters,
        seeds=args.seed,
        work_dir=args.work_dir,
        spec=ShapesSpec(num_train=args.num_train, num_val=args.num_val))
    return 0


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
    demo = commands.add_parser(
        'demo',
        help='train RandomSampler, mmdet\'s OHEMSampler and mmohem\'s side '
        'by side on a generated shapes set and compare them',
        description='Generates the shapes set (if missing), trains the three '
        'samplers with the same seed and budget, evaluates COCO AP on val, '
        'prints a table and writes summary.png and mined_rois.png to the '
        'work dir.')
    demo.add_argument(
        '--regime',
        choices=['fast', 'faster', 'both'],
        default='fast',
        help='fast: Fast R-CNN on precomputed proposals (the paper\'s '
        'regime); faster: end-to-end Faster R-CNN; both (default: fast)')
    demo.add_argument(
        '--iters', type=int, default=400, help='training iterations')
    demo.add_argument(
        '--seed',
        type=int,
        nargs='+',
        default=[0],
        help='one or more seeds; the table shows mean ± std over them')
    demo.add_argument('--work-dir', default='work_dirs/demo')
    demo.add_argument('--num-train', type=int, default=400)
    demo.add_argument('--num-val', type=int, default=100)
    demo.set_defaults(func=_demo)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == '__main__':
    sys.exit(main())
