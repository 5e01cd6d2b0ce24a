"""The fused paths: one autograd Function per cell type whose backward is hand-derived BPTT.

The input projection of every step is one matrix product before the loop; after the backward loop
each weight's gradient, the sum over its copies in time, is again one matrix product over all
steps. The loops themselves run in C++ (``native``) on CPU when it is built, and otherwise in plain
torch (``lstm_recurrence``, ``rnn_recurrence``, ``memory_blocks_recurrence``), which is also the CUDA
path (the 1997 LSTM's backward runs in torch everywhere).

The fused paths give first derivatives only: forward-mode AD and double backward raise an error
that points to ``backend="reference"``.
"""
import torch

from ..cells import LSTMCell, FullyRecurrentCell, MemoryBlockCell, activations
from . import lstm_recurrence, memory_blocks_recurrence, native, rnn_recurrence

_NO_JVP = "has no forward-mode AD (torch.func.jvp); use backend='reference' for it"
_NO_DOUBLE = "cannot be differentiated twice (no double backward); use backend='reference' for it"


def _use_native(t: torch.Tensor) -> bool:
    return t.device.type == "cpu" and t.dtype in (torch.float32, torch.float64) and native.available()


def _steps_matrix(t: torch.Tensor) -> torch.Tensor:
    """(T, B, F) -> (T*B, F)."""
    return t.reshape(-1, t.shape[-1])


def _input_projection(x: torch.Tensor, w_ih: torch.Tensor, bias) -> torch.Tensor:
    """x_t W_ih^T + bias for every step at once: (T, B, I) -> (T, B, G); bias (G,) or None."""
    T, B, _ = x.shape
    xm = _steps_matrix(x)
    return (xm @ w_ih.t() if bias is None else torch.addmm(bias, xm, w_ih.t())).view(T, B, -1)


def _previous(first: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
    """The state before each step: (first, steps[0], ..., steps[T-2]) stacked, (T, B, H)."""
    return torch.cat((first.unsqueeze(0), steps[:-1]))


def _weight_grads(d2, x, h0, hs, need_ih: bool, need_hh: bool):
    """dL/dW_ih and dL/dW_hh: every step's copy summed, as one product d^T [x_t, h_{t-1}] over all steps.

    d2: (T*B, G) deltas at the pre-activations; x: (T, B, I); h0: (B, H); hs: (T, B, H).
    """
    if not (need_ih or need_hh):
        return None, None
    inputs = [_steps_matrix(x)] if need_ih else []
    if need_hh:
        inputs.append(_steps_matrix(_previous(h0, hs)))
    grads = (d2.t() @ (inputs[0] if len(inputs) == 1 else torch.cat(inputs, dim=1)))
    if need_ih and need_hh:
        return grads.split((x.shape[2], hs.shape[2]), dim=1)
    return (grads, None) if need_ih else (None, grads)


class FusedLSTM(torch.autograd.Function):
    """(x, h0, c0, w_ih, w_hh, bias, peephole, mask, cell_clip) -> (hs, cs, gates), each (T, B, .)."""

    @staticmethod
    def forward(x, h0, c0, w_ih, w_hh, bias, peephole, mask, cell_clip):
        kernel = native.lstm_forward if _use_native(x) else lstm_recurrence.forward
        return kernel(_input_projection(x, w_ih, bias), h0, c0, w_hh, peephole, mask, cell_clip)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, h0, c0, w_ih, w_hh, bias, peephole, mask, cell_clip = inputs
        hs, cs, gates = output
        ctx.mark_non_differentiable(gates)
        ctx.set_materialize_grads(False)   # no zero-filled (T, B, 4H) gradient for the gates
        ctx.save_for_backward(x, h0, c0, w_ih, w_hh, peephole, mask, hs, cs, gates)
        ctx.cell_clip = cell_clip

    @staticmethod
    def backward(ctx, grad_hs, grad_cs, _grad_gates):
        if torch.is_grad_enabled():
            raise RuntimeError("the fused LSTM path " + _NO_DOUBLE)
        x, h0, c0, w_ih, w_hh, peephole, mask, hs, cs, gates = ctx.saved_tensors
        grad_hs = torch.zeros_like(hs) if grad_hs is None else grad_hs
        grad_cs = torch.zeros_like(cs) if grad_cs is None else grad_cs
        kernel = native.lstm_backward if _use_native(x) else lstm_recurrence.backward
        d, dh0, dc0 = kernel(grad_hs, grad_cs, h0, c0, hs, cs, gates, w_hh, peephole, mask,
                             ctx.cell_clip)
        d2 = _steps_matrix(d)
        need = ctx.needs_input_grad
        dx = (d2 @ w_ih).view_as(x) if need[0] else None
        dw_ih, dw_hh = _weight_grads(d2, x, h0, hs, need[3], need[4])
        dbias = d2.sum(0) if need[5] else None
        dpeep = None
        if peephole is not None and need[6]:
            H = hs.shape[2]
            c_prev = _previous(c0, cs)
            dpeep = torch.stack(((d[..., :H] * c_prev).sum((0, 1)),
                                 (d[..., H:2 * H] * c_prev).sum((0, 1)),
                                 (d[..., 2 * H:3 * H] * cs).sum((0, 1))))
        return dx, dh0, dc0, dw_ih, dw_hh, dbias, dpeep, None, None

    @staticmethod
    def jvp(ctx, *tangents):
        raise RuntimeError("the fused LSTM path " + _NO_JVP)


class FusedRNN(torch.autograd.Function):
    """(x, h0, w_ih, w_hh, bias, activation, mask) -> hs (T, B, N)."""

    @staticmethod
    def forward(x, h0, w_ih, w_hh, bias, activation, mask):
        xproj = _input_projection(x, w_ih, bias)
        if _use_native(x):
            return native.rnn_forward(xproj, h0, w_hh, _codes(activation), mask)
        return rnn_recurrence.forward(xproj, h0, w_hh, activation, mask)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, h0, w_ih, w_hh, bias, activation, mask = inputs
        ctx.save_for_backward(x, h0, w_ih, w_hh, mask, output)
        ctx.activation = activation

    @staticmethod
    def backward(ctx, grad_hs):
        if torch.is_grad_enabled():
            raise RuntimeError("the fused RNN path " + _NO_DOUBLE)
        x, h0, w_ih, w_hh, mask, hs = ctx.saved_tensors
        if _use_native(x):
            d, dh0 = native.rnn_backward(grad_hs, h0, hs, w_hh, _codes(ctx.activation), mask)
        else:
            d, dh0 = rnn_recurrence.backward(grad_hs, h0, hs, w_hh, ctx.activation, mask)
        d2 = _steps_matrix(d)
        need = ctx.needs_input_grad
        dx = (d2 @ w_ih).view_as(x) if need[0] else None
        dw_ih, dw_hh = _weight_grads(d2, x, h0, hs, need[2], need[3])
        dbias = d2.sum(0) if need[4] else None
        return dx, dh0, dw_ih, dw_hh, dbias, None, None

    @staticmethod
    def jvp(ctx, *tangents):
        raise RuntimeError("the fused RNN path " + _NO_JVP)


class FusedMemoryBlocks(torch.autograd.Function):
    """(x, s0, c0, w_ih, w_hh, bias, cells_per_block, truncate, mask) -> (ss, cs, gs), each (T, B, .)."""

    @staticmethod
    def forward(x, s0, c0, w_ih, w_hh, bias, cells_per_block, truncate, mask):
        kernel = native.memory_blocks_forward if _use_native(x) else memory_blocks_recurrence.forward
        return kernel(_input_projection(x, w_ih, bias), s0, c0, w_hh, cells_per_block, mask)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, s0, c0, w_ih, w_hh, bias, cells_per_block, truncate, mask = inputs
        ss, cs, gs = output
        ctx.mark_non_differentiable(gs)
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(x, s0, w_ih, w_hh, mask, ss, cs, gs)
        ctx.cells_per_block, ctx.truncate = cells_per_block, truncate

    @staticmethod
    def backward(ctx, grad_ss, grad_cs, _grad_gs):
        if torch.is_grad_enabled():
            raise RuntimeError("the fused MemoryBlocks path " + _NO_DOUBLE)
        x, s0, w_ih, w_hh, mask, ss, cs, gs = ctx.saved_tensors
        grad_ss = torch.zeros_like(ss) if grad_ss is None else grad_ss
        grad_cs = torch.zeros_like(cs) if grad_cs is None else grad_cs
        d, ds0, dc0 = memory_blocks_recurrence.backward(grad_ss, grad_cs, ss, cs, gs, w_hh, ctx.cells_per_block,
                                                        ctx.truncate, mask)
        d2 = _steps_matrix(d)
        need = ctx.needs_input_grad
        dx = (d2 @ w_ih).view_as(x) if need[0] else None
        dw_ih, dw_hh = _weight_grads(d2, x, s0, ss, need[3], need[4])
        dbias = d2.sum(0) if need[5] else None
        return dx, ds0, dc0, dw_ih, dw_hh, dbias, None, None, None

    @staticmethod
    def jvp(ctx, *tangents):
        raise RuntimeError("the fused MemoryBlocks path " + _NO_JVP)


def _codes(names: tuple[str, ...]) -> torch.Tensor:
    return torch.tensor([activations.code(n) for n in names], dtype=torch.int64)


def fused_unroll(cell, x: torch.Tensor, state=None, mask: torch.Tensor | None = None):
    """The fused counterpart of ``reference.unroll`` (same arguments and results, less the Trace).

    Returns (ys (T, B, O), final state, internals) where internals maps names to (T, B, .) tensors:
    ``hidden`` and, for an LSTM, ``cell`` and ``gates`` ((T, B, 4H) in ``cells.GATES`` order); for the 1997
    LSTM, ``cell``, ``cell_input`` and ``sources`` (cell outputs, write gates, read gates).
    """
    if state is None:
        state = cell.initial_state(x.shape[1])
    if isinstance(cell, LSTMCell):
        h0, c0 = state
        hs, cs, gates = FusedLSTM.apply(x, h0, c0, cell.weight_ih, cell.weight_hh, cell.bias,
                                        cell.peephole, mask, cell.cell_clip)
        ys = hs if mask is None else hs * mask
        return ys, (hs[-1], cs[-1]), {"hidden": hs, "cell": cs, "gates": gates}
    if isinstance(cell, FullyRecurrentCell):
        hs = FusedRNN.apply(x, state, cell.input_weight(), cell.recurrent_weight(), cell.bias,
                            cell.activation, mask)
        ys = cell.read_out(hs if mask is None else hs * mask)
        return ys, hs[-1], {"hidden": hs}
    if isinstance(cell, MemoryBlockCell):
        s0, c0 = state
        ss, cs, gs = FusedMemoryBlocks.apply(x, s0, c0, cell.weight_ih, cell.weight_hh, cell.bias,
                                             cell.cells_per_block, cell.truncate, mask)
        hs = ss[..., :cell.num_cells]
        ys = hs if mask is None else hs * mask
        return ys, (ss[-1], cs[-1]), {"hidden": hs, "cell": cs, "cell_input": gs, "sources": ss}
    raise TypeError("cell: the fused path runs LSTMCell, FullyRecurrentCell and MemoryBlockCell, "
                    f"got {type(cell).__name__}")
