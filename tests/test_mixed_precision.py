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
    return picked, head.bbox_sampler.mining_record.pop()[0]


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


@pytest.mark.parametrize('old_torch', [False, True])
def test_losses_are_computed_with_autocast_off_only_when_it_is_on(
        monkeypatch, old_torch):
    """Autocast is switched off around the ranking losses when it is on,
    and not entered at all when it is off (entering it costs host time);
    with torch < 2.4's device-less ``is_autocast_enabled`` too."""
    from mmohem.samplers.roi_loss import _autocast_off
    new_api = torch.is_autocast_enabled

    def is_autocast_enabled():  # torch < 2.4: CUDA only, no argument
        return new_api('cuda')

    def decide(device_type='cpu'):
        # only this call sees the old API: torch.autocast itself needs
        # the new one
        if old_torch:
            monkeypatch.setattr(torch, 'is_autocast_enabled',
                                is_autocast_enabled)
        try:
            return _autocast_off(device_type)
        finally:
            monkeypatch.undo()

    assert not isinstance(decide(), torch.autocast)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        context = decide()
        assert isinstance(context, torch.autocast)
        with context:
            assert not torch.is_autocast_enabled('cpu')
            product = torch.ones(2, 2) @ torch.ones(2, 2)
        assert product.dtype == torch.float32
    if old_torch:
        # a device type the old API cannot ask about: switched off anyway
        assert isinstance(decide('xpu'), torch.autocast)
