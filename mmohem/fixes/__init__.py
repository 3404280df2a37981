"""Opt-in fixes of the OpenMMLab stack that mmohem's configs rely on.

``import mmohem`` applies none of them. Each is switched on by importing its
module, which is one ``custom_imports`` entry in a config (mmohem's shipped
configs and ``mmohem convert``'s output list the ones they need)::

    custom_imports = dict(
        imports=['mmohem', 'mmohem.fixes.safe_checkpoint'],
        allow_failed_imports=False)

- :mod:`mmohem.fixes.safe_checkpoint`: mmengine loads its own checkpoints
  (``--resume``, ``load_from``, ``test.py``) under torch >= 2.6's
  ``weights_only`` check, with a narrow allowlist.
- :mod:`mmohem.fixes.cpu_distributed`: under torchrun on a machine without
  CUDA, start the gloo process group that mmengine's launcher cannot.
- :mod:`mmohem.fixes.proposal_file_check`: a proposal file that lacks
  images fails with a message that names them, instead of a bare
  ``AssertionError``.
"""
