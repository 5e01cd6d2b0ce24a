"""Truncated BPTT(k1, k2): every k1 steps, backpropagate the loss of those steps through the last k2."""
from collections.abc import Callable

import torch

from ..checks import positive_int


def truncated_bptt(forward: Callable, inputs: torch.Tensor, targets: torch.Tensor,
                   loss_fn: Callable, k1: int, k2: int | None = None, state=None,
                   update: Callable[[], None] | None = None):
    """Run one long sequence through ``forward`` in windows, carrying the state across them.

    forward(x (t, B, I), state) -> (y (t, B, O), state), e.g. an unroll layer and its readout;
    inputs: (T, B, I); targets: (T, ...), aligned with inputs; loss_fn(y, targets) -> scalar.
    At each window end t = k1, 2 k1, ..., T: the loss of the steps since the previous window end
    is backpropagated through the steps [t - k2, t), starting from a state detached at t - k2;
    then ``update()`` runs (e.g. an optimiser step and zero_grad). k2 >= k1, default k2 = k1.
    Returns (the loss of each window as a float, the final state detached).
    """
    k2 = k1 if k2 is None else k2
    positive_int("k1", k1)
    positive_int("k2", k2)
    if k2 < k1:
        raise ValueError(f"k2: expected k2 >= k1 (gradients reach back at least over the window), "
                         f"got k1={k1}, k2={k2}")
    if targets.shape[0] != inputs.shape[0]:
        raise ValueError(f"targets: expected {inputs.shape[0]} steps like inputs, got {targets.shape[0]}")
    T = inputs.shape[0]
    losses = []
    start, anchor = 0, _detach(state)   # the detached state at `start`, where gradients stop
    previous_end = 0
    for end in range(k1, T + k1, k1):
        end = min(end, T)
        next_start = max(0, min(end + k1, T) - k2)   # where the next window's gradients stop
        # run up to the next window's start first, to keep the state there
        ys, mid = _run(forward, inputs[start:next_start], anchor)
        more, final = _run(forward, inputs[next_start:end], mid)
        y = torch.cat(ys + more)
        loss = loss_fn(y[previous_end - start:], targets[previous_end:end])
        loss.backward()
        if update is not None:
            update()
        losses.append(loss.item())
        start, anchor, previous_end = next_start, _detach(mid), end
    return losses, _detach(final)


def _run(forward, x, state):
    """forward over x unless x has no steps; returns ([y] or [], state)."""
    if x.shape[0] == 0:
        return [], state
    y, state = forward(x, state)
    return [y], state


def _detach(state):
    if state is None or isinstance(state, torch.Tensor):
        return None if state is None else state.detach()
    return type(state)(_detach(s) for s in state)
