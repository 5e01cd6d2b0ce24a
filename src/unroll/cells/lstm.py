"""The LSTM cell: a memory cell with a linear self-connection guarded by keep, write and read gates.

One time step, no loop. Gate rows are stacked in the order ``GATES`` = (write, keep, read,
cell_input), i.e. torch's (input, forget, cell, output) reordered so the three logistic gates are
contiguous; ``torch_gate_order`` converts to and from torch's order.
"""
import math

import torch
from torch import nn
from torch.nn import functional as F

from ..checks import positive_int

GATES = ("write_gate", "keep_gate", "read_gate", "cell_input")


def torch_gate_order(w: torch.Tensor) -> torch.Tensor:
    """(4H, ...) gate rows in ``GATES`` order -> torch's (input, forget, cell, output) order, and back: the
    last two blocks swap, so the same call converts either way."""
    write, keep, read, cell_input = w.chunk(4)
    return torch.cat([write, keep, cell_input, read])


class LSTMCell(nn.Module):
    """One LSTM step ``(x_t, (h, c)) -> (h_t, (h_t, c_t))``.

    x_t: (B, input_size); h, c: (B, hidden_size).
    Parameters: ``weight_ih`` (4H, I), ``weight_hh`` (4H, H), ``bias`` (4H,), rows in ``GATES`` order;
    ``peephole`` (3, H) for the write, keep and read gates when ``peephole=True`` (write and keep see
    c_{t-1}, read sees c_t, as in Gers et al. 2002); ``initial_hidden`` and ``initial_cell`` (H,),
    learnable when ``learn_initial_state=True`` and zeros otherwise.
    """

    def __init__(self, input_size: int, hidden_size: int, *, peephole: bool = False,
                 keep_gate_bias: float = 1.0, cell_clip: float | None = None,
                 learn_initial_state: bool = False, device=None, dtype=None):
        super().__init__()
        positive_int("input_size", input_size)
        positive_int("hidden_size", hidden_size)
        if cell_clip is not None and not cell_clip > 0:
            raise ValueError(f"cell_clip: expected a positive number or None, got {cell_clip!r}")
        kw = {"device": device, "dtype": dtype}
        self.input_size, self.hidden_size = input_size, hidden_size
        self.cell_clip = None if cell_clip is None else float(cell_clip)
        self.keep_gate_bias = float(keep_gate_bias)
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden_size, input_size, **kw))
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden_size, hidden_size, **kw))
        self.bias = nn.Parameter(torch.empty(4 * hidden_size, **kw))
        self.peephole = nn.Parameter(torch.empty(3, hidden_size, **kw)) if peephole else None
        zeros = torch.zeros(hidden_size, **kw)
        if learn_initial_state:
            self.initial_hidden = nn.Parameter(zeros.clone())
            self.initial_cell = nn.Parameter(zeros.clone())
        else:
            self.register_buffer("initial_hidden", zeros.clone())
            self.register_buffer("initial_cell", zeros.clone())
        self.reset_parameters()

    @property
    def output_size(self) -> int:
        return self.hidden_size

    def reset_parameters(self) -> None:
        """Uniform(-1/sqrt(H), 1/sqrt(H)) like torch.nn.LSTM; keep-gate bias set to ``keep_gate_bias``."""
        bound = 1 / math.sqrt(self.hidden_size)
        with torch.no_grad():
            for p in (self.weight_ih, self.weight_hh, self.bias, self.peephole):
                if p is not None:
                    p.uniform_(-bound, bound)
            H = self.hidden_size
            self.bias[H:2 * H] = self.keep_gate_bias

    def initial_state(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(h_0, c_0), each (batch, H): zeros, or the learned initial activities."""
        return (self.initial_hidden.expand(batch, -1), self.initial_cell.expand(batch, -1))

    def step(self, x, state):
        """One step; returns (h_t, (h_t, c_t), record) where record names every gate activation."""
        h, c = state
        H = self.hidden_size
        a = F.linear(x, self.weight_ih, self.bias) + F.linear(h, self.weight_hh)
        a_write, a_keep, a_read, a_in = a.split(H, dim=1)
        if self.peephole is not None:
            a_write = a_write + self.peephole[0] * c
            a_keep = a_keep + self.peephole[1] * c
        write, keep, cell_input = torch.sigmoid(a_write), torch.sigmoid(a_keep), torch.tanh(a_in)
        c_new = keep * c + write * cell_input
        if self.cell_clip is not None:
            c_new = c_new.clamp(-self.cell_clip, self.cell_clip)
        if self.peephole is not None:
            a_read = a_read + self.peephole[2] * c_new
        read = torch.sigmoid(a_read)
        h_new = read * torch.tanh(c_new)
        record = {"write_gate": write, "keep_gate": keep, "read_gate": read,
                  "cell_input": cell_input, "cell": c_new, "hidden": h_new}
        return h_new, (h_new, c_new), record

    def forward(self, x, state):
        """(x_t, (h, c)) -> (h_t, (h_t, c_t))."""
        y, state, _ = self.step(x, state)
        return y, state

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}, peephole={self.peephole is not None}, "
                f"cell_clip={self.cell_clip}")
