"""The work around the scoring forward, mmohem's OHEMSampler against mmdet's,
measured on the CPU (proxies of what each call costs on a GPU, where every
op is a kernel launch and a Python call).

One image of mmdet's Faster R-CNN R-50-FPN (random weights; mmdet's proposal
settings: 1000 proposals plus the ground truth), both samplers on the same
inputs in one process:

1. ATen calls (``torch.profiler``, nested calls counted) of one ``sample()``
   of each sampler and of the bare no-grad bbox-branch forward over all
   candidates; a sampler's figure beyond the forward's is the work around
   it. mmdet's sampler scores only the background RoIs, mmohem's all of
   them, but the forward makes the same calls for any number of RoIs.
2. One ``sample()`` with the bbox branch replaced by a cheap stand-in (two
   small matmuls on the RoI coordinates, the same for both samplers), one
   thread, the samplers interleaved, median of ``--reps`` repetitions.
   Interleaved with them, mmcv's NMS op alone on the inputs mmohem's call
   gives it: on the CPU its greedy loop over ~1000 boxes is most of
   mmohem's call, where on a GPU it is one parallel kernel, so the tables
   also show mmohem's call without it (its time, and the ATen calls its
   CPU kernel makes inside itself).

Usage:
    python benchmarks/sampler_calls.py [--size 512 512] [--reps 300]
        [--out result.json]
"""
import argparse
import collections
import time

import torch
from bench_utils import (FASTER_RCNN, build_sampler, candidate_rois,
                         device_name, interleave, report, summary)
from torch.profiler import ProfilerActivity, profile

from mmohem.samplers import box_nms
from mmohem_benchmark.synthetic_batch import (detector_batch, fresh_assignment,
                                              random_detector, rcnn_inputs,
                                              sample_rcnn_input)

NAMES = ('mmdet_ohem', 'mmohem')


class StandIn:
    """A bbox branch that costs almost nothing: class scores and deltas from
    the RoI coordinates by two small matmuls."""

    def __init__(self, num_classes: int, seed: int = 0) -> None:
        gen = torch.Generator().manual_seed(seed)
        self.cls = torch.randn(4, num_classes + 1, generator=gen) * 0.01
        self.reg = torch.randn(4, 4 * num_classes, generator=gen) * 0.001

    def __call__(self, feats, rois, *args, **kwargs) -> dict:
        boxes = rois[:, 1:]
        return dict(cls_score=boxes @ self.cls, bbox_pred=boxes @ self.reg)


def aten_calls(fn) -> collections.Counter:
    """The ATen calls ``fn()`` makes, by name, nested calls included."""
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    return collections.Counter(e.name for e in prof.events()
                               if e.name.startswith('aten::'))


def nms_call(sampler, image):
    """mmcv's NMS op as mmohem calls it (``mmcv.ops.nms``, through
    :mod:`mmohem.samplers.box_nms`), bound to the arguments ``sample()``
    gives it."""
    real, seen = box_nms.nms, []

    def recorder(*args, **kwargs):
        seen.append((args, kwargs))
        return real(*args, **kwargs)

    box_nms.nms = recorder
    try:
        sample_rcnn_input(sampler, image)
    finally:
        box_nms.nms = real
    args, kwargs = seen[0]
    return lambda: real(*args, **kwargs)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--size', type=int, nargs=2, default=(512, 512))
    parser.add_argument('--reps', type=int, default=300)
    parser.add_argument('--warmup', type=int, default=20)
    parser.add_argument('--out', help='write the results as JSON here')
    args = parser.parse_args(argv)

    device = torch.device('cpu')
    model, model_cfg = random_detector(FASTER_RCNN, device)
    samplers = {name: build_sampler(model, name) for name in NAMES}
    image = rcnn_inputs(model, detector_batch(model, model_cfg, 1,
                                              args.size))[0]
    candidates = len(image['gt']) + len(image['proposals'])
    rois = candidate_rois(image)

    # 1. ATen calls, with the real bbox branch
    for name in NAMES:  # the first call sets things up lazily
        sample_rcnn_input(samplers[name], image)
    with torch.no_grad():
        forward = aten_calls(
            lambda: model.roi_head._bbox_forward(image['feats'], rois))
    calls = {
        name: aten_calls(lambda: sample_rcnn_input(samplers[name], image))
        for name in NAMES
    }

    # 2. one thread, around the stand-in forward
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    num_classes = model.roi_head.bbox_head.num_classes
    model.roi_head._bbox_forward = StandIn(num_classes)
    standin = {
        name: aten_calls(lambda: sample_rcnn_input(samplers[name], image))
        for name in NAMES
    }
    nms = nms_call(samplers['mmohem'], image)
    nms_calls = sum(aten_calls(nms).values())
    seconds = {name: [] for name in (*NAMES, 'nms')}
    for rep in range(args.warmup + args.reps):
        for name in interleave(list(seconds), rep):
            assigned = fresh_assignment(image['assigned'])
            start = time.perf_counter()
            if name == 'nms':
                nms()
            else:
                samplers[name].sample(
                    assigned,
                    image['proposals'],
                    image['gt'],
                    feats=image['feats'])
            elapsed = time.perf_counter() - start
            if rep >= args.warmup:
                seconds[name].append(elapsed)
    torch.set_num_threads(threads)
    del model.roi_head._bbox_forward

    times = {name: summary(v) for name, v in seconds.items()}
    forward_calls = sum(forward.values())
    result = dict(
        device=device_name(device),
        image_size=list(args.size),
        candidates=candidates,
        forward_aten_calls=forward_calls,
        aten_calls={
            name: sum(c.values())
            for name, c in calls.items()
        },
        aten_calls_beyond_forward={
            name: sum(c.values()) - forward_calls
            for name, c in calls.items()
        },
        # what mmcv's NMS op makes inside itself on this device, included
        # in mmohem's figures above
        nms_op_aten_calls=nms_calls,
        standin_aten_calls={
            name: sum(c.values())
            for name, c in standin.items()
        },
        top_calls={
            name: dict((c - forward).most_common(12))
            for name, c in calls.items()
        },
        standin_seconds=times,
        standin_ratio=times['mmohem']['median'] /
        times['mmdet_ohem']['median'],
        standin_ratio_without_nms=(times['mmohem']['median'] -
                                   times['nms']['median']) /
        times['mmdet_ohem']['median'])
    return report(result, markdown(result), args.out, device)


def markdown(r: dict) -> str:
    beyond, total = r['aten_calls_beyond_forward'], r['aten_calls']
    t = r['standin_seconds']

    def ms(name):
        s = t[name]
        return (f"{1000 * s['median']:.2f} | {1000 * s['q1']:.2f}-"
                f"{1000 * s['q3']:.2f} | {s['n']}")

    lines = [
        f"Device: {r['device']}; one image {r['image_size']}, "
        f"{r['candidates']} candidates", '',
        '| ATen calls per sample() | all | beyond the forward |',
        '|---|---|---|',
        f"| bare no-grad bbox forward | {r['forward_aten_calls']} | 0 |",
        f"| mmdet OHEMSampler | {total['mmdet_ohem']} | "
        f"{beyond['mmdet_ohem']} |",
        f"| mmohem.OHEMSampler | {total['mmohem']} | {beyond['mmohem']} |",
        f"| of which mmcv's NMS op | {r['nms_op_aten_calls']} | "
        f"{r['nms_op_aten_calls']} |",
        f"| mmohem.OHEMSampler without the NMS op | "
        f"{total['mmohem'] - r['nms_op_aten_calls']} | "
        f"{beyond['mmohem'] - r['nms_op_aten_calls']} |", '',
        '| sample() around the stand-in forward, 1 thread | median ms | '
        'IQR ms | n | ATen calls |', '|---|---|---|---|---|',
        f"| mmdet OHEMSampler | {ms('mmdet_ohem')} | "
        f"{r['standin_aten_calls']['mmdet_ohem']} |",
        f"| mmohem.OHEMSampler | {ms('mmohem')} | "
        f"{r['standin_aten_calls']['mmohem']} |",
        f"| mmcv NMS op alone, on mmohem's inputs | {ms('nms')} | |", '',
        f"mmohem / mmdet, stand-in call: {r['standin_ratio']:.2f} x; "
        'without the NMS op\'s own time: '
        f"{r['standin_ratio_without_nms']:.2f} x"
    ]
    return '\n'.join(lines)


if __name__ == '__main__':
    main()
