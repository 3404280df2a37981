"""A clear error for a proposal file that lacks some of a dataset's images.

Fast R-CNN reads precomputed proposals from a file keyed by
``'<image folder>/<file name>'`` (mmdet's ``BaseDetDataset.load_proposals``).
When an image has no entry, mmdet stops with a bare ``AssertionError`` or
``KeyError``. mmohem wraps that method, once, to name the file, the images
without an entry and the fix; a complete file loads exactly as before.

Switched on by importing this module (``custom_imports`` entry
``mmohem.fixes.proposal_file_check``); :func:`install` does the same from
code.
"""
import functools
import os.path as osp

from mmdet.datasets.base_det_dataset import BaseDetDataset
from mmengine.fileio import load


def _proposal_key(img_path: str) -> str:
    # the key mmdet looks up (see BaseDetDataset.load_proposals)
    return osp.join(
        osp.basename(osp.dirname(img_path)), osp.basename(img_path))


def _explain(dataset, error: Exception) -> ValueError:
    entries = load(dataset.proposal_file, backend_args=dataset.backend_args)
    missing = [
        key for key in (_proposal_key(info['img_path'])
                        for info in dataset.data_list) if key not in entries
    ]
    return ValueError(
        f'The proposal file {dataset.proposal_file} has {len(entries)} '
        f'entries for {len(dataset.data_list)} images, and no entry for '
        f'{len(missing)} of them (e.g. {missing[:3]}). Write one entry per '
        "image, keyed '<image folder>/<file name>'; for an image without "
        "proposals use dict(bboxes=np.zeros((0, 4), np.float32)): it then "
        f'trains on its ground-truth boxes alone. ({type(error).__name__}: '
        f'{error})')


def install() -> None:
    """Wrap ``BaseDetDataset.load_proposals`` (idempotent)."""
    original = BaseDetDataset.load_proposals
    if getattr(original, '_mmohem_checked', False):
        return

    @functools.wraps(original)
    def load_proposals(self) -> None:
        try:
            original(self)
        except (AssertionError, KeyError) as error:
            raise _explain(self, error) from error

    load_proposals._mmohem_checked = True
    BaseDetDataset.load_proposals = load_proposals


install()
