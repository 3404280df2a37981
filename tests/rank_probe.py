"""A hook for the distributed test: every rank writes its losses to a file.

Imported by the training processes through ``custom_imports`` (the test puts
this folder on PYTHONPATH).
"""
import json
import os.path as osp

from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class RankLossProbe(Hook):

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None):
        path = osp.join(runner.work_dir, f'rank{get_rank()}_losses.jsonl')
        with open(path, 'a') as f:
            f.write(json.dumps({k: float(v) for k, v in outputs.items()}))
            f.write('\n')
