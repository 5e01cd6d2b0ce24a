"""The fully recurrent net: N units, any recurrent wiring (cycles, self-connections), per-unit activations.

One time step, no loop. The Elman RNN is its fully connected special case with one activation.
"""
import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from ..checks import positive_int
from . import activations


class FullyRecurrentCell(nn.Module):
    """One step ``(x_t, h) -> (y_t, h_t)`` of N units: h_t = f(W_in x_t + W_rec h + b), y_t = h_t[outputs].

    x_t: (B, input_size); h, h_t: (B, N); y_t: (B, len(output_units)).
    ``activation``: one name for all units or one per unit (``activations.NAMES``).
    ``connectivity``: fixed 0/1 (N, N) mask of allowed recurrent weights (row: receiving unit);
    ``input_connectivity``: fixed 0/1 (N, input_size) mask wiring inputs to units. Masked weights
    stay zero in every forward pass and get zero gradient.
    ``output_units``: indices of the units read out (default: all).
    """

    def __init__(self, input_size: int, num_units: int, *, activation: str | Sequence[str] = "tanh",
                 connectivity=None, input_connectivity=None, output_units=None, bias: bool = True,
                 learn_initial_state: bool = False, device=None, dtype=None):
        super().__init__()
        positive_int("input_size", input_size)
        positive_int("num_units", num_units)
        kw = {"device": device, "dtype": dtype}
        self.input_size, self.num_units = input_size, num_units
        self.activation = _activation_names(activation, num_units)
        self.weight_ih = nn.Parameter(torch.empty(num_units, input_size, **kw))
        self.weight_hh = nn.Parameter(torch.empty(num_units, num_units, **kw))
        self.bias = nn.Parameter(torch.empty(num_units, **kw)) if bias else None
        self.register_buffer("connectivity", _mask("connectivity", connectivity, (num_units, num_units), kw))
        self.register_buffer("input_connectivity",
                             _mask("input_connectivity", input_connectivity, (num_units, input_size), kw))
        self.output_units = _output_units(output_units, num_units)
        zeros = torch.zeros(num_units, **kw)
        if learn_initial_state:
            self.initial_hidden = nn.Parameter(zeros)
        else:
            self.register_buffer("initial_hidden", zeros)
        self.reset_parameters()

    @property
    def output_size(self) -> int:
        return self.num_units if self.output_units is None else len(self.output_units)

    def reset_parameters(self) -> None:
        """Uniform(-1/sqrt(N), 1/sqrt(N)) like torch.nn.RNN."""
        bound = 1 / math.sqrt(self.num_units)
        with torch.no_grad():
            for p in (self.weight_ih, self.weight_hh, self.bias):
                if p is not None:
                    p.uniform_(-bound, bound)

    def input_weight(self) -> torch.Tensor:
        """W_in with the input wiring applied, (N, input_size)."""
        m = self.input_connectivity
        return self.weight_ih if m is None else self.weight_ih * m

    def recurrent_weight(self) -> torch.Tensor:
        """W_rec with the connectivity mask applied, (N, N)."""
        m = self.connectivity
        return self.weight_hh if m is None else self.weight_hh * m

    def initial_state(self, batch: int) -> torch.Tensor:
        """h_0 (batch, N): zeros, or the learned initial activities."""
        return self.initial_hidden.expand(batch, -1)

    def read_out(self, h: torch.Tensor) -> torch.Tensor:
        """The output units of h (..., N) -> (..., output_size)."""
        return h if self.output_units is None else h[..., self.output_units]

    def step(self, x, h):
        """One step; returns (y_t, h_t, record) with the pre-activations and activities."""
        a = F.linear(x, self.input_weight(), self.bias) + F.linear(h, self.recurrent_weight())
        h_new = activations.apply_per_unit(a, self.activation)
        return self.read_out(h_new), h_new, {"preactivation": a, "hidden": h_new}

    def forward(self, x, h):
        """(x_t, h) -> (y_t, h_t)."""
        y, h, _ = self.step(x, h)
        return y, h

    def extra_repr(self) -> str:
        kinds = ",".join(sorted(set(self.activation)))
        return f"{self.input_size}, {self.num_units}, activation={kinds}, outputs={self.output_size}"


def _activation_names(activation, n: int) -> tuple[str, ...]:
    if isinstance(activation, str):
        activations.code(activation)
        return (activation,) * n
    names = tuple(activation)
    if len(names) != n:
        raise ValueError(f"activation: expected one name or {n} names (one per unit), got {len(names)}")
    for name in names:
        activations.code(name)
    return names


def _mask(name: str, mask, shape: tuple[int, int], kw) -> torch.Tensor | None:
    if mask is None:
        return None
    m = torch.as_tensor(mask)
    if tuple(m.shape) != shape:
        raise ValueError(f"{name}: expected a 0/1 mask of shape {shape}, got {tuple(m.shape)}")
    if not bool(((m == 0) | (m == 1)).all()):
        raise ValueError(f"{name}: expected only 0 and 1 entries")
    return m.to(device=kw["device"], dtype=kw["dtype"] or torch.get_default_dtype())


def _output_units(units, n: int) -> list[int] | None:
    if units is None:
        return None
    units = [int(u) for u in units]
    if not units or any(u < 0 or u >= n for u in units):
        raise ValueError(f"output_units: expected indices in 0..{n - 1}, got {units}")
    return units
