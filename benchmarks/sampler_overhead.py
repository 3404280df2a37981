"""What OHEM costs per training step, against RandomSampler, mmdet's
built-in OHEMSampler and the limit (one no-grad bbox-branch forward over all
candidate RoIs).

Two measurements, each interleaved in one process so that the variants share
the machine's state:

1. Whole steps of mmdet's Faster R-CNN R-50-FPN (2 images, mmdet's proposal
   and RoI settings): forward, loss and backward with each sampler, plus the
   limit's forward on the same batch.
2. The sampler calls alone, on identical inputs (the features, proposals and
   assignments of that batch): mmdet's OHEMSampler, mmohem's, and the bare
   no-grad forward over all candidates. Step times on a shared CPU are noisy;
   this isolates the part that differs.

Usage:
    python benchmarks/sampler_overhead.py [--size 800 1333] [--steps 5]
        [--sampler-reps 30] [--device auto] [--out result.json]
"""
import argparse
import contextlib
import functools
import sys

import torch
from bench_utils import (FASTER_RCNN, SAMPLER_CONFIGS, build_sampler,
                         candidate_rois, device_name, interleave, pick_device,
                         report, summary, timed)

from mmohem_benchmark.synthetic_batch import (detector_batch, random_detector,
                                              rcnn_inputs, sample_rcnn_input,
                                              train_step)


def bare_forward(model, images) -> None:
    """The limit: the no-grad bbox-branch forward over every candidate."""
    with torch.no_grad():
        for image in images:
            model.roi_head._bbox_forward(image['feats'], candidate_rois(image))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--size', type=int, nargs=2, default=(800, 1333))
    parser.add_argument('--steps', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--sampler-reps', type=int, default=30)
    parser.add_argument('--device', default='auto')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='run steps and calls under float16 autocast, as '
        'AmpOptimWrapper does (CUDA only, like AmpOptimWrapper: mmcv\'s CPU '
        'NMS, which the RPN calls, takes no half precision)')
    parser.add_argument('--out', help='write the results as JSON here')
    args = parser.parse_args(argv)

    device = pick_device(args.device)
    if args.amp and device.type != 'cuda':
        raise SystemExit('--amp needs a CUDA device (mmengine\'s '
                         'AmpOptimWrapper and mmcv\'s NMS in half precision '
                         'run on GPUs only)')
    model, model_cfg = random_detector(FASTER_RCNN, device)
    samplers = {name: build_sampler(model, name) for name in SAMPLER_CONFIGS}
    data = detector_batch(model, model_cfg, size=args.size)
    precision = functools.partial(
        torch.autocast, 'cuda', dtype=torch.float16) \
        if args.amp else contextlib.nullcontext
    with precision():
        images = rcnn_inputs(model, data)

    def run_step(name):
        with precision():
            if name == 'limit':
                bare_forward(model, images)
                return
            model.roi_head.bbox_sampler = samplers[name]
            train_step(model, data)

    step_times = {name: [] for name in [*SAMPLER_CONFIGS, 'limit']}
    for step in range(args.warmup + args.steps):
        for name in interleave(list(step_times), step):
            seconds = timed(lambda: run_step(name), device)
            if step >= args.warmup:
                step_times[name].append(seconds)
            print(f'step {step} {name}: {seconds:.3f} s', file=sys.stderr)

    def call(name):
        with precision():
            if name == 'forward':
                return bare_forward(model, images)
            for image in images:
                sample_rcnn_input(samplers[name], image)

    call_times = {name: [] for name in ('mmdet_ohem', 'mmohem', 'forward')}
    for rep in range(2 + args.sampler_reps):
        for name in interleave(list(call_times), rep):
            seconds = timed(lambda: call(name), device)
            if rep >= 2:
                call_times[name].append(seconds)

    steps = {k: summary(v) for k, v in step_times.items()}
    calls = {k: summary(v) for k, v in call_times.items()}
    med = {k: v['median'] for k, v in steps.items()}
    result = dict(
        device=device_name(device),
        amp=args.amp,
        image_size=list(args.size),
        candidates_per_image=[len(candidate_rois(i)) for i in images],
        random_s=med['random'],
        mmdet_ohem_s=med['mmdet_ohem'],
        mmohem_s=med['mmohem'],
        limit_s=med['limit'],
        mmdet_overhead_s=med['mmdet_ohem'] - med['random'],
        mmohem_overhead_s=med['mmohem'] - med['random'],
        steps=steps,
        sampler_mmdet_s=calls['mmdet_ohem']['median'],
        sampler_mmohem_s=calls['mmohem']['median'],
        sampler_forward_s=calls['forward']['median'],
        sampler_calls=calls)
    return report(result, markdown(result), args.out, device)


def markdown(r: dict) -> str:

    def row(label, s, extra=''):
        return (f"| {label} | {s['median']:.3f} | {s['q1']:.3f}-{s['q3']:.3f}"
                f" | {s['n']} | {extra} |")

    steps, calls = r['steps'], r['sampler_calls']
    lines = [
        f"Device: {r['device']}{' (autocast)' if r.get('amp') else ''}; "
        f"images {r['image_size']}, candidates per "
        f"image {r['candidates_per_image']}", '',
        '| training step (2 images) | median s | IQR s | n | overhead vs '
        'random |', '|---|---|---|---|---|',
        row('RandomSampler', steps['random']),
        row('mmdet OHEMSampler', steps['mmdet_ohem'],
            f"{r['mmdet_overhead_s']:+.3f} s"),
        row('mmohem.OHEMSampler', steps['mmohem'],
            f"{r['mmohem_overhead_s']:+.3f} s"),
        row(
            'limit: no-grad forward of all candidates', steps['limit'],
            f"mmohem overhead = {r['mmohem_overhead_s'] / r['limit_s']:.2f} x "
            'limit'), '',
        '| sampler calls alone (2 images) | median s | IQR s | n | vs bare '
        'forward |', '|---|---|---|---|---|',
        row('mmdet OHEMSampler', calls['mmdet_ohem'],
            f"{r['sampler_mmdet_s'] / r['sampler_forward_s']:.2f} x"),
        row('mmohem.OHEMSampler', calls['mmohem'],
            f"{r['sampler_mmohem_s'] / r['sampler_forward_s']:.2f} x"),
        row('bare no-grad forward', calls['forward'], '1.00 x')
    ]
    return '\n'.join(lines)


if __name__ == '__main__':
    main()
