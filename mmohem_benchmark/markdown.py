"""Write a generated table into a document that has prose around it, and
format its cells."""
import os.path as osp
import statistics
from typing import Sequence


def mean_std(values: Sequence[float]) -> str:
    """``'mean ± std'`` with one decimal; the mean alone for one value."""
    mean = statistics.mean(values)
    if len(values) < 2:
        return f'{mean:.1f}'
    return f'{mean:.1f} ± {statistics.stdev(values):.1f}'


def markers(name: str):
    """The comment lines that bound the generated part ``name``."""
    return f'<!-- {name}:begin -->', f'<!-- {name}:end -->'


def write_markdown(path: str, text: str, name: str = 'sweep') -> None:
    """Write ``text`` to ``path``, or between its ``name`` markers if it has
    them (so a document keeps its prose around the table)."""
    begin, end = markers(name)
    body = text + '\n'
    if osp.isfile(path):
        with open(path) as f:
            old = f.read()
        if begin in old and end in old:
            head, rest = old.split(begin, 1)
            body = f'{head}{begin}\n{text}\n{end}{rest.split(end, 1)[1]}'
    with open(path, 'w') as f:
        f.write(body)
