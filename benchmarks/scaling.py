"""Time and peak extra memory of one mmohem.OHEMSampler call against the
number of candidate RoIs and the number of classes.

The RoI head is mmdet's Faster R-CNN R-50-FPN one (4 FPN levels of 256
channels for an 800x1333 image, RoIAlign 7x7, two 1024-d FCs); the candidates
are random boxes around a few ground-truth boxes. Each point runs in its own
process so that the peak memory (the process's peak resident size on the CPU,
``torch.cuda.max_memory_allocated`` on a GPU) belongs to that call alone.
With the default ``chunk_size`` the memory should stay bounded while the time
grows linearly; the unchunked series shows what the chunking saves.

Usage:
    python benchmarks/scaling.py [--rois 500 1000 ...] [--classes 20 80]
        [--reps 3] [--device auto] [--out result.json]
"""
import argparse
import json
import resource
import subprocess
import sys

import torch
from bench_utils import device_name, pick_device, report, summary, timed
from mmdet.models.task_modules.assigners import MaxIoUAssigner
from mmdet.registry import MODELS
from mmengine.config import ConfigDict
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

UNCHUNKED = 10**9


def roi_head(num_classes: int, chunk_size: int, device):
    init_default_scope('mmdet')
    head = MODELS.build(
        ConfigDict(
            type='StandardRoIHead',
            bbox_roi_extractor=dict(
                type='SingleRoIExtractor',
                roi_layer=dict(
                    type='RoIAlign', output_size=7, sampling_ratio=0),
                out_channels=256,
                featmap_strides=[4, 8, 16, 32]),
            bbox_head=dict(
                type='Shared2FCBBoxHead',
                in_channels=256,
                fc_out_channels=1024,
                roi_feat_size=7,
                num_classes=num_classes),
            train_cfg=dict(
                assigner=dict(
                    type='MaxIoUAssigner',
                    pos_iou_thr=0.5,
                    neg_iou_thr=0.5,
                    min_pos_iou=0.5),
                sampler=dict(
                    type='mmohem.OHEMSampler', num=512, chunk_size=chunk_size),
                pos_weight=-1)))
    return head.to(device).train()


def image(num_rois: int, num_classes: int, device, size=(800, 1333)):
    gen = torch.Generator().manual_seed(0)
    h, w = size
    feats = [
        torch.randn(1, 256, h // s, w // s, generator=gen).to(device)
        for s in (4, 8, 16, 32)
    ]
    xy = torch.rand(10, 2, generator=gen) * torch.tensor([w, h]) * 0.7
    gt = InstanceData(
        bboxes=torch.cat(
            [xy, xy + 40 + torch.rand(10, 2, generator=gen) * 200],
            1).to(device),
        labels=torch.randint(0, num_classes, (10, ), generator=gen).to(device))
    xy = torch.rand(num_rois, 2, generator=gen) * torch.tensor([w, h]) * 0.8
    wh = 16 + torch.rand(num_rois, 2, generator=gen) * 300
    proposals = InstanceData(priors=torch.cat([xy, xy + wh], 1).to(device))
    return feats, proposals, gt


def measure(num_rois: int, num_classes: int, chunk_size: int, reps: int,
            device) -> dict:
    """One point, in this process: median time and peak extra memory."""
    head = roi_head(num_classes, chunk_size, device)
    feats, proposals, gt = image(num_rois, num_classes, device)
    assigner = MaxIoUAssigner(0.5, 0.5, min_pos_iou=0.5)

    def call():
        head.bbox_sampler.sample(
            assigner.assign(proposals, gt), proposals, gt, feats=feats)

    if device.type == 'cuda':
        call()  # warm-up: kernels, cuDNN and allocator pools
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        seconds = [timed(call, device)]
        peak = torch.cuda.max_memory_allocated(device) - base
    else:
        # the first call's peak resident size above what the set-up reached
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        seconds = [timed(call, device)]
        peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss -
                base) * 1024
    seconds += [timed(call, device) for _ in range(reps - 1)]
    return dict(
        rois=num_rois,
        classes=num_classes,
        chunk_size=None if chunk_size == UNCHUNKED else chunk_size,
        time=summary(seconds),
        peak_extra_mib=peak / 2**20)


def child(args) -> None:
    print(
        json.dumps(
            measure(args.rois[0], args.classes[0], args.chunk_size, args.reps,
                    pick_device(args.device))))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--rois',
        type=int,
        nargs='+',
        default=[500, 1000, 2000, 5000, 10000, 20000])
    parser.add_argument('--classes', type=int, nargs='+', default=[20, 80])
    parser.add_argument(
        '--unchunked-up-to',
        type=int,
        default=10000,
        help='also run without chunking up to this many RoIs (80 classes)')
    parser.add_argument('--chunk-size', type=int, default=2048)
    parser.add_argument('--reps', type=int, default=3)
    parser.add_argument('--device', default='auto')
    parser.add_argument('--out')
    parser.add_argument('--child', action='store_true', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)

    points = [(n, c, args.chunk_size) for c in args.classes for n in args.rois]
    points += [(n, max(args.classes), UNCHUNKED) for n in args.rois
               if n <= args.unchunked_up_to]
    rows = []
    for num_rois, num_classes, chunk in points:
        out = subprocess.run([
            sys.executable, __file__, '--child', '--rois',
            str(num_rois), '--classes',
            str(num_classes), '--chunk-size',
            str(chunk), '--reps',
            str(args.reps), '--device', args.device
        ],
                             capture_output=True,
                             text=True)
        if out.returncode:
            sys.exit(f'point ({num_rois}, {num_classes}, {chunk}) failed:\n' +
                     out.stderr[-2000:])
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(
            f'{num_rois} RoIs, {num_classes} classes, chunk {chunk}: '
            f"{rows[-1]['time']['median']:.3f} s",
            file=sys.stderr)
    device = pick_device(args.device)
    result = dict(device=device_name(device), points=rows)
    return report(result, markdown(result), args.out, device)


def markdown(result: dict) -> str:
    lines = [
        f"Device: {result['device']}", '',
        '| candidate RoIs | classes | chunk_size | median s | IQR s | '
        'ms per 1000 RoIs | peak extra MiB |', '|---|---|---|---|---|---|---|'
    ]
    for p in result['points']:
        t = p['time']
        lines.append(f"| {p['rois']} | {p['classes']} | "
                     f"{p['chunk_size'] or 'none'} | {t['median']:.3f} | "
                     f"{t['q1']:.3f}-{t['q3']:.3f} | "
                     f"{1000 * 1000 * t['median'] / p['rois']:.0f} | "
                     f"{p['peak_extra_mib']:.0f} |")
    return '\n'.join(lines)


if __name__ == '__main__':
    main()
