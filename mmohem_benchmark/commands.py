"""The commands the embedded benchmark adds to ``mmohem``: ``demo``,
``ablate`` and ``sweep``.

mmohem's command line (:mod:`mmohem.tools.cli`) finds :func:`add_commands`
through the entry point group ``mmohem.commands`` (pyproject.toml) and
calls it with its subcommands, so the product imports nothing of the
benchmark. Every ``mmohem`` call loads this module, so it imports nothing
heavy at the top; each command imports what it runs.
"""
import argparse
import os
import sys


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add ``demo``, ``ablate`` and ``sweep`` to the ``mmohem`` command.

    Args:
        commands (argparse._SubParsersAction): The subcommands of
            ``mmohem``'s parser (``parser.add_subparsers()``).
    """
    _add_demo(commands)
    _add_ablate(commands)
    _add_sweep(commands)


def _add_demo(commands: argparse._SubParsersAction) -> None:
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
        choices=[
            'fast', 'faster', 'both', 'cascade', 'oriented', 'rotated_fast',
            'trees_fast', 'trees_faster'
        ],
        default='fast',
        help='fast: Fast R-CNN on precomputed proposals (the paper\'s '
        'regime); faster: end-to-end Faster R-CNN; both; cascade: '
        'end-to-end Cascade R-CNN, the samplers in all three stages; '
        'oriented: '
        'end-to-end Oriented R-CNN on the shapes\' oriented boxes, '
        'mAP from mmrotate\'s DOTAMetric (needs mmrotate: the downstream '
        'stack); rotated_fast: Rotated Faster R-CNN\'s head on the '
        'precomputed proposals, the same boxes and metric; trees_fast, '
        'trees_faster: Fast R-CNN on precomputed proposals and Faster R-CNN '
        'end to end on real aerial images of trees (fetched once with pip '
        'download into $XDG_CACHE_HOME/mmohem; docs/results.md) '
        '(default: fast)')
    demo.add_argument(
        '--iters', type=int, default=400, help='training iterations')
    demo.add_argument(
        '--eval-interval',
        type=int,
        help='evaluate on val every so many iterations as well as at the '
        'end (default: at the end only)')
    demo.add_argument(
        '--seed',
        type=int,
        nargs='+',
        default=[0],
        help='one or more seeds; the table shows mean ± std over them')
    _add_run_options(demo, 'work_dirs/demo')
    demo.set_defaults(func=_demo)


def _add_ablate(commands: argparse._SubParsersAction) -> None:
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
        '--curves',
        help='with --table: draw each run\'s AP curve on val here (runs '
        'trained with --eval-interval)')
    ablate.add_argument(
        '--markdown',
        help='with --table: write the table between the markers '
        '<!-- ablation-REGIME:begin/end --> of this file (docs/results.md); '
        '<!-- ablation-REGIME-NAME:begin/end --> for a results file '
        'ablation_NAME.json')
    ablate.add_argument(
        '--regime',
        choices=[
            'fast', 'faster', 'cascade', 'oriented', 'rotated_fast',
            'trees_fast', 'trees_faster'
        ],
        default='fast')
    ablate.add_argument('--seed', type=int, nargs='+', default=[0, 1, 2])
    ablate.add_argument('--iters', type=int, default=400)
    ablate.add_argument(
        '--eval-interval',
        type=int,
        help='evaluate on val and checkpoint every so many iterations (the '
        'run\'s AP curve); an interrupted run resumes from its last '
        'checkpoint (default: at the end only)')
    _add_run_options(ablate, 'work_dirs/ablation')
    ablate.add_argument(
        '--results',
        help='JSON file that collects every run (default: ablation.json in '
        'the work dir; the repository keeps its runs in '
        'benchmarks/results/ablation.json)')
    ablate.add_argument(
        '--force', action='store_true', help='rerun recorded runs')
    ablate.set_defaults(func=_ablate)


def _add_sweep(commands: argparse._SubParsersAction) -> None:
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


def _add_run_options(command: argparse.ArgumentParser, work_dir: str) -> None:
    """Where the shapes runs go and how large their data set is."""
    command.add_argument('--work-dir', default=work_dir)
    command.add_argument('--num-train', type=int, default=400)
    command.add_argument('--num-val', type=int, default=100)


def _data_unavailable(error: Exception) -> int:
    """Report that a regime's data cannot be had, in one line."""
    print(error, file=sys.stderr)
    return 1


def _demo(args: argparse.Namespace) -> int:
    from .demo import REGIMES, run_demo
    from .shapes import ShapesSpec
    from .trees import TreesUnavailable
    regimes = list(REGIMES) if args.regime == 'both' else [args.regime]
    try:
        run_demo(
            regimes,
            iters=args.iters,
            seeds=args.seed,
            work_dir=args.work_dir,
            spec=ShapesSpec(num_train=args.num_train, num_val=args.num_val),
            eval_interval=args.eval_interval)
    except TreesUnavailable as e:
        return _data_unavailable(e)
    return 0


def _ablate(args: argparse.Namespace) -> int:
    from .ablation import (VARIANTS, ablation_table, canonical_names,
                           run_ablation)
    from .shapes import ShapesSpec
    if args.list:
        for name, variant in VARIANTS.items():
            print(f"{name:12s} {variant.change} ({'/'.join(variant.regimes)})")
        return 0
    variants = canonical_names(args.variants)
    results_path = args.results or os.path.join(args.work_dir, 'ablation.json')
    if args.table:
        from .ablation import load_results, markdown_name
        from .plots import draw_ablation, draw_curves
        results = load_results(results_path)
        text = ablation_table(results, args.regime, variants or None)
        print(text)
        if args.markdown:
            from .markdown import write_markdown
            write_markdown(args.markdown, text,
                           markdown_name(args.regime, results_path))
        if args.plot:
            draw_ablation(results, args.regime, variants or list(VARIANTS),
                          args.plot)
            print(f'plot: {args.plot}')
        if args.curves:
            draw_curves(results, args.regime, variants or list(VARIANTS),
                        args.curves)
            print(f'curves: {args.curves}')
            from .schedule import describe
            for name, runs in results.get(args.regime, {}).items():
                if variants and name not in variants:
                    continue
                for seed in sorted(runs, key=int):
                    if runs[seed].get('curve'):
                        print(f"{name} seed {seed}: "
                              f"{describe(runs[seed]['curve'])}")
        return 0
    if not variants:
        raise SystemExit('mmohem ablate: name at least one variant '
                         '(--list shows them)')
    from .trees import TreesUnavailable
    try:
        results = run_ablation(
            variants,
            args.regime,
            seeds=args.seed,
            iters=args.iters,
            work_dir=args.work_dir,
            results_path=results_path,
            spec=ShapesSpec(num_train=args.num_train, num_val=args.num_val),
            force=args.force,
            eval_interval=args.eval_interval)
    except TreesUnavailable as e:
        return _data_unavailable(e)
    print('\n' + ablation_table(results, args.regime, variants))
    return 0


def _sweep(args: argparse.Namespace) -> int:
    import time

    from .markdown import write_markdown
    from .sweep import counts, is_regression, markdown, run_sweep
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
