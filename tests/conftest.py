"""Fixtures shared by the test modules.

The helper modules (``helpers.py``: small RoI heads and images;
``tiny_coco.py``: a tiny COCO set and the overrides that shrink a config to
it; ``reference.py``: the selection computed by hand) are imported by the
tests; no test module imports another.
"""
import pytest
from tiny_coco import make_tiny_coco

from mmohem.samplers import head_support


@pytest.fixture(scope='session')
def tiny_coco(tmp_path_factory):
    """The tiny COCO set (4 images, persons and cars, proposals): read-only,
    shared by every test that trains on it."""
    return make_tiny_coco(str(tmp_path_factory.mktemp('tiny_coco')))


@pytest.fixture
def register():
    """Register test-only components for one test; everything registered
    through it is removed afterwards, so no test leaks into another.

    ``register.module(registry, cls)`` adds a class to an mmengine registry;
    ``register.scoring_inputs(head_type, fn)`` declares a head's scoring
    inputs (``mmohem.register_scoring_inputs``).
    """
    undo = []

    class Register:

        @staticmethod
        def module(registry, cls):
            registry.register_module(module=cls)
            # mmengine has no public way to unregister a class
            undo.append(lambda: registry._module_dict.pop(cls.__name__))
            return cls

        @staticmethod
        def scoring_inputs(head_type, fn):
            head_support.register_scoring_inputs(head_type)(fn)
            undo.append(lambda: head_support._SCORING_INPUTS.pop(head_type))
            return fn

    yield Register
    for step in reversed(undo):
        step()


@pytest.fixture(autouse=True)
def keep_default_scope():
    """A test that builds a downstream repo's config (mmrotate's, mmocr's)
    switches mmengine's default scope for the whole process; put the one
    before back, so that the next test in this worker builds from mmdet's
    registries as it expects."""
    from mmengine.registry import DefaultScope, init_default_scope
    current = DefaultScope.get_current_instance()
    before = current.scope_name if current is not None else 'mmdet'
    yield
    current = DefaultScope.get_current_instance()
    if current is None or current.scope_name != before:
        init_default_scope(before)
