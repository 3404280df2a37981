"""The rotated NMS's cost per image, against the axis-aligned one.

    .venv-downstream/bin/python benchmarks/rotated_nms.py --reps 5

On ``--num`` random boxes in a 256-pixel image (rotated: random angles;
axis-aligned: their enclosing boxes), 4 groups, NMS at 0.7: mmohem's
``rotated_nms`` and ``horizontal_nms`` in a random rank order over every
box (no budget to stop at; ``benchmarks/rotated_sample.py`` measures a
``sample()`` call, which has one), and mmcv's ``nms_rotated`` called
directly, interleaved, ``--reps`` repetitions, median and interquartile
range in seconds. Needs only mmcv's ops (either
stack); runs on the CPU or a GPU (``--device cuda``).
"""
import argparse

import torch
from bench_utils import report, summary, timed
from mmcv.ops import nms_rotated

from mmohem.samplers.box_nms import horizontal_nms, rotated_nms


def boxes(num: int, gen: torch.Generator, device) -> tuple:
    xy = torch.rand(num, 2, generator=gen) * 256
    wh = 4 + torch.rand(num, 2, generator=gen) * 60
    angle = (torch.rand(num, 1, generator=gen) - 0.5) * 3.1
    rotated = torch.cat([xy, wh, angle], 1)
    # the enclosing axis-aligned boxes
    cos, sin = angle.cos().abs(), angle.sin().abs()
    half = torch.cat(
        [wh[:, :1] * cos + wh[:, 1:] * sin, wh[:, :1] * sin + wh[:, 1:] * cos],
        1) / 2
    horizontal = torch.cat([xy - half, xy + half], 1)
    return rotated.to(device), horizontal.to(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--num', type=int, default=1000)
    parser.add_argument('--reps', type=int, default=5)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--out', help='write the results as JSON here')
    args = parser.parse_args()
    device = torch.device(args.device)
    gen = torch.Generator().manual_seed(0)
    rotated, horizontal = boxes(args.num, gen, device)
    groups = torch.randint(0, 4, (args.num, ), generator=gen).to(device)
    order = torch.randperm(args.num, generator=gen).to(device)
    scores = torch.rand(args.num, generator=gen).to(device)
    calls = {
        'mmohem rotated_nms':
        lambda: rotated_nms(rotated, groups, order, 0.7),
        'mmohem horizontal_nms':
        lambda: horizontal_nms(horizontal, groups, order, 0.7),
        "mmcv's nms_rotated":
        lambda: nms_rotated(rotated, scores, 0.7),
    }
    times = {name: [] for name in calls}
    for _ in range(args.reps):
        for name, call in calls.items():
            times[name].append(timed(call, device))
    lines = [
        f'{args.num} boxes, {device}, {torch.get_num_threads()} threads, '
        f'{args.reps} reps'
    ]
    rows = {name: summary(values) for name, values in times.items()}
    for name, row in rows.items():
        lines.append(f"{name:24s} median {row['median']:.4f} s "
                     f"(IQR {row['q1']:.4f}-{row['q3']:.4f})")
    command = (f'benchmarks/rotated_nms.py --num {args.num} '
               f'--reps {args.reps} --device {args.device}')
    report(
        dict(command=command, num=args.num, reps=args.reps, seconds=rows),
        '\n'.join(lines), args.out, device)


if __name__ == '__main__':
    main()
