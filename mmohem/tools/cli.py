"""The ``mmohem`` command line."""
import argparse
import os
import shlex
import sys
from typing import List, Optional


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


def _demo(args: argparse.Namespace) -> int:
    from mmohem_benchmark.demo import REGIMES, run_demo
    from mmohem_benchmark.shapes import ShapesSpec
    regimes = list(REGIMES) if args.regime == 'both' else [args.regime]
    run_demo(
        regimes,
        iters=args.iters,
        seeds=args.seed,
        work_dir=args.work_dir,
        spec=ShapesSpec(num_train=args.num_train, num_val=args.num_val))
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


def _sweep(args: argparse.Namespace) -> int:
    import time

    from mmohem_benchmark.markdown import write_markdown
    from mmohem_benchmark.sweep import (counts, is_regression, markdown,
                                        run_sweep)
    start = time.time()
    rows = run_sweep(everything=args.all, only=args.only, package=args.package)
    elapsed = time.time() - start
    text = markdown(rows)
    summary = (f'{len(rows)} configs in {elapsed / 60:.1f} min; ' + '; '.join(
        f'{variant}: ' + ', '.join(f'{n} {status}'
                                   for status, n in sorted(tally.items()))
        for variant, tally in counts(rows).items()))
    print('\n' + text + '\n\n' + summary)
    if args.markdown:
        name = 'sweep' if args.package == 'mmdet' else f'sweep-{args.package}'
        write_markdown(args.markdown, text + '\n\n' + summary, name)
    regressions = [row.config for row in rows if is_regression(row)]
    if regressions:
        print(
            'REGRESSION: these configs train as shipped but not with '
            f"mmohem.OHEMSampler: {', '.join(regressions)}",
            file=sys.stderr)
        return 1
    return 0


def _ablate(args: argparse.Namespace) -> int:
    from mmohem_benchmark.ablation import (VARIANTS, ablation_table,
                                           canonical_names, run_ablation)
    from mmohem_benchmark.shapes import ShapesSpec
    if args.list:
        for name, variant in VARIANTS.items():
            print(f"{name:12s} {variant.change} ({'/'.join(variant.regimes)})")
        return 0
    variants = canonical_names(args.variants)
    results_path = args.results or os.path.join(args.work_dir, 'ablation.json')
    if args.table:
        from mmohem_benchmark.ablation import load_results, markdown_name
        from mmohem_benchmark.plots import draw_ablation
        results = load_results(results_path)
        text = ablation_table(results, args.regime, variants or None)
        print(text)
        if args.markdown:
            from mmohem_benchmark.markdown import write_markdown
            write_markdown(args.markdown, text,
                           markdown_name(args.regime, results_path))
        if args.plot:
            draw_ablation(results, args.regime, variants or list(VARIANTS),
                          args.plot)
            print(f'plot: {args.plot}')
        return 0
    if not variants:
        raise SystemExit('mmohem ablate: name at least one variant '
                         '(--list shows them)')
    results = run_ablation(
        variants,
        args.regime,
        seeds=args.seed,
        iters=args.iters,
        work_dir=args.work_dir,
        results_path=results_path,
        spec=ShapesSpec(num_train=args.num_train, num_val=args.num_val),
        force=args.force)
    print('\n' + ablation_table(results, args.regime, variants))
    return 0


def _add_run_options(command: argparse.ArgumentParser, work_dir: str) -> None:
    """Where the shapes runs go and how large their data set is."""
    command.add_argument('--work-dir', default=work_dir)
    command.add_argument('--num-train', type=int, default=400)
    command.add_argument('--num-val', type=int, default=100)


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
        choices=['fast', 'faster', 'both', 'cascade', 'oriented'],
        default='fast',
        help='fast: Fast R-CNN on precomputed proposals (the paper\'s '
        'regime); faster: end-to-end Faster R-CNN; both; cascade: '
        'end-to-end Cascade R-CNN, the samplers in all three stages; '
        'oriented: '
        'end-to-end Oriented R-CNN on the shapes\' oriented boxes, '
        'mAP from mmrotate\'s DOTAMetric (needs mmrotate: the downstream '
        'stack) (default: fast)')
    demo.add_argument(
        '--iters', type=int, default=400, help='training iterations')
    demo.add_argument(
        '--seed',
        type=int,
        nargs='+',
        default=[0],
        help='one or more seeds; the table shows mean ± std over them')
    _add_run_options(demo, 'work_dirs/demo')
    demo.set_defaults(func=_demo)
    ablate = commands.add_parser(
        'ablate',
        help='train ablation variants of the shapes benchmark, one change '
        'from mmohem\'s default each, and record them in a JSON file',
        description='Each run is written to the results file as soon as it '
        'finishes; runs already there are skipped, so an interrupted '
        'ablation continues where it stopped. docs/results.md lists the '
        'commands behind every row.')
    ablate.add_argument('variants', nargs='*', help='variant names')
    ablate.add_argument(
        '--list', action='store_true', help='list the variants and exit')
    ablate.add_argument(
        '--table',
        action='store_true',
        help='print the recorded results of the regime (the named variants, '
        'or all) and exit; nothing is trained')
    ablate.add_argument('--plot', help='with --table: draw the AP bars here')
    ablate.add_argument(
        '--markdown',
        help='with --table: write the table between the markers '
        '<!-- ablation-REGIME:begin/end --> of this file (docs/results.md); '
        '<!-- ablation-REGIME-NAME:begin/end --> for a results file '
        'ablation_NAME.json')
    ablate.add_argument(
        '--regime',
        choices=['fast', 'faster', 'cascade', 'oriented'],
        default='fast')
    ablate.add_argument('--seed', type=int, nargs='+', default=[0, 1, 2])
    ablate.add_argument('--iters', type=int, default=400)
    _add_run_options(ablate, 'work_dirs/ablation')
    ablate.add_argument(
        '--results',
        help='JSON file that collects every run (default: ablation.json in '
        'the work dir; the repository keeps its runs in '
        'benchmarks/results/ablation.json)')
    ablate.add_argument(
        '--force', action='store_true', help='rerun recorded runs')
    ablate.set_defaults(func=_ablate)

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

    sweep = commands.add_parser(
        'sweep',
        help='train every two-stage config mmdet (or --package) ships one '
        'step with mmohem\'s and mmdet\'s OHEM and report which work',
        description='One representative config per method folder (--all: '
        'every config), each built and trained one step on the CPU on a '
        'synthetic batch as shipped, with mmohem.OHEMSampler and with '
        'mmdet\'s OHEMSampler in every R-CNN stage. Exits 1 if a config '
        'trains as shipped but mmohem neither trains nor refuses it.')
    sweep.add_argument('--all', action='store_true', help='every config')
    sweep.add_argument(
        '--package',
        default='mmdet',
        help='whose configs: mmdet (default) or a downstream repo such as '
        'mmrotate or mmocr; each config is built in its default_scope')
    sweep.add_argument(
        '--only', nargs='+', default=(), help='regexes on config paths')
    sweep.add_argument(
        '--markdown',
        help='write the table to this file; in a file that has the markers '
        '<!-- sweep:begin --> and <!-- sweep:end --> (with --package P: '
        '<!-- sweep-P:begin/end -->), only what is between them is replaced '
        '(docs/compatibility.md)')
    sweep.set_defaults(func=_sweep)
    args = parser.parse_args(argv)
    args.argv = argv
    return args.func(args)


if __name__ == '__main__':
    sys.exit(main())
