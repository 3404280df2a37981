"""What the sampler mined, image by image, kept until a hook reads it.

The sampler appends one entry per ``sample()`` call: references to tensors
it made anyway (the losses, the selection, the candidates), no device work.
The statistics are computed only when a hook asks for them, so a run that
logs none pays nothing for them.
"""
from collections import deque
from typing import Deque, Dict, List, NamedTuple, Optional, Union

import torch
from mmdet.structures.bbox import BaseBoxes
from torch import Tensor

from .hard_selection import HardSelection

# Images kept between two reads (a hook that never reads loses the oldest).
MAX_IMAGES = 256
# Statistics of the candidate pool: "far" background overlaps no object by
# FAR_IOU or more (Fast R-CNN's bg_lo); an "easy" RoI's loss is below
# EASY_LOSS (about 90 % probability on its class, a near-exact box).
FAR_IOU = 0.1
EASY_LOSS = 0.1


class MinedImage(NamedTuple):
    """What one ``sample()`` call leaves for its mining statistics.

    Attributes:
        loss (Tensor): Every candidate's ranking loss (NaN where it was not
            scored).
        selection (HardSelection): What was selected.
        priors (Tensor | BaseBoxes): The candidates.
        groups (Tensor): The candidates' groups (foreground classes,
            background ``num_classes``, ignored above it).
        max_overlaps (Tensor): Each candidate's IoU with its closest object.
    """
    loss: Tensor
    selection: HardSelection
    priors: Union[Tensor, BaseBoxes]
    groups: Tensor
    max_overlaps: Tensor

    def stats(self) -> Dict[str, Tensor]:
        """This image's mining statistics, as device tensors (no sync);
        the keys are described in :meth:`MiningRecord.pop`."""
        loss, selection = self.loss, self.selection
        num_classes = selection.num_classes
        valid = self.groups <= num_classes
        selected = torch.cat([selection.pos_inds, selection.neg_inds])
        finite = torch.isfinite(loss) & valid
        num_selected = selected.numel()
        num_valid = valid.sum().clamp(min=1)
        return dict(
            num_candidates=valid.sum(),
            # what there is to mine: candidates far from every object, and
            # candidates the head already gets right
            far_bg_fraction=(valid & (self.max_overlaps < FAR_IOU)).sum() /
            num_valid,
            easy_fraction=(finite & (loss < EASY_LOSS)).sum() / num_valid,
            num_examined=selection.num_examined,
            num_kept=selection.num_kept,
            # new_full fills on the device; new_tensor would copy a host
            # number over, a sync on CUDA
            num_selected=loss.new_full((), num_selected),
            fg_fraction=loss.new_full(
                (),
                selection.pos_inds.numel() / max(num_selected, 1)),
            loss_selected=_masked_mean(loss[selected], finite[selected]),
            loss_all=_masked_mean(loss, finite),
            num_nonfinite=(valid & ~finite).sum(),
            pos_boxes=self.priors[selection.pos_inds],
            neg_boxes=self.priors[selection.neg_inds])


class MiningRecord:
    """The images a sampler mined since a hook last read them, at most
    ``maxlen`` (the oldest are dropped).

    Args:
        maxlen (int): Most images kept. Defaults to :data:`MAX_IMAGES`.
    """

    def __init__(self, maxlen: int = MAX_IMAGES) -> None:
        self._images: Deque[MinedImage] = deque(maxlen=maxlen)

    def add(self, image: MinedImage) -> None:
        """Keep one image's entry (the sampler calls this)."""
        self._images.append(image)

    def __len__(self) -> int:
        return len(self._images)

    def __getitem__(self, index: int) -> MinedImage:
        return self._images[index]

    def peek(self, last: Optional[int] = None) -> List[Dict[str, Tensor]]:
        """The statistics of the images kept, without forgetting them.

        Args:
            last (int, optional): Only the ``last`` most recent images.

        Returns:
            list[dict[str, Tensor]]: As :meth:`pop`.
        """
        images = list(self._images)
        if last is not None:
            images = images[max(len(images) - last, 0):] if last else []
        return [image.stats() for image in images]

    def pop(self) -> List[Dict[str, Tensor]]:
        """The statistics of the images kept, which are then forgotten.

        Returns:
            list[dict[str, Tensor]]: One dict per image, oldest first, with
            0-dim tensors on the features' device: ``num_candidates``,
            ``far_bg_fraction`` (candidates whose IoU with every object is
            below 0.1) and ``easy_fraction`` (candidates whose loss is below
            0.1), both shares of the candidates; ``num_examined`` (candidates
            NMS examined, hardest first: all of them but those whose box is not
            finite, unless it stopped once the selection was settled, as it
            does for rotated RoIs on the CPU) and ``num_kept`` (those of them
            NMS left); ``num_selected``, ``fg_fraction`` (of the selection),
            ``loss_selected`` and ``loss_all`` (mean finite loss of the
            selection and of all candidates) and ``num_nonfinite`` (candidates
            whose loss, or box, is NaN or infinite); and the selected RoIs,
            hardest first, as ``pos_boxes`` and ``neg_boxes``, of the
            candidates' box type (e.g. mmrotate's ``RotatedBoxes``; a tensor
            for plain tensors).
        """
        stats = self.peek()
        self._images.clear()
        return stats


def _masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    total = torch.where(mask, values, values.new_zeros(())).sum()
    return total / mask.sum().clamp(min=1)
