"""The oriented regime's training step with each sampler, side by side.

    .venv-downstream/bin/python benchmarks/oriented_step.py \
        --out benchmarks/results/oriented_step_cpu.json

Runs ``mmohem demo --regime oriented`` (end-to-end Oriented R-CNN on the
shapes set's oriented boxes, mmrotate 1.0.0rc1) for ``--iters`` iterations
of each sampler in turn, on ``--num-train`` images, and prints and records
each run's seconds per iteration (the median of its iterations after the
fifth) and its ratio to ``RandomSampler``'s, with mmohem's mining figures
(candidates, those NMS examined and kept). Figures of runs made one after
another on a shared machine: rerun it to see the spread.
"""
import argparse
import tempfile

from bench_utils import report

from mmohem_benchmark.demo import VARIANTS, run_demo
from mmohem_benchmark.shapes import ShapesSpec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--iters', type=int, default=12)
    parser.add_argument('--num-train', type=int, default=40)
    parser.add_argument('--num-val', type=int, default=8)
    parser.add_argument('--work-dir', help='default: a temporary folder')
    parser.add_argument('--out', help='write the results as JSON here')
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = run_demo(['oriented'],
                           iters=args.iters,
                           seeds=[0],
                           work_dir=args.work_dir or tmp,
                           spec=ShapesSpec(
                               num_train=args.num_train,
                               num_val=args.num_val))['oriented']
    runs = {variant: results[variant][0] for variant, _ in VARIANTS}
    base = runs['random']['s_per_iter']
    rows = {
        variant:
        dict(
            s_per_iter=run['s_per_iter'],
            vs_random=run['s_per_iter'] / base,
            mining=run.get('mining'))
        for variant, run in runs.items()
    }
    lines = ['| sampler | s/iter | x RandomSampler |', '|---|---|---|']
    for (variant, label), row in zip(VARIANTS, rows.values()):
        lines.append(f"| {label} | {row['s_per_iter']:.2f} | "
                     f"{row['vs_random']:.2f} |")
    command = ('benchmarks/oriented_step.py '
               f'--iters {args.iters} --num-train {args.num_train} '
               f'--num-val {args.num_val}')
    report(dict(command=command, rows=rows), '\n'.join(lines), args.out)


if __name__ == '__main__':
    main()
