"""Checks that the installed OpenMMLab stack is one mmohem supports.

mmcv is normally installed outside pip's resolver (``mim install`` or a
source build), so the ranges in ``pyproject.toml`` are not enough: a mismatch
would otherwise surface as an obscure error deep inside mmdet. The versions
are read from the installed distributions' metadata, without importing mmcv
or mmdet: importing mmdet with an mmcv it does not accept stops at mmdet's
own assertion before mmohem could say anything. They are compared with
mmengine's ``digit_version``, as that assertion compares them.

The supported range is every MMDetection 3.x release with the mmengine
releases mmdet 3.x accepts, and with the mmcv releases that the installed
mmdet accepts itself: its ``mmdet/__init__.py`` assigns
``mmcv_minimum_version`` and ``mmcv_maximum_version`` and asserts
``minimum <= mmcv < maximum``. Those two bounds are read from that file
(parsed, not run), so an mmdet whose bound was raised to take a newer mmcv
is checked against its raised bound. Only when the file cannot be read are
the bounds taken from :data:`MMCV_FOR_MMDET`, the releases' own values, and
the message says so.

Two stacks are tested (:data:`TESTED_STACKS`, docs/installation.md); any
other stack in the supported range is accepted with one line in the log
(logger ``mmohem``) that names them.
"""
import ast
import importlib.util
import logging
import os.path as osp
from importlib import metadata
from typing import Dict, NamedTuple, Optional, Tuple

try:
    from mmengine.utils import digit_version
except ImportError:  # check_versions names the missing mmengine, and
    # compares the other packages in PEP 440's order
    from packaging.version import Version as digit_version
# what digit_version raises for a string that is not a version (packaging's
# InvalidVersion is a ValueError; mmengine's asserts on some)
NOT_A_VERSION = (ValueError, AssertionError)

Range = Tuple[str, str]  # (lowest supported, first unsupported)

# package: its widest supported range (the one pip's metadata states): every
# mmdet 3.x, the mmengine mmdet 3.x requires, every mmcv some supported mmdet
# release accepts (the range when mmdet is missing or unsupported itself)
SUPPORTED: Dict[str, Range] = {
    'mmengine': ('0.7.1', '1.0.0'),
    'mmcv': ('2.0.0rc4', '2.2.0'),
    'mmdet': ('3.0.0', '3.4.0'),
}
# the mmcv each mmdet release accepts, from its own assertion, for an mmdet
# whose __init__.py cannot be read: (mmdet range, mmcv range)
MMCV_FOR_MMDET: Tuple[Tuple[Range, Range], ...] = (
    (('3.0.0', '3.2.0'), ('2.0.0rc4', '2.1.0')),
    (('3.2.0', '3.4.0'), ('2.0.0rc4', '2.2.0')),
)
# the stacks the test command runs on (tools/run_tests.sh)
TESTED_STACKS: Tuple[Dict[str, str], ...] = (
    dict(mmdet='3.3.0', mmcv='2.1.0', mmengine='0.10.7'),
    dict(mmdet='3.1.0', mmcv='2.0.1', mmengine='0.10.7'),
)
# the names mmdet 3.x's __init__.py gives its mmcv bounds
MMCV_BOUND_NAMES = ('mmcv_minimum_version', 'mmcv_maximum_version')

# the README's commands, word for word (tests/test_version_check.py)
INSTALL_HINT = (
    'To install a tested stack on a GPU machine, with torch 2.1.x: '
    '`pip install -U openmim`, then '
    '`mim install "mmengine>=0.10,<0.11" "mmcv==2.1.0" "mmdet>=3.3,<3.4"`, '
    'then `pip install -e .` in mmohem\'s clone (README, "Install on a GPU '
    'machine"; docs/installation.md lists the torch versions with prebuilt '
    'mmcv wheels). On a CPU machine, from mmohem\'s clone: '
    '`bash tools/bootstrap.sh` (mmdet 3.3) or '
    '`bash tools/bootstrap.sh downstream` (mmdet 3.1 with mmrotate and '
    'mmocr).')

logger = logging.getLogger('mmohem')


def _distribution(package: str) -> Optional[metadata.Distribution]:
    """The installed distribution of ``package``, or None."""
    try:
        return metadata.distribution(package)
    except metadata.PackageNotFoundError:
        return None


def installed_version(package: str) -> Optional[str]:
    """The installed version of ``package`` from its metadata, or None if
    it is not installed."""
    dist = _distribution(package)
    return None if dist is None else dist.version


def _within(version: str, low: Optional[str], high: Optional[str]) -> bool:
    """``low <= version < high`` as mmdet's assertion decides it (None: no
    bound); False for a version that cannot be parsed."""
    try:
        key = digit_version(version)
    except NOT_A_VERSION:
        return False
    return ((low is None or digit_version(low) <= key)
            and (high is None or key < digit_version(high)))


def _requirement(package: str, low: Optional[str], high: Optional[str]) -> str:
    bounds = ([f'>={low}'] if low else []) + ([f'<{high}'] if high else [])
    return package + ','.join(bounds) if bounds else f'any {package}'


def mmcv_range(mmdet_version: str) -> Range:
    """The mmcv releases that the mmdet release ``mmdet_version`` accepts as
    published (all of ``SUPPORTED['mmcv']`` for an mmdet outside
    ``SUPPORTED['mmdet']``); the fallback of :func:`mmdet_mmcv_bounds`."""
    for mmdet_bounds, mmcv_bounds in MMCV_FOR_MMDET:
        if _within(mmdet_version, *mmdet_bounds):
            return mmcv_bounds
    return SUPPORTED['mmcv']


def read_mmcv_bounds(source: str) -> Tuple[Optional[str], Optional[str]]:
    """The mmcv bounds that an mmdet ``__init__.py`` enforces.

    Args:
        source (str): The file's text. It is parsed, never run.

    Returns:
        tuple: ``(low, high)``: the values of its top-level string
        assignments to ``mmcv_minimum_version`` and ``mmcv_maximum_version``;
        a bound that no top-level ``assert`` uses is not enforced and is
        None.

    Raises:
        ValueError: If the file does not parse, does not assign both names
            a string, or assigns one something that is not a version.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as e:
        raise ValueError(
            f'it does not parse ({e.msg}, line {e.lineno})') from None
    values: Dict[str, str] = {}
    asserted = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(
                node.value, ast.Constant) and isinstance(
                    node.value.value, str):
            values.update((target.id, node.value.value)
                          for target in node.targets
                          if isinstance(target, ast.Name))
        elif isinstance(node, ast.Assert):
            asserted.update(
                n.id for n in ast.walk(node.test) if isinstance(n, ast.Name))
    missing = [name for name in MMCV_BOUND_NAMES if name not in values]
    if missing:
        raise ValueError(f"it assigns no string to {' or '.join(missing)}")
    for name in MMCV_BOUND_NAMES:
        try:
            digit_version(values[name])
        except NOT_A_VERSION:
            raise ValueError(
                f'its {name} {values[name]!r} is not a version') from None
    return tuple(values[name] if name in asserted else None
                 for name in MMCV_BOUND_NAMES)


def _mmdet_init_file() -> Optional[str]:
    """mmdet's ``__init__.py``, without importing mmdet: the installed
    distribution's file, or, for an install whose files live elsewhere
    (``pip install -e``), the one the import system would load."""
    dist = _distribution('mmdet')
    if dist is not None:
        path = str(dist.locate_file('mmdet/__init__.py'))
        if osp.isfile(path):
            return path
    try:
        spec = importlib.util.find_spec('mmdet')
    except (ImportError, ValueError):
        return None
    origin = spec and spec.origin
    return origin if origin and osp.isfile(origin) else None


class MmcvBounds(NamedTuple):
    """The mmcv releases the installed mmdet accepts, and where they come
    from (for the message)."""
    low: Optional[str]
    high: Optional[str]
    source: str


def mmdet_mmcv_bounds(mmdet_version: str) -> MmcvBounds:
    """The mmcv bounds of the installed mmdet: read from its own
    ``__init__.py``, or, if that cannot be read, the bounds its release
    (``mmdet_version``) was published with, saying why."""
    path = _mmdet_init_file()
    if path is None:
        why = 'its mmdet/__init__.py was not found'
    else:
        try:
            with open(path, encoding='utf-8') as f:
                return MmcvBounds(*read_mmcv_bounds(f.read()),
                                  f'read from {path}')
        except (OSError, UnicodeDecodeError, ValueError) as e:
            why = f'{path} could not be read: {e}'
    return MmcvBounds(*mmcv_range(mmdet_version),
                      f'as mmdet {mmdet_version} was released; {why}')


def check_versions() -> Dict[str, str]:
    """Return the installed versions, or raise if any is unsupported.

    A stack within the supported range that is not one of
    :data:`TESTED_STACKS` is accepted with one warning line from the
    ``mmohem`` logger.

    Returns:
        dict[str, str]: Installed version of each package in
        :data:`SUPPORTED`.

    Raises:
        ImportError: Naming every missing or unsupported package, its
            installed version and the range, and how to install a tested
            stack.
    """
    installed = {package: installed_version(package) for package in SUPPORTED}
    mmdet = installed['mmdet']
    problems = []
    for package, version in installed.items():
        (low, high), who, where = SUPPORTED[package], 'mmohem supports', ''
        if package == 'mmcv' and mmdet is not None and _within(
                mmdet, *SUPPORTED['mmdet']):
            low, high, source = mmdet_mmcv_bounds(mmdet)
            who, where = f'mmdet {mmdet} (installed) accepts', f' ({source})'
        wanted = f'{who} {_requirement(package, low, high)}{where}'
        if version is None:
            problems.append(f'{package} is not installed ({wanted})')
        elif not _within(version, low, high):
            problems.append(f'{package} {version} is installed but {wanted}')
    if problems:
        raise ImportError('; '.join(problems) + '. ' + INSTALL_HINT)
    if not any(
            all(
                digit_version(installed[package]) == digit_version(version)
                for package, version in stack.items())
            for stack in TESTED_STACKS):
        tested = '; '.join(' + '.join(f'{package} {version}'
                                      for package, version in stack.items())
                           for stack in TESTED_STACKS)
        logger.warning(
            f'mmohem: mmdet {mmdet}, mmcv {installed["mmcv"]} and mmengine '
            f'{installed["mmengine"]} are accepted but are not a tested '
            f'stack (tested: {tested}).')
    return installed
