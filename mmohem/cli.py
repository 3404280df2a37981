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
    from mmohem.preview import mining_preview
    print(mining_preview(seed=args.seed))
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
        help='mine one synthetic image with OHEM and RandomSampler and '
        'compare what each picks')
    demo.add_argument('--seed', type=int, default=0)
    demo.set_defaults(func=_demo)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == '__main__':
    sys.exit(main())
