"""mmohem.OHEMSampler on a GPU: the same selection as on the CPU, and how
often the scoring/selection path waits for the GPU.

1. Agreement: mmdet's Faster R-CNN R-50-FPN (random weights, synthetic batch
   of 2 images) scored and mined on the GPU and, with the same weights and
   inputs, on the CPU. Reports the largest difference of the per-RoI losses
   and the overlap of the selected RoI sets (ties at the cut may differ).
2. Host synchronisations: ``torch.cuda.set_sync_debug_mode('warn')`` counts
   every operation that waits for the GPU (a copy to the host, ``nonzero``
   behind boolean indexing, ...) during one ``sample()`` call per image, for
   RandomSampler, mmdet's OHEMSampler and mmohem's, with the source line of
   each.

Usage:
    python benchmarks/gpu_check.py [--size 800 1333] [--out result.json]
"""
import argparse
import collections
import copy
import warnings

import torch
from bench_utils import (FASTER_RCNN, build_sampler, device_name, pick_device,
                         report)

from mmohem_benchmark.synthetic_batch import (detector_batch, random_detector,
                                              rcnn_inputs)
from mmohem_benchmark.synthetic_batch import sample_rcnn_input as _sample


def _sample_and_losses(sampler, image):
    """One ``sample()`` call, and the per-RoI losses it ranked by."""
    scored = []
    score = sampler.roi_losses
    sampler.roi_losses = lambda *args: scored.append(score(*args)) or scored[-1
                                                                             ]
    try:
        result = _sample(sampler, image)
    finally:
        del sampler.roi_losses  # back to the class's method
    return result, scored[0]


def agreement(model, data) -> dict:
    gpu = build_sampler(model, 'mmohem')
    cpu_model = copy.deepcopy(model).cpu()
    cpu = build_sampler(cpu_model, 'mmohem')
    torch.manual_seed(0)
    images = rcnn_inputs(model, data)
    rows = []
    for image in images:
        assigned = image['assigned']
        cpu_image = {
            'feats': [f.cpu() for f in image['feats']],
            'proposals':
            image['proposals'].cpu(),
            'gt':
            image['gt'].cpu(),
            'assigned':
            type(assigned)(assigned.num_gts, assigned.gt_inds.cpu(),
                           assigned.max_overlaps.cpu(), assigned.labels.cpu())
        }
        on_gpu, loss_gpu = _sample_and_losses(gpu, image)
        on_cpu, loss_cpu = _sample_and_losses(cpu, cpu_image)
        loss_gpu = loss_gpu.cpu()
        picked = [
            set(torch.cat([res.pos_inds, res.neg_inds]).cpu().tolist())
            for res in (on_gpu, on_cpu)
        ]
        rows.append(
            dict(
                candidates=len(loss_cpu),
                max_abs_loss_diff=float((loss_gpu - loss_cpu).abs().max()),
                max_loss=float(loss_cpu.max()),
                selected=len(picked[1]),
                same_selected=len(picked[0] & picked[1]),
                jaccard=len(picked[0] & picked[1]) /
                max(1, len(picked[0] | picked[1]))))
    return dict(images=rows)


def host_syncs(model, data) -> dict:
    images = rcnn_inputs(model, data)
    out = {}
    for name in ('random', 'mmdet_ohem', 'mmohem'):
        sampler = build_sampler(model, name)
        _sample(sampler, images[0])  # warm-up (lazy set-up)
        torch.cuda.synchronize()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            torch.cuda.set_sync_debug_mode('warn')
            try:
                for image in images:
                    _sample(sampler, image)
            finally:
                torch.cuda.set_sync_debug_mode('default')
        where = collections.Counter(
            f'{w.filename.split("site-packages/")[-1]}:{w.lineno}'
            for w in caught if 'synchroniz' in str(w.message))
        out[name] = dict(
            syncs_per_image=sum(where.values()) / len(images),
            where=dict(where.most_common()))
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--size', type=int, nargs=2, default=(800, 1333))
    parser.add_argument('--out', help='write the results as JSON here')
    parser.add_argument(
        '--device',
        default='cuda',
        help='cpu runs the agreement part against itself (a dry run of '
        'this script)')
    args = parser.parse_args(argv)
    device = pick_device(args.device)
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('no CUDA device: pass --device cpu for a dry run')
    model, model_cfg = random_detector(FASTER_RCNN, device)
    data = detector_batch(model, model_cfg, size=args.size)
    result = dict(
        device=device_name(device),
        torch=torch.__version__,
        agreement=agreement(model, data),
        host_syncs=host_syncs(model, data) if device.type == 'cuda' else {})
    return report(result, markdown(result), args.out, device)


def markdown(r: dict) -> str:
    lines = [
        f"Device: {r['device']} (torch {r['torch']})", '',
        '| image | candidates | max loss | max abs loss diff GPU vs CPU | '
        'selected | same RoIs selected |', '|---|---|---|---|---|---|'
    ]
    for i, row in enumerate(r['agreement']['images']):
        lines.append(f"| {i} | {row['candidates']} | {row['max_loss']:.3f} | "
                     f"{row['max_abs_loss_diff']:.2e} | {row['selected']} | "
                     f"{row['same_selected']} |")
    lines += [
        '', '| sampler | host syncs per image | where |', '|---|---|---|'
    ]
    for name, s in r['host_syncs'].items():
        where = '; '.join(f'{k} ({v})' for k, v in s['where'].items())
        lines.append(f"| {name} | {s['syncs_per_image']:.1f} | {where} |")
    return '\n'.join(lines)


if __name__ == '__main__':
    main()
