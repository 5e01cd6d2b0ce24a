"""The reference unroller: an explicit loop over time under autograd, keeping every step.

It works for any cell with ``step(x_t, state) -> (y_t, state, record)``, supports double backward and
forward-mode AD (``torch.func.jvp``), and is the yardstick the fused paths are held to.
"""
from dataclasses import dataclass, field

import torch


@dataclass
class Trace:
    """What happened at every step of an unrolling.

    ``states[t]``: the state after step t, as the next step consumes it (on padding: carried over);
    ``records[t]``: the cell's named activations at step t (gates, cell, hidden, ...).
    """
    states: list = field(default_factory=list)
    records: list = field(default_factory=list)

    def stacked(self, name: str) -> torch.Tensor:
        """One named activation over all steps, (T, B, ...)."""
        return torch.stack([r[name] for r in self.records])

    def hidden_states(self) -> list[torch.Tensor]:
        """The cell's fresh h_t of every step, each (B, H): both the output at t and step t+1 read it,
        so ``torch.autograd.grad(loss, trace.hidden_states())`` gives the total dL/dh_t (zero on
        padding, where h_t is discarded)."""
        if any("hidden" not in record for record in self.records):
            raise ValueError("trace: expected every step's record to name its \"hidden\" activation")
        return [record["hidden"] for record in self.records]


def unroll(cell, x: torch.Tensor, state=None, mask: torch.Tensor | None = None):
    """Run ``cell`` over x (T, B, I) from ``state`` (default ``cell.initial_state(B)``).

    mask: (T, B, 1) of 1 while a sequence runs, 0 on its padding: there the state is carried
    unchanged and the output is 0. Returns (ys (T, B, O), final state, Trace).
    """
    if state is None:
        state = cell.initial_state(x.shape[1])
    trace = Trace()
    ys = []
    for t, x_t in enumerate(x.unbind(0)):
        y, new_state, record = cell.step(x_t, state)
        if mask is not None:
            m = mask[t].to(torch.bool)
            new_state = _blend(m, new_state, state)
            y = torch.where(m, y, torch.zeros_like(y))
        state = new_state
        trace.states.append(state)
        trace.records.append(record)
        ys.append(y)
    return torch.stack(ys), state, trace


def _blend(m, new, old):
    if isinstance(new, tuple):
        return tuple(_blend(m, n, o) for n, o in zip(new, old))
    return torch.where(m, new, old)
