"""Build a config's model in the config's own registry scope.

A downstream repo's config (mmrotate, mmocr) names its own components and
sets ``default_scope`` to its package; building it in mmdet's scope fails
on the first rotated head or text-detector wrapper. This is what
``tools/train.py`` of each repo does before its Runner builds the model.
"""
import importlib

from mmengine.config import Config
from torch import nn


def enter_scope(scope: str) -> None:
    """Register ``scope``'s modules (and mmdet's) and make it the default.

    Args:
        scope (str): A package with OpenMMLab registries (``mmdet``,
            ``mmrotate``, ``mmocr``, ...).

    Raises:
        ImportError: If ``scope`` is not installed, naming it.
    """
    from mmengine.registry import init_default_scope
    for package in dict.fromkeys(('mmdet', scope)):
        try:
            utils = importlib.import_module(f'{package}.utils')
        except ImportError as e:
            raise ImportError(
                f'the config\'s default_scope is {package!r}, which is not '
                f'installed here ({e})') from e
        register = getattr(utils, 'register_all_modules', None)
        if register is not None:
            register(init_default_scope=False)
    init_default_scope(scope)


def build_model(cfg: Config) -> nn.Module:
    """``cfg.model``, built in ``cfg.default_scope`` (mmdet if unset).

    Args:
        cfg (Config): A full config.

    Returns:
        nn.Module: The model, not initialised (no checkpoint is loaded).
    """
    from mmengine.registry import MODELS
    enter_scope(cfg.get('default_scope') or 'mmdet')
    return MODELS.build(cfg.model)
