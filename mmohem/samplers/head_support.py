"""Which RoI heads can host mmohem's sampler, and what their scoring pass
needs besides the image features.

The scoring pass must see what the training forward sees. Most heads'
``_bbox_forward`` takes the image features and the RoIs only; some take more
(HTC's semantic features, SCNet's semantic and global-context features),
which their ``loss()`` computes before sampling and never hands to the
sampler. For those, a *scoring-inputs* function computes the same inputs
from the image's features inside the read-only pass. A custom head whose
``_bbox_forward`` takes extra inputs registers one::

    from mmohem import register_scoring_inputs

    @register_scoring_inputs(MyRoIHead)
    def my_inputs(head, feats):
        return dict(context_feat=head.context_branch(feats))

Heads whose training does not fit OHEM at all are refused when the sampler
is built, with the reason and what to use instead.
"""
import inspect
from typing import Callable, Dict, Optional, Sequence

from mmdet.models import losses as mmdet_losses
from mmdet.models.roi_heads import (HybridTaskCascadeRoIHead,
                                    MultiInstanceRoIHead, PISARoIHead,
                                    SCNetRoIHead, SparseRoIHead)
from torch import Tensor, nn


class HeadNotSupportedError(TypeError):
    """The RoI head cannot host mmohem's sampler; the message says why and
    what to use instead. Raised when the model is built."""


ScoringInputs = Callable[[nn.Module, Sequence[Tensor]], Dict[str, Tensor]]
_SCORING_INPUTS: Dict[type, ScoringInputs] = {}

# (head type, why it cannot host an OHEM sampler and what to use instead)
UNSUPPORTED_HEADS = (
    (PISARoIHead,
     'PISA (Cao et al.) re-weights the RoIs of its own ScoreHLRSampler, and '
     'PISARoIHead.loss needs that sampler\'s label weights. Keep '
     "type='ScoreHLRSampler' for PISA, or use mmohem.OHEMSampler with a "
     'StandardRoIHead (e.g. the Faster R-CNN config that PISA extends).'),
    (MultiInstanceRoIHead,
     'it assigns several ground truths to each RoI (CrowdDet) and calls its '
     'sampler without the image features, so the RoIs cannot be scored '
     'with one loss each. Keep its RandomSampler.'),
    (SparseRoIHead,
     'Sparse R-CNN and QueryInst learn a fixed set of queries matched one '
     'to one with the ground truth (set prediction), so there are no '
     'candidate RoIs to mine. Keep its PseudoSampler.'),
)


def register_scoring_inputs(head_type: type) -> Callable:
    """Declare how the scoring pass computes ``head_type``'s extra
    ``_bbox_forward`` inputs.

    Args:
        head_type (type): An RoI head class. The function serves its
            subclasses too, unless they redefine ``_bbox_forward``.

    Returns:
        Callable: A decorator for ``fn(head, feats) -> dict``: ``feats`` are
        one image's multi-level features (batch dimension 1), the result is
        passed to ``head._bbox_forward`` as keyword arguments. It runs
        inside the read-only pass (eval mode, no gradients).
    """

    def register(fn: ScoringInputs) -> ScoringInputs:
        _SCORING_INPUTS[head_type] = fn
        return fn

    return register


def check_head(context: nn.Module) -> Optional[ScoringInputs]:
    """Refuse heads that cannot host the sampler; find the scoring inputs.

    Args:
        context (nn.Module): The RoI head building the sampler.

    Returns:
        Callable, optional: The scoring-inputs function, or None when
        ``_bbox_forward`` needs nothing beyond features and RoIs.

    Raises:
        HeadNotSupportedError: For a head listed in
            :data:`UNSUPPORTED_HEADS`, and for a head whose ``_bbox_forward``
            takes inputs that no registered function computes (scoring
            without them would rank RoIs on other features than they are
            trained on).
    """
    name = type(context).__name__
    for head_type, why in UNSUPPORTED_HEADS:
        if isinstance(context, head_type):
            raise HeadNotSupportedError(
                f'mmohem.OHEMSampler cannot be used in {name}: {why}')
    owner = next(
        cls for cls in type(context).__mro__ if '_bbox_forward' in vars(cls))
    registered = next(
        (cls for cls in type(context).__mro__ if cls in _SCORING_INPUTS), None)
    if registered is not None and issubclass(registered, owner):
        return _SCORING_INPUTS[registered]
    extra = _extra_inputs(context)
    if extra:
        raise HeadNotSupportedError(
            f'mmohem.OHEMSampler: {owner.__name__}._bbox_forward (used by '
            f"{name}) takes {', '.join(extra)} besides the features and the "
            'RoIs, and mmohem does not know how to compute them; scoring '
            'without them would rank the RoIs on other features than the '
            'training forward uses. Register a function that computes them '
            'with mmohem.register_scoring_inputs(' + owner.__name__ + ') '
            '(docs/compatibility.md shows how).')
    return None


def _extra_inputs(context: nn.Module) -> list:
    """Names of ``_bbox_forward`` parameters after (stage,) features, RoIs."""
    params = [
        p
        for p in inspect.signature(context._bbox_forward).parameters.values()
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    # cascades pass the stage first
    skip = 3 if hasattr(context, 'num_stages') else 2
    return [p.name for p in params[skip:]]


@register_scoring_inputs(HybridTaskCascadeRoIHead)
def htc_inputs(head: HybridTaskCascadeRoIHead,
               feats: Sequence[Tensor]) -> Dict[str, Tensor]:
    """HTC adds the semantic branch's features to each RoI's features."""
    if head.with_semantic and 'bbox' in head.semantic_fusion:
        return dict(semantic_feat=head.semantic_head(feats)[1])
    return {}


@register_scoring_inputs(SCNetRoIHead)
def scnet_inputs(head: SCNetRoIHead,
                 feats: Sequence[Tensor]) -> Dict[str, Tensor]:
    """SCNet adds the semantic features and fuses the global context."""
    inputs = {}
    if head.with_semantic:
        inputs['semantic_feat'] = head.semantic_head(feats)[1]
    if head.with_glbctx:
        inputs['glbctx_feat'] = head.glbctx_head(feats)[1]
    return inputs


def why_no_box_loss(bbox_head: nn.Module) -> Optional[str]:
    """Why the head's box loss cannot be scored per RoI, or None if it can.

    Args:
        bbox_head (nn.Module): The bbox head of the RoI head (this stage's).

    Returns:
        str, optional: None when the head regresses deltas with a
        ``loss_bbox`` module and a ``bbox_coder``; else the reason.
    """
    name = type(bbox_head).__name__
    if not getattr(bbox_head, 'with_reg', True):
        return f'{name} predicts no box deltas (with_reg=False)'
    if not isinstance(getattr(bbox_head, 'loss_bbox', None), nn.Module) \
            or getattr(bbox_head, 'bbox_coder', None) is None:
        return (f'{name} has no single box-regression loss (loss_bbox) and '
                'box coder that mmohem can evaluate per RoI')
    return None


# classification losses mmdet ships whose unreduced output is not a loss
# per RoI against its class label, and why
UNSCORABLE_CLS_LOSSES = (
    ('EQLV2Loss', 'sums over the whole batch whatever reduction it is asked '
     'for (one value for all RoIs)'),
    ('GHMC', "weighs each RoI by the batch's gradient density and needs "
     'label weights'),
    ('VarifocalLoss', 'takes IoU-aware soft targets, not class labels'),
    ('QualityFocalLoss', 'takes (label, quality) targets, not class labels'),
    ('DistributionFocalLoss', 'is a box-distribution loss'),
)


def why_no_cls_loss(bbox_head: nn.Module) -> Optional[str]:
    """Why the head's classification loss cannot be scored per RoI, or
    None if it can.

    Args:
        bbox_head (nn.Module): The bbox head of the RoI head (this stage's).

    Returns:
        str, optional: None for a ``loss_cls`` module that gives a loss per
        RoI (CrossEntropyLoss, FocalLoss, SeesawLoss and the like); else the
        reason.
    """
    loss = getattr(bbox_head, 'loss_cls', None)
    name = type(bbox_head).__name__
    if not isinstance(loss, nn.Module):
        return f'{name} has no classification loss module (loss_cls)'
    for loss_name, why in UNSCORABLE_CLS_LOSSES:
        loss_type = getattr(mmdet_losses, loss_name, None)
        if loss_type is not None and isinstance(loss, loss_type):
            return f'its loss_cls, {loss_name}, {why}'
    return None


def unscored_terms(bbox_head: nn.Module, scored: Sequence[str]) -> list:
    """The head's loss modules (``loss_*`` children) that the ranking loss
    leaves out, e.g. Gliding Vertex's ``loss_fix`` and ``loss_ratio``.

    Args:
        bbox_head (nn.Module): The bbox head (this stage's).
        scored (Sequence[str]): The terms the sampler scores.

    Returns:
        list[str]: Their names, in module order.
    """
    return [
        name for name, _ in bbox_head.named_children()
        if name.startswith('loss_') and name not in scored
    ]
