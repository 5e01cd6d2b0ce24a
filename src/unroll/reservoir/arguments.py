"""Argument checks of the reservoir layer beyond unroll.checks: one ValueError naming the argument."""
import numbers


def non_negative(name: str, value) -> float:
    """value must be a real number >= 0 (not a bool); returned as a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
        raise ValueError(f"{name}: expected a number >= 0, got {value!r}")
    return float(value)


def fraction(name: str, value) -> float:
    """value must be a real number in (0, 1] (not a bool); returned as a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value <= 1:
        raise ValueError(f"{name}: expected a number in (0, 1], got {value!r}")
    return float(value)
