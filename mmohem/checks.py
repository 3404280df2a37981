"""Argument checks shared by mmohem's components: a bad config value fails
when the component is built, naming the component, the value and the fix."""
from numbers import Real


def check_int(owner: str,
              name: str,
              value,
              minimum: int,
              hint: str = '') -> None:
    """Raise unless ``value`` is an integer (not a bool) >= ``minimum``.

    Args:
        owner (str): The component, e.g. ``'mmohem.OHEMSampler'``.
        name (str): The argument's name.
        value: The argument's value.
        minimum (int): The smallest value allowed.
        hint (str): Appended to the message (what the value means).

    Raises:
        ValueError: Naming the owner, the argument and the value.
    """
    if isinstance(value, bool) or not isinstance(value, int) \
            or value < minimum:
        raise ValueError(f'{owner}: {name} must be an integer >= {minimum}, '
                         f'got {value!r}. {hint}'.rstrip())


def in_unit_interval(value) -> bool:
    """Whether ``value`` is a real number (not a bool) in (0, 1]."""
    return (isinstance(value, Real) and not isinstance(value, bool)
            and 0 < value <= 1)
