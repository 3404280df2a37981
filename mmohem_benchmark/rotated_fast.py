"""What the shapes benchmark's ``rotated_fast`` regime needs beyond
mmrotate: Rotated Faster R-CNN's head trained on precomputed proposals.

- ``DOTAWithProposals``: mmrotate's ``DOTADataset`` with mmdet's proposal
  file (``proposal_file``, entries named ``<folder>/<image file>``), which
  ``DOTADataset`` (an mmengine ``BaseDataset``) does not read.
- ``BoxedFastRCNN``: mmdet's ``FastRCNN`` whose training proposals reach
  the RoI head as ``HorizontalBoxes``, as an RPN built with
  ``use_box_type=True`` gives them: a rotated head's samplers (mmdet's and
  mmohem's alike) add the rotated ground truth to the candidates converted
  to the proposals' box type, which a plain tensor does not have.

Both are registered in children of mmrotate's registries (scope
``mmohem_benchmark``): the regime's configs build in mmrotate's scope.
"""
import os.path as osp

from mmdet.models.detectors import FastRCNN
from mmdet.structures.bbox import HorizontalBoxes
from mmengine.fileio import load
from mmengine.registry import Registry
from mmrotate.datasets import DOTADataset
from mmrotate.registry import DATASETS as MMROTATE_DATASETS
from mmrotate.registry import MODELS as MMROTATE_MODELS

DATASETS = Registry(
    'dataset',
    parent=MMROTATE_DATASETS,
    scope='mmohem_benchmark',
    locations=['mmohem_benchmark.rotated_fast'])
MODELS = Registry(
    'model',
    parent=MMROTATE_MODELS,
    scope='mmohem_benchmark',
    locations=['mmohem_benchmark.rotated_fast'])


@DATASETS.register_module()
class DOTAWithProposals(DOTADataset):
    """``DOTADataset`` whose images carry their precomputed proposals.

    Args:
        proposal_file (str): mmdet's proposal file, relative to
            ``data_root``.
    """

    def __init__(self, *args, proposal_file: str, **kwargs) -> None:
        self.proposal_file = proposal_file
        super().__init__(*args, **kwargs)

    def load_data_list(self):
        data_list = super().load_data_list()
        path = self.proposal_file
        if not osp.isabs(path):
            path = osp.join(self.data_root or '', path)
        proposals = load(path)
        for info in data_list:
            folder, name = osp.split(info['img_path'])
            info['proposals'] = proposals[osp.join(osp.basename(folder), name)]
        return data_list


@MODELS.register_module()
class BoxedFastRCNN(FastRCNN):
    """``FastRCNN`` whose training proposals are ``HorizontalBoxes``."""

    def loss(self, batch_inputs, batch_data_samples):
        for data_sample in batch_data_samples:
            proposals = data_sample.proposals
            if not isinstance(proposals.bboxes, HorizontalBoxes):
                proposals.bboxes = HorizontalBoxes(proposals.bboxes)
        return super().loss(batch_inputs, batch_data_samples)
