"""Argument checks shared across unroll: one clear ValueError/TypeError naming what is wrong."""
import numbers

import torch


def positive_int(name: str, value) -> int:
    """value must be an int >= 1 (not a bool); returned unchanged."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}: expected a positive int, got {value!r}")
    return value


def int_at_least(name: str, value, minimum: int) -> int:
    """value must be an int >= minimum (not a bool); returned unchanged."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value!r}")
    return value


def positive_number(name: str, value) -> float:
    """value must be a real number > 0 (not a bool); returned as a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a positive number, got {type(value).__name__}")
    if not value > 0:
        raise ValueError(f"{name}: expected a positive number, got {value!r}")
    return float(value)


def sequence(x, name: str, features: int, batch_first: bool) -> None:
    """x must be a finite real floating tensor shaped (T, B, features) (or (B, T, features))."""
    layout = "(B, T, F)" if batch_first else "(T, B, F)"
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor shaped {layout}, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name}: expected a real floating-point tensor, got dtype {x.dtype}")
    if x.dim() != 3:
        raise ValueError(f"{name}: expected 3 dimensions {layout} with F={features}, "
                         f"got shape {tuple(x.shape)}")
    if x.shape[2] != features:
        raise ValueError(f"{name}: expected {features} features in the last dimension {layout}, "
                         f"got shape {tuple(x.shape)}")
    if 0 in x.shape[:2]:
        raise ValueError(f"{name}: expected at least one step and one sequence, got shape {tuple(x.shape)}")
    finite(x, name)


def matches_parameters(x: torch.Tensor, name: str, weight: torch.Tensor) -> None:
    """x must have the dtype and device of the layer's parameters."""
    if x.dtype != weight.dtype or x.device != weight.device:
        raise TypeError(f"{name}: expected dtype {weight.dtype} on {weight.device} like the layer's "
                        f"parameters, got {x.dtype} on {x.device}")


def finite(x: torch.Tensor, name: str) -> None:
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name}: contains NaN or inf")


def lengths(lengths, steps: int, batch: int, device) -> torch.Tensor:
    """lengths must be a (batch,) integer tensor with values in 1..steps; returned on ``device``."""
    if not isinstance(lengths, torch.Tensor):
        lengths = torch.as_tensor(lengths)
    if lengths.is_floating_point() or lengths.is_complex() or lengths.dtype == torch.bool:
        raise TypeError(f"lengths: expected an integer tensor, got dtype {lengths.dtype}")
    if tuple(lengths.shape) != (batch,):
        raise ValueError(f"lengths: expected shape ({batch},) (one per sequence), got {tuple(lengths.shape)}")
    low, high = int(lengths.min()), int(lengths.max())
    if low < 1 or high > steps:
        raise ValueError(f"lengths: expected values in 1..{steps} (the number of steps), "
                         f"got values in {low}..{high}")
    return lengths.to(device)


def state(s, name: str, shape: tuple[int, ...], like: torch.Tensor) -> None:
    """A state tensor must have ``shape`` and the dtype and device of ``like``."""
    if not isinstance(s, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor shaped {shape}, got {type(s).__name__}")
    if tuple(s.shape) != shape:
        raise ValueError(f"{name}: expected shape {shape}, got {tuple(s.shape)}")
    if s.dtype != like.dtype or s.device != like.device:
        raise TypeError(f"{name}: expected dtype {like.dtype} on {like.device}, "
                        f"got {s.dtype} on {s.device}")
    finite(s, name)
