"""Gradient health: clipping that refuses NaN/inf, per-step gradient norms, the sequential Jacobian.

``clip_grad_norm`` is Algorithm 1 of Pascanu, Mikolov & Bengio (2013); ``gradient_norms_through_time``
shows vanishing or exploding gradients step by step; ``sequential_jacobian`` is Graves' input
sensitivity d y_{t_out} / d x_t; ``vanishing_gradient_regulariser`` is Pascanu et al.'s Omega.
"""
import math
import numbers

import torch

from .cells import activations
from .checks import positive_number
from .time import Trace


class NonFiniteGradientError(FloatingPointError):
    """A gradient holds NaN or inf (or its norm overflows); the gradients were left unchanged."""


def clip_grad_norm(parameters, max_norm: float) -> float:
    """Rescale the total gradient g (all parameters together) to norm ``max_norm`` if ||g|| >= max_norm.

    parameters: tensors, or (name, tensor) pairs such as ``model.named_parameters()``; those without a
    gradient are skipped. Returns ||g|| before clipping (computed in float64). Raises
    ``NonFiniteGradientError`` naming the parameters whose gradients hold NaN or inf, and leaves every
    gradient unchanged.
    """
    max_norm = positive_number("max_norm", max_norm)
    named = _named_gradients(parameters)
    if not named:
        return 0.0
    device = named[0][1].device
    norms = torch.stack([torch.linalg.vector_norm(g, dtype=torch.float64).to(device) for _, g in named])
    total = float(torch.linalg.vector_norm(norms))
    if not math.isfinite(total):
        _check_finite(named)
        names = ", ".join(name for name, _ in named)
        raise NonFiniteGradientError(f"the total gradient norm of {names} overflows float64; "
                                     "gradients left unchanged")
    if total >= max_norm:
        scale = max_norm / total
        for _, g in named:
            g.mul_(scale)
    return total


def clip_grad_value(parameters, clip_value: float) -> None:
    """Clip every gradient element to [-clip_value, clip_value] in place.

    parameters: tensors, or (name, tensor) pairs; those without a gradient are skipped. Raises
    ``NonFiniteGradientError`` naming the parameters whose gradients hold NaN or inf, and leaves every
    gradient unchanged.
    """
    clip_value = positive_number("clip_value", clip_value)
    named = _named_gradients(parameters)
    if not named:
        return
    _check_finite(named)
    for _, g in named:
        g.clamp_(-clip_value, clip_value)


def gradient_norms_through_time(loss: torch.Tensor, trace, *, per_sequence: bool = False) -> torch.Tensor:
    """||dL/dh_t|| for every step t of a reference unrolling (``unroll.unroll``'s Trace).

    h_t is the cell's fresh activation at step t (its ``"hidden"`` record) and dL/dh_t the total
    derivative: through the output at t and through every later step; on a masked sequence's padding,
    where h_t is discarded, it is zero. The norm runs over batch and units, (T,); with
    ``per_sequence`` over units only, (T, B). The graph is kept, so ``loss.backward()`` may follow.
    """
    if not isinstance(loss, torch.Tensor) or loss.dim() != 0:
        shape = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
        raise ValueError(f"loss: expected a scalar tensor, got {shape}")
    if not loss.requires_grad:
        raise ValueError("loss: expected a tensor with an autograd graph to the trace, got one that "
                         "does not require grad")
    if not isinstance(trace, Trace):
        raise TypeError(f"trace: expected the Trace of unroll.unroll (the reference loop; the fused path "
                        f"keeps no per-step graph), got {type(trace).__name__}")
    if not trace.records:
        raise ValueError("trace: expected at least one step, got an empty Trace")
    hidden = trace.hidden_states()
    grads = torch.autograd.grad(loss, hidden, retain_graph=True, allow_unused=True, materialize_grads=True)
    stacked = torch.stack(grads)  # (T, B, H)
    return torch.linalg.vector_norm(stacked, dim=2 if per_sequence else (1, 2))


def sequential_jacobian(fn, x: torch.Tensor, t_out: int) -> torch.Tensor:
    """The sequential Jacobian d y_{t_out} / d x_t of one sequence for every input step t: (O, T, I).

    x: (T, I) or (T, 1, I). fn maps (T, B, I) -> (T, B, O), or returns a tuple whose first item is
    that (as the layers do); it is called once with B = 1. t_out: an output step, negative counting
    from the end. One backward pass per output unit, so any backend with first derivatives works.
    """
    inputs = _one_sequence(x)
    steps = inputs.shape[0]
    if isinstance(t_out, bool) or not isinstance(t_out, numbers.Integral) or not -steps <= t_out < steps:
        raise ValueError(f"t_out: expected an int step in {-steps}..{steps - 1}, got {t_out!r}")
    with torch.enable_grad():
        output = fn(inputs)
    if isinstance(output, (tuple, list)):
        output = output[0]
    if not isinstance(output, torch.Tensor) or output.dim() != 3 or tuple(output.shape[:2]) != (steps, 1):
        shape = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
        raise ValueError(f"fn: expected an output shaped (T, B, O) = ({steps}, 1, O), got {shape}")
    rows = []
    if output.requires_grad:
        rows = [torch.autograd.grad(y, inputs, retain_graph=True, allow_unused=True)[0]
                for y in output[t_out, 0].unbind(0)]
    if all(row is None for row in rows):
        raise ValueError("fn: expected an output with an autograd graph back to its input, got one "
                         "without (was the input detached or fn run under torch.no_grad?)")
    rows = [torch.zeros_like(inputs) if row is None else row for row in rows]
    return torch.stack(rows)[:, :, 0, :]


def input_sensitivity(jacobian: torch.Tensor) -> torch.Tensor:
    """The Frobenius norm of a sequential Jacobian (O, T, I) at each input step: (T,)."""
    if not isinstance(jacobian, torch.Tensor) or jacobian.dim() != 3:
        shape = tuple(jacobian.shape) if isinstance(jacobian, torch.Tensor) else type(jacobian).__name__
        raise ValueError(f"jacobian: expected a tensor shaped (O, T, I), got {shape}")
    return torch.linalg.vector_norm(jacobian, dim=(0, 2))


def vanishing_gradient_regulariser(hidden: torch.Tensor, d_hidden: torch.Tensor, recurrent_weight: torch.Tensor,
                                   activation, reduction: str = "sum") -> torch.Tensor:
    """Omega of Pascanu, Mikolov & Bengio (2013) for h_t = f(W_hh h_{t-1} + W_ih x_t + b).

    Omega = mean over sequences of sum_t (||dE/dh_{t+1} dh_{t+1}/dh_t|| / ||dE/dh_{t+1}|| - 1)^2: it is 0
    when backpropagating one step keeps the error's norm, and grows as the error vanishes or explodes.
    reduction "sum" is the paper's sum over steps; "mean" divides by the number of steps instead (the
    mean over the (step, sequence) terms that carry an error, as the authors' code normalises it), so
    the regulariser's weight means the same at every length.
    hidden: (T, B, H) the states h_1..h_T; d_hidden: (T, B, H) dE/dh_t through step t's output only (the
    gradient autograd gives for the layer's output sequence); the total dE/dh_t through later steps is
    backpropagated here. recurrent_weight: (H, H) W_hh; activation: f's name, or one name per unit.
    As in the paper, dE/dh and f' are held constant: the result is differentiable through W_hh only.
    Steps where dE/dh_{t+1} is exactly 0 (nothing to propagate yet) add nothing. dE/dh is propagated in
    float64 and each step's ratio taken on its direction, so errors that explode past float32's range (where
    Omega matters most) still give a finite Omega.
    """
    if hidden.dim() != 3 or d_hidden.shape != hidden.shape or recurrent_weight.shape != (hidden.shape[-1],) * 2:
        raise ValueError(f"hidden, d_hidden, recurrent_weight: expected (T, B, H), (T, B, H), (H, H), got "
                         f"{tuple(hidden.shape)}, {tuple(d_hidden.shape)}, {tuple(recurrent_weight.shape)}")
    if hidden.shape[0] < 2:
        return recurrent_weight.sum() * 0.0
    names = (activation,) * hidden.shape[-1] if isinstance(activation, str) else tuple(activation)
    with torch.no_grad():
        slope = activations.derivative_per_unit(hidden, names).double()     # f'(a_t), through h_t
        weight = recurrent_weight.detach().double()
        total = list(d_hidden.double().unbind(0))                            # dE/dh_t, all paths
        for t in range(len(total) - 1, 0, -1):
            total[t - 1] = total[t - 1] + (slope[t] * total[t]) @ weight
        total = torch.stack(total[1:])                                       # dE/dh_{t+1}, t = 1..T-1
        norm = torch.linalg.vector_norm(total, dim=-1, keepdim=True)
        direction = slope[1:] * total / norm.clamp_min(torch.finfo(norm.dtype).tiny)   # dE/da_{t+1} / ||dE/dh_{t+1}||
        direction, norm = direction.to(recurrent_weight.dtype), norm[..., 0]
    ratio = torch.linalg.vector_norm(direction @ recurrent_weight, dim=-1)
    terms = torch.where(norm > 0, (ratio - 1) ** 2, 0.0)
    if reduction == "sum":
        return terms.sum(0).mean()
    if reduction == "mean":
        return terms.sum() / (norm > 0).sum().clamp_min(1)
    raise ValueError(f"reduction: expected 'sum' or 'mean', got {reduction!r}")


def _one_sequence(x) -> torch.Tensor:
    """x (T, I) or (T, 1, I) as a fresh leaf (T, 1, I) that requires grad."""
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        kind = f"dtype {x.dtype}" if isinstance(x, torch.Tensor) else type(x).__name__
        raise TypeError(f"x: expected a real floating-point tensor, got {kind}")
    inputs = x.unsqueeze(1) if x.dim() == 2 else x
    if inputs.dim() != 3 or inputs.shape[1] != 1 or inputs.shape[0] == 0:
        raise ValueError(f"x: expected one sequence shaped (T, I) or (T, 1, I), got {tuple(x.shape)}")
    return inputs.detach().clone().requires_grad_(True)


def _named_gradients(parameters) -> list[tuple[str, torch.Tensor]]:
    """(name, grad) for every parameter that has a gradient; unnamed ones are called parameters[i]."""
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    named = []
    for i, item in enumerate(parameters):
        if isinstance(item, torch.Tensor):
            name, p = f"parameters[{i}]", item
        elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], torch.Tensor):
            name, p = str(item[0]), item[1]
        else:
            raise TypeError(f"parameters: expected tensors or (name, tensor) pairs, "
                            f"got {type(item).__name__} at position {i}")
        if p.grad is not None:
            named.append((name, p.grad))
    return named


def _check_finite(named) -> None:
    """Raise NonFiniteGradientError naming every gradient that holds NaN or inf."""
    finite = torch.stack([torch.isfinite(g).all().to(named[0][1].device) for _, g in named])
    if bool(finite.all()):
        return
    bad = [f"{name} ({'nan' if bool(torch.isnan(g).any()) else 'inf'})"
           for (name, g), ok in zip(named, finite.tolist()) if not ok]
    raise NonFiniteGradientError(f"non-finite gradient in {', '.join(bad)}; gradients left unchanged")
