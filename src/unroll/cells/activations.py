"""Unit activations, each with its derivative written in terms of its output y = f(a).

Writing f' through y is what BPTT needs: the forward pass keeps y, the backward pass never
recomputes a. Codes index ``NAMES`` and are what the fused kernels receive.
"""
import torch

NAMES = ("tanh", "logistic", "linear", "relu")


def code(name: str) -> int:
    """The integer code of an activation name (an index into ``NAMES``)."""
    if name not in NAMES:
        raise ValueError(f"activation: expected one of {', '.join(NAMES)}, got {name!r}")
    return NAMES.index(name)


def apply(a: torch.Tensor, name: str) -> torch.Tensor:
    """f(a) for one activation name."""
    if name == "tanh":
        return torch.tanh(a)
    if name == "logistic":
        return torch.sigmoid(a)
    if name == "relu":
        return torch.relu(a)
    return a


def derivative(y: torch.Tensor, name: str) -> torch.Tensor:
    """f'(a) expressed through y = f(a)."""
    if name == "tanh":
        return 1 - y * y
    if name == "logistic":
        return y * (1 - y)
    if name == "relu":
        return (y > 0).to(y.dtype)
    return torch.ones_like(y)


def apply_per_unit(a: torch.Tensor, names: tuple[str, ...]) -> torch.Tensor:
    """f_j(a_j) for unit j with activation names[j]; a: (..., N)."""
    kinds = sorted(set(names))
    if len(kinds) == 1:
        return apply(a, kinds[0])
    y = a
    for kind in kinds:
        chosen = torch.tensor([n == kind for n in names], device=a.device)
        y = torch.where(chosen, apply(a, kind), y)
    return y


def derivative_per_unit(y: torch.Tensor, names: tuple[str, ...]) -> torch.Tensor:
    """f_j'(a_j) through y_j for unit j with activation names[j]; y: (..., N)."""
    kinds = sorted(set(names))
    if len(kinds) == 1:
        return derivative(y, kinds[0])
    d = torch.zeros_like(y)
    for kind in kinds:
        chosen = torch.tensor([n == kind for n in names], device=y.device)
        d = torch.where(chosen, derivative(y, kind), d)
    return d
