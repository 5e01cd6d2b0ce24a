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


def rnn_carry(radius: float = 0.9, span: int = 500, units: int = 8, seed: int = 0) -> float:
    """||d h_{t+span} / d h_t|| (spectral norm) for a tanh RNN whose recurrent matrix has spectral
    radius ``radius``, driven by random inputs."""
    g = torch.Generator().manual_seed(seed)
    cell = FullyRecurrentCell(1, units, dtype=torch.float64)
    with torch.no_grad():
        w = torch.randn(units, units, generator=g, dtype=torch.float64)
        cell.weight_hh.copy_(w * radius / torch.linalg.eigvals(w).abs().max())
    x = torch.rand(span + 1, 1, 1, generator=g, dtype=torch.float64) * 2 - 1
    _, _, trace = unroll(cell, x)
    h_first, h_last = trace.states[0], trace.states[-1]
    rows = [torch.autograd.grad(h_last[0, k], h_first, retain_graph=True)[0][0] for k in range(units)]
    return float(torch.linalg.matrix_norm(torch.stack(rows), ord=2))
