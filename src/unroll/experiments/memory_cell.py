"""The seed's LSTM memory example: write 4.2, keep it while the inputs change, read it, clear it.

A one-unit LSTM cell with hand-set weights and inputs (value, write, read, clear). The write gate
opens for ``WRITE_STEPS`` steps, each adding tanh(w * value) = value / WRITE_STEPS to the cell;
the keep gate stays near 1 until ``clear``; the read gate opens the cell to the output h.
The measured claim: d c_read / d c_written, the product of the keep gates over the span, stays near 1,
while the matching derivative of a tanh RNN with spectral radius 0.9 vanishes.
"""
import math

import torch

from ..cells import FullyRecurrentCell, LSTMCell
from ..init import spectral_radius_
from ..time import unroll

WRITE_STEPS = 6
GATE_GAIN = 40.0   # a gate's pre-activation swings between -GATE_GAIN/2 (shut) and +GATE_GAIN/2 (open)
KEEP_GAIN = 60.0


def memory_cell(value: float = 4.2, dtype=torch.float64) -> LSTMCell:
    """The hand-set one-unit cell that stores ``value`` after WRITE_STEPS write steps."""
    cell = LSTMCell(4, 1, dtype=dtype)
    per_step = value / WRITE_STEPS
    if not abs(per_step) < 1:
        raise ValueError(f"value: expected |value| < {WRITE_STEPS}, got {value}")
    w_value = math.atanh(per_step) / value
    with torch.no_grad():
        cell.weight_hh.zero_()
        cell.weight_ih.zero_()
        cell.bias.zero_()
        # rows: write gate, keep gate, read gate, cell input; columns: value, write, read, clear
        cell.weight_ih[0, 1], cell.bias[0] = GATE_GAIN, -GATE_GAIN / 2
        cell.weight_ih[1, 3], cell.bias[1] = -KEEP_GAIN, KEEP_GAIN / 2
        cell.weight_ih[2, 2], cell.bias[2] = GATE_GAIN, -GATE_GAIN / 2
        cell.weight_ih[3, 0] = w_value
    return cell


def memory_protocol(value: float = 4.2, span: int = 500, seed: int = 0, dtype=torch.float64):
    """Inputs (T, 1, 4) for: write ``value`` for WRITE_STEPS steps, keep for ``span`` steps of random
    distractor values, read one step, clear one step, two quiet steps. Returns (x, events) where
    events names the step index of 'written' (last write step), 'read' and 'clear'."""
    g = torch.Generator().manual_seed(seed)
    T = WRITE_STEPS + span + 4
    x = torch.zeros(T, 1, 4, dtype=dtype)
    x[:, 0, 0] = torch.rand(T, generator=g, dtype=dtype) * 2 - 1
    x[:WRITE_STEPS, 0, 0] = value
    x[:WRITE_STEPS, 0, 1] = 1
    read, clear = WRITE_STEPS + span, WRITE_STEPS + span + 1
    x[read, 0, 2] = 1
    x[clear, 0, 3] = 1
    return x, {"written": WRITE_STEPS - 1, "read": read, "clear": clear}


def lstm_carry(value: float = 4.2, span: int = 500, seed: int = 0) -> dict:
    """Run the protocol; returns the trace and d c_read / d c_written."""
    cell = memory_cell(value)
    x, events = memory_protocol(value, span, seed)
    _, _, trace = unroll(cell, x)
    c_written = trace.states[events["written"]][1]
    c_read = trace.states[events["read"]][1]
    (derivative,) = torch.autograd.grad(c_read.sum(), c_written)
    return {"trace": trace, "events": events, "derivative": derivative.item(),
            "stored": c_written.item(), "at_read": c_read.item(),
            "read_output": trace.records[events["read"]]["hidden"].item(),
            "after_clear": trace.states[events["clear"]][1].item()}


def carry_curve(cell, x: torch.Tensor, state, part: int | None = None) -> torch.Tensor:
    """How far a perturbation of the state carries: ||d s_k / d s_0|| (spectral norm) for k = 1..T.

    The cell runs over x (T, 1, I) from ``state`` s_0; s is the whole state, or component ``part`` of a
    tuple state (e.g. 1: the LSTM's cell c, with h_0 held fixed). Forward-mode AD, one pass per unit.
    """
    def states_after(start):
        begin = start if part is None else tuple(start if i == part else s for i, s in enumerate(state))
        _, _, trace = unroll(cell, x, begin)
        return torch.stack([s if part is None else s[part] for s in trace.states])

    start = state if part is None else state[part]
    jacobian = torch.func.jacfwd(states_after)(start)          # (T, 1, N, 1, N)
    return torch.linalg.matrix_norm(jacobian[:, 0, :, 0, :], ord=2).detach()


def lstm_carry_curve(value: float = 4.2, span: int = 500, seed: int = 0) -> torch.Tensor:
    """d c_{written+k} / d c_written of the hand-set cell for k = 1..span+1 (the last is the read step)."""
    cell = memory_cell(value)
    x, events = memory_protocol(value, span, seed)
    written, read = events["written"], events["read"]
    _, state, _ = unroll(cell, x[:written + 1])
    return carry_curve(cell, x[written + 1:read + 1], state, part=1)


def tanh_rnn(radius: float = 0.9, units: int = 8, seed: int = 0) -> FullyRecurrentCell:
    """A float64 tanh RNN cell (1 input) drawn from ``seed``: default input weights and biases, and a
    Gaussian recurrent matrix scaled to spectral radius ``radius``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        cell = FullyRecurrentCell(1, units, dtype=torch.float64)
        with torch.no_grad():
            cell.weight_hh.normal_()
    spectral_radius_(cell.weight_hh, radius)
    return cell


def rnn_carry_curve(radius: float = 0.9, span: int = 500, units: int = 8, seed: int = 0) -> torch.Tensor:
    """||d h_{t+k} / d h_t|| (spectral norm) for k = 1..span of a tanh RNN with spectral radius ``radius``
    (``tanh_rnn``), driven by uniform(-1, 1) inputs; t is the first step."""
    cell = tanh_rnn(radius, units, seed)
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(span + 1, 1, 1, generator=g, dtype=torch.float64) * 2 - 1
    _, state, _ = unroll(cell, x[:1])
    return carry_curve(cell, x[1:], state)


def rnn_carry(radius: float = 0.9, span: int = 500, units: int = 8, seed: int = 0) -> float:
    """||d h_{t+span} / d h_t|| (spectral norm) of ``rnn_carry_curve``: the derivative over the whole span."""
    return rnn_carry_curve(radius, span, units, seed)[-1].item()
