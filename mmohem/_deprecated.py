"""Old import paths of mmohem 0.1, kept working for one release.

mmohem 0.2 sorted its modules into folders by kind (the package docstring
says which). Each old module path below still imports: it is a stand-in
module in ``sys.modules`` that forwards attribute access to the new home
with a ``DeprecationWarning``. Only names under ``mmohem.`` are added; there
is no import hook. Delete this file (and the ``__getattr__`` lines that use
it) in mmohem 0.3.
"""
import importlib
import sys
import types
import warnings
from typing import Callable

REMOVED_IN = '0.3'
MOVED_MODULES = {
    'mmohem.compat': 'mmohem.version_check',
    'mmohem.safe_checkpoint': 'mmohem.fixes.safe_checkpoint',
    'mmohem.cpu_distributed': 'mmohem.fixes.cpu_distributed',
    'mmohem.proposal_file_check': 'mmohem.fixes.proposal_file_check',
    'mmohem.cli': 'mmohem.tools.cli',
    'mmohem.convert': 'mmohem.tools.convert',
    'mmohem.config_swap': 'mmohem.tools.config_swap',
    'mmohem.config_files': 'mmohem.tools.config_files',
    'mmohem.sweep': 'mmohem_benchmark.sweep',
    'mmohem.synthetic_batch': 'mmohem_benchmark.synthetic_batch',
    'mmohem.markdown': 'mmohem_benchmark.markdown',
    'mmohem.demo': 'mmohem_benchmark',
    'mmohem.demo.run': 'mmohem_benchmark.demo',
    'mmohem.demo.ablation': 'mmohem_benchmark.ablation',
    'mmohem.demo.plots': 'mmohem_benchmark.plots',
    'mmohem.demo.proposals': 'mmohem_benchmark.proposals',
    'mmohem.demo.research_samplers': 'mmohem_benchmark.research_samplers',
    'mmohem.demo.shapes': 'mmohem_benchmark.shapes',
    'mmohem.demo.train_one': 'mmohem_benchmark.train_one',
}
# names that left a module that still exists: module -> {name: new module}
MOVED_NAMES = {
    'mmohem': {
        'init_cpu_process_group': 'mmohem.fixes.cpu_distributed'
    },
    'mmohem.hooks': {
        'ohem_samplers': 'mmohem.samplers'
    },
}


def _moved(old: str, new_module: str, name: str):
    warnings.warn(
        f'{old} moved to {new_module}.{name}; the old path works until '
        f'mmohem {REMOVED_IN}.',
        DeprecationWarning,
        stacklevel=3)
    return getattr(importlib.import_module(new_module), name)


class _MovedModule(types.ModuleType):
    """Stands in for a module that moved; forwards to its new home."""

    def __init__(self, old: str, new: str) -> None:
        super().__init__(old, f'Moved to {new}.')
        self._new = new

    def __getattr__(self, name: str):
        if name.startswith('__'):  # import machinery probing the module
            raise AttributeError(name)
        full = f'{self.__name__}.{name}'
        if full in MOVED_MODULES:
            return sys.modules[full]
        return _moved(full, self._new, name)


def module_getattr(module: str) -> Callable[[str], object]:
    """A module-level ``__getattr__`` serving ``module``'s moved
    submodules and names."""

    def __getattr__(name: str):
        full = f'{module}.{name}'
        if full in MOVED_MODULES:
            return sys.modules[full]
        if name in MOVED_NAMES.get(module, {}):
            return _moved(full, MOVED_NAMES[module][name], name)
        raise AttributeError(f'module {module!r} has no attribute {name!r}')

    return __getattr__


for _old, _new in MOVED_MODULES.items():
    sys.modules.setdefault(_old, _MovedModule(_old, _new))
