"""What the NMS among rotated candidates adds to one ``sample()`` call.

    .venv-downstream/bin/python benchmarks/rotated_sample.py \
        --reps 7 --out benchmarks/results/rotated_sample_cpu.json

Oriented R-CNN's RoI head (mmrotate 1.0.0rc1), in two sizes: the shapes
benchmark's (R-18-FPN, 64 channels, a 256-pixel image, 1000 proposals plus
8 objects, ``num=64``) and mmrotate's DOTA config's (R-50-FPN, 256
channels, a 1024-pixel image, 2000 proposals plus 8 objects, ``num=512``,
mmrotate's own settings). The proposals are rotated boxes, three in four
jittered around the objects, thinned by an RPN-like NMS at 0.7 among
themselves; random features, the default initialisation. Each repetition
times, side by side in a rotating order: ``mmohem.OHEMSampler.sample()``
with NMS at 0.7, the same call with ``nms_iou_thr=None``, and mmcv's
``nms_rotated`` over every candidate
ranked by the same losses (the greedy op mmohem called before it stopped at
the budget). Prints the medians, the NMS's share (with NMS / without - 1)
from the medians and paired within each repetition (its median and range:
the steadier figure on a shared machine, where the repetitions drift) and
writes the JSON. Runs on the CPU or a GPU (``--device cuda``).
"""
import argparse
import statistics

import torch
from bench_utils import report, summary, timed
from mmcv.ops import nms_rotated
from mmengine.config import Config
from mmengine.structures import InstanceData

import mmohem
from mmohem.tools.scope import build_model

CASES = {
    'shapes':
    dict(
        config=mmohem.config_path('shapes/oriented_rcnn_mmohem_r18_shapes.py'),
        size=256,
        num_proposals=1000,
        num=64),
    'dota':
    dict(
        config='mmrotate::oriented_rcnn/'
        'oriented-rcnn-le90_r50_fpn_1x_dota.py',
        size=1024,
        num_proposals=2000,
        num=512),
}
NUM_OBJECTS = 8


def build_case(name: str, device: torch.device):
    from mmrotate.structures.bbox import RotatedBoxes

    from mmohem.tools.convert import resolve_config
    case = CASES[name]
    torch.manual_seed(0)
    cfg = Config.fromfile(resolve_config(case['config']))
    cfg.model.backbone.init_cfg = None  # no download: random weights
    model = build_model(cfg)
    model.init_weights()
    head = model.roi_head.to(device).train()
    channels = head.bbox_roi_extractor.out_channels
    strides = head.bbox_roi_extractor.featmap_strides
    size = case['size']
    gen = torch.Generator().manual_seed(1)
    feats = [
        torch.randn(1, channels, size // s, size // s, generator=gen)
        for s in strides
    ]
    centres = 16 + torch.rand(NUM_OBJECTS, 2, generator=gen) * (size - 32)
    sides = size / 16 + torch.rand(NUM_OBJECTS, 2, generator=gen) * size / 8
    angles = (torch.rand(NUM_OBJECTS, 1, generator=gen) - 0.5) * 3
    objects = torch.cat([centres, sides, angles], 1)
    # five times the proposals, three in four jittered around the objects
    # and the rest anywhere, then an RPN's NMS among them (IoU 0.7, random
    # scores), keeping the wanted number
    raw = 5 * case['num_proposals']
    near = raw * 3 // 4
    which = torch.randint(0, NUM_OBJECTS, (near, ), generator=gen)
    scale = torch.cat(
        [objects[which, 2:4].repeat(1, 2) * 0.3,
         torch.full((near, 1), 0.3)], 1)
    anywhere = torch.cat([
        torch.rand(raw - near, 2, generator=gen) * size,
        size / 32 + torch.rand(raw - near, 2, generator=gen) * size / 4,
        (torch.rand(raw - near, 1, generator=gen) - 0.5) * 3
    ], 1)
    proposals = torch.cat([
        objects[which] + torch.randn(near, 5, generator=gen) * scale, anywhere
    ])
    proposals[:, 2:4] = proposals[:, 2:4].abs() + 1
    _, keep = nms_rotated(proposals, torch.rand(raw, generator=gen), 0.7)
    proposals = proposals[keep[:case['num_proposals']]]
    gt = InstanceData(
        bboxes=RotatedBoxes(objects.to(device)),
        labels=torch.randint(0, 3, (NUM_OBJECTS, ), generator=gen).to(device))
    pred = InstanceData(priors=RotatedBoxes(proposals.to(device)))
    feats = [f.to(device) for f in feats]
    return head, feats, pred, gt, case['num']


def sampler_for(head, num: int, nms_iou_thr):
    from mmdet.registry import TASK_UTILS
    return TASK_UTILS.build(
        dict(
            type='mmohem.OHEMSampler',
            num=num,
            nms_iou_thr=nms_iou_thr,
            pos_fraction=None),
        default_args=dict(context=head))


def measure(name: str, reps: int, device: torch.device) -> dict:
    head, feats, pred, gt, num = build_case(name, device)
    samplers = {
        'nms': sampler_for(head, num, 0.7),
        'no_nms': sampler_for(head, num, None),
    }

    def call(sampler):
        assigned = head.bbox_assigner.assign(pred, gt)
        return sampler.sample(assigned, pred, gt, feats=feats)

    # a warm-up call, whose losses every variant ranks by (the weights do
    # not change between calls)
    call(samplers['nms'])
    record = samplers['nms'].mining_record
    loss, boxes = record[-1].loss, record[-1].priors.tensor
    mined = record.pop()[0]

    variants = {
        'sample_nms':
        lambda: call(samplers['nms']),
        'sample_no_nms':
        lambda: call(samplers['no_nms']),
        'mmcv_nms_rotated_all':
        lambda: nms_rotated(boxes, loss.nan_to_num(-1.), 0.7),
    }
    times = {key: [] for key in variants}
    names = list(variants)
    for rep in range(reps):
        for key in names[rep % 3:] + names[:rep % 3]:
            times[key].append(timed(variants[key], device))
        for sampler in samplers.values():
            sampler.mining_record.pop()
    medians = {key: statistics.median(v) for key, v in times.items()}
    paired = [
        with_nms / without - 1 for with_nms, without in zip(
            times['sample_nms'], times['sample_no_nms'])
    ]
    return dict(
        case=name,
        num_candidates=len(boxes),
        num=num,
        num_examined=int(mined['num_examined']),
        num_kept=int(mined['num_kept']),
        seconds=times,
        median=medians,
        nms_share=medians['sample_nms'] / medians['sample_no_nms'] - 1,
        nms_share_paired=summary(paired))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--reps', type=int, default=7)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--case', nargs='+', default=list(CASES))
    parser.add_argument('--out', help='write the results as JSON here')
    args = parser.parse_args()
    device = torch.device(args.device)
    rows = [measure(name, args.reps, device) for name in args.case]
    lines = [
        '| case | candidates | num | examined | with NMS (s) | without '
        'NMS (s) | NMS adds (medians) | NMS adds, paired (range) | mmcv '
        'nms_rotated over all (s) |', '|---|---|---|---|---|---|---|---|---|'
    ]
    for row in rows:
        m, p = row['median'], row['nms_share_paired']
        lines.append(f"| {row['case']} | {row['num_candidates']} | "
                     f"{row['num']} | {row['num_examined']} | "
                     f"{m['sample_nms']:.4f} | {m['sample_no_nms']:.4f} | "
                     f"{row['nms_share']:+.0%} | {p['median']:+.0%} "
                     f"({p['min']:+.0%} to {p['max']:+.0%}) | "
                     f"{m['mmcv_nms_rotated_all']:.4f} |")
    command = ('benchmarks/rotated_sample.py '
               f'--reps {args.reps} --device {args.device}')
    report(
        dict(command=command, reps=args.reps, rows=rows), '\n'.join(lines),
        args.out, device)


if __name__ == '__main__':
    main()
