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
import sys

import torch
from bench_utils import (SAMPLERS, build_detector, build_sampler, device_name,
                         interleave, pick_device, report, summary,
                         synthetic_batch, timed, train_step)
from mmdet.models.task_modules.assigners import AssignResult
from mmdet.structures.bbox import bbox2roi


def candidate_inputs(model, inputs, samples):
    """Per image: features, proposals and assignment, as the RoI head sees
    them in training."""
    with torch.no_grad():
        x = model.extract_feat(inputs)
        rpn_samples = [s.clone() for s in samples]
        for s in rpn_samples:
            s.gt_instances.labels = torch.zeros_like(s.gt_instances.labels)
        _, proposals = model.rpn_head.loss_and_predict(
            x, rpn_samples, proposal_cfg=model.train_cfg.rpn_proposal)
    images = []
    for i, (props, sample) in enumerate(zip(proposals, samples)):
        props.priors = props.pop('bboxes')
        assigned = model.roi_head.bbox_assigner.assign(props,
                                                       sample.gt_instances)
        images.append(
            dict(
                feats=[level[i][None] for level in x],
                proposals=props,
                gt=sample.gt_instances,
                assigned=assigned))
    return images


def fresh(assigned: AssignResult) -> AssignResult:
    # sample() adds the GT boxes to the assignment in place
    return AssignResult(assigned.num_gts, assigned.gt_inds.clone(),
                        assigned.max_overlaps.clone(), assigned.labels.clone())


def all_rois(image) -> torch.Tensor:
    return bbox2roi(
        [torch.cat([image['gt'].bboxes, image['proposals'].priors])])


def bare_forward(model, images) -> None:
    """The limit: the no-grad bbox-branch forward over every candidate."""
    with torch.no_grad():
        for image in images:
            model.roi_head._bbox_forward(image['feats'], all_rois(image))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--size', type=int, nargs=2, default=(800, 1333))
    parser.add_argument('--steps', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--sampler-reps', type=int, default=30)
    parser.add_argument('--device', default='auto')
    parser.add_argument('--out', help='write the results as JSON here')
    args = parser.parse_args(argv)

    device = pick_device(args.device)
    torch.manual_seed(0)
    model = build_detector(device)
    samplers = {name: build_sampler(model, name) for name in SAMPLERS}
    inputs, samples = synthetic_batch(device, size=tuple(args.size))
    images = candidate_inputs(model, inputs, samples)

    def run_step(name):
        if name == 'limit':
            with torch.no_grad():
                bare_forward(model, images)
            return
        model.roi_head.bbox_sampler = samplers[name]
        train_step(model, inputs, samples)

    step_times = {name: [] for name in [*SAMPLERS, 'limit']}
    for step in range(args.warmup + args.steps):
        for name in interleave(list(step_times), step):
            seconds = timed(lambda: run_step(name), device)
            if step >= args.warmup:
                step_times[name].append(seconds)
            print(f'step {step} {name}: {seconds:.3f} s', file=sys.stderr)

    def call(name):
        if name == 'forward':
            return bare_forward(model, images)
        for image in images:
            samplers[name].sample(
                fresh(image['assigned']),
                image['proposals'],
                image['gt'],
                feats=image['feats'])

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
        image_size=list(args.size),
        candidates_per_image=[len(all_rois(i)) for i in images],
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
    return report(result, markdown(result), args.out)


def markdown(r: dict) -> str:

    def row(label, s, extra=''):
        return (f"| {label} | {s['median']:.3f} | {s['q1']:.3f}-{s['q3']:.3f}"
                f" | {s['n']} | {extra} |")

    steps, calls = r['steps'], r['sampler_calls']
    lines = [
        f"Device: {r['device']}; images {r['image_size']}, candidates per "
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
