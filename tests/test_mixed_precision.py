"""Mixed precision: under bf16 autocast (what AmpOptimWrapper's
optim_context applies) the ranking losses are float32 and the selection is
the full-precision one up to ties."""
import pytest
import torch
from helpers import assign, build_roi_head, random_image
from reference import candidates, reference_losses

NUM = 64


def sample(head, feats, proposals, gt):
    result = head.bbox_sampler.sample(
        assign(proposals, gt), proposals, gt, feats=feats)
    picked = set(result.pos_inds.tolist() + result.neg_inds.tolist())
    return picked, head.bbox_sampler.pop_stats()[0]


def test_bf16_autocast_ranks_in_fp32_and_selects_the_same_up_to_ties():
    head = build_roi_head(num=NUM, nms_iou_thr=None)
    feats, proposals, gt = random_image(seed=21, num_proposals=400)
    full, full_stats = sample(head, feats, proposals.clone(), gt)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        # the head really runs in bf16 under this context
        rois = torch.tensor([[0., 0., 0., 32., 32.]])
        assert head.bbox_head(head.bbox_roi_extractor(
            feats, rois))[0].dtype == torch.bfloat16
        mixed, mixed_stats = sample(head, feats, proposals.clone(), gt)
    assert mixed_stats['loss_all'].dtype == torch.float32
    assert mixed_stats['loss_selected'].dtype == torch.float32

    # the fp32 loss of every candidate, computed by hand
    priors, labels, matched = candidates(proposals, gt,
                                         assign(proposals.clone(), gt))
    loss = reference_losses(head, feats, priors, labels, matched,
                            False).tolist()
    assert len(mixed) == len(full) == NUM
    # bf16 keeps 8 significant bits: RoIs may trade places only where their
    # fp32 losses are that close to the selection's boundary (ties)
    boundary = min(loss[i] for i in full)
    for i in mixed - full:
        assert loss[i] >= boundary * (1 - 2**-6)
    assert len(mixed ^ full) <= 0.1 * NUM
    assert mixed_stats['loss_all'].item() == pytest.approx(
        full_stats['loss_all'].item(), rel=1e-2)
