"""The 1997 LSTM's recurrence (``cells.MemoryBlockCell``) in plain torch ops: the time loop of its fused path,
forward and hand-derived BPTT, the truncated gradient or the full one.

As in ``lstm_recurrence``, the input projections and the weight and input gradients are the caller's, one
matrix product over all steps. Shapes: T steps, B sequences, N cells in ``blocks`` blocks of ``k`` cells,
U = N + 2 x blocks recurrent sources (cell outputs, then write gates, then read gates: the pre-activation
columns too). ``mask`` (T, B, 1) holds 1 while a sequence runs and 0 on its padding, where the state is
carried unchanged.
"""
import torch


def forward(xproj, s0, c0, w_hh, k: int, mask):
    """Run the recurrence.

    xproj: (T, B, U) = x_t W_ih^T + b for every step; s0: (B, U); c0: (B, N); w_hh: (U, U).
    Returns ss (T, B, U) the sources after each step, cs (T, B, N) the cells after each step and gs
    (T, B, N) the cell inputs g = 4 sigmoid(a) - 2.
    """
    T, B, U = xproj.shape
    N = c0.shape[1]
    blocks = (U - N) // 2
    ss, cs, squashed = xproj.new_empty(T, B, U), xproj.new_empty(T, B, N), xproj.new_empty(T, B, U)
    runs = None if mask is None else mask.to(torch.bool)
    s, c = s0, c0
    w_hh_t = w_hh.t()
    for t in range(T):
        sig = torch.sigmoid(torch.addmm(xproj[t], s, w_hh_t), out=squashed[t])
        write, read = sig[:, N:N + blocks, None], sig[:, N + blocks:, None]
        c_new = cs[t].view(B, blocks, k)            # c + write (4 sigmoid(a) - 2)
        torch.add(c.view(B, blocks, k), write, alpha=-2, out=c_new).addcmul_(
            write, sig[:, :N].view(B, blocks, k), value=4)
        y = ss[t, :, :N].view(B, blocks, k)         # read (2 sigmoid(c) - 1) = read tanh(c / 2)
        torch.mul(c_new, 0.5, out=y).tanh_().mul_(read)
        ss[t, :, N:] = sig[:, N:]
        if runs is not None:        # padding carries the state unchanged
            torch.where(runs[t], ss[t], s, out=ss[t])
            torch.where(runs[t], cs[t], c, out=cs[t])
        s, c = ss[t], cs[t]
    return ss, cs, squashed[..., :N] * 4 - 2


def backward(grad_ss, grad_cs, ss, cs, gs, w_hh, k: int, truncate: bool, mask):
    """BPTT through the recurrence.

    grad_ss, grad_cs: (T, B, U), (T, B, N), dL/ds_t and dL/dc_t from outside the recurrence (the outputs);
    the rest as ``forward`` returned them. ``truncate``: the error reaching the pre-activations is not passed
    back through the sources s_{t-1} (Hochreiter & Schmidhuber's truncation), so it flows back in time only
    through the cells, with weight 1 (no keep gate): dL/dc_t is then a sum over the later steps, and no step
    waits for another. Returns (d_preact (T, B, U), dL/ds0, dL/dc0).
    """
    T, B, U = ss.shape
    N = cs.shape[2]
    blocks = (U - N) // 2
    own = torch.ones_like(ss[..., :1]) if mask is None else mask    # 1 where the step is real
    write, read = ss[..., N:N + blocks], ss[..., N + blocks:]
    squashed_cell = torch.tanh(cs * 0.5)                             # h(c) = 2 sigmoid(c) - 1
    slopes = {"to_cell": own * _per_cell(read, k) * (1 - squashed_cell ** 2) / 2,   # dy/dc
              "cell_input": own * _per_cell(write, k) * (4 - gs ** 2) / 4,           # dc/da of the cell input
              "write": own * write * (1 - write), "read": own * read * (1 - read),
              "g": gs, "h": squashed_cell}
    d_preact = torch.empty_like(ss)
    if truncate:
        ds = grad_ss if mask is None else _carried_to_last_step(grad_ss, mask)
        dc = torch.addcmul(grad_cs, ds[..., :N], slopes["to_cell"])
        dc = dc.flip(0).cumsum(0).flip(0)           # the carousel: dL/dc_t sums every later step's
        _deltas(ds, dc, slopes, k, d_preact)
        return d_preact, torch.zeros_like(ss[0]), dc[0]
    passed = None if mask is None else 1 - mask     # padding hands its deltas straight to t-1
    ds = torch.zeros_like(ss[0])    # dL/ds_t arriving through the recurrence from step t+1
    dc = torch.zeros_like(cs[0])    # dL/dc_t arriving through the recurrence from step t+1
    for t in range(T - 1, -1, -1):
        ds, dc = ds + grad_ss[t], dc + grad_cs[t]
        dc_cell = torch.addcmul(dc, ds[:, :N], slopes["to_cell"][t])     # total dL/dc_t of this step's cell
        d = _deltas(ds, dc_cell, {name: v[t] for name, v in slopes.items()}, k, d_preact[t])
        ds_next, dc_next = d @ w_hh, dc_cell    # the carousel: weight 1
        if passed is not None:
            ds_next = torch.addcmul(ds_next, ds, passed[t])
            dc_next = torch.addcmul(dc_cell * own[t], dc, passed[t])
        ds, dc = ds_next, dc_next
    return d_preact, ds, dc


def _deltas(ds, dc, slopes: dict, k: int, out):
    """The pre-activations' deltas (..., U) into ``out`` from dL/ds (..., U) (outputs and gates as sources)
    and the cells' total dL/dc (..., N), of one step or of every step at once."""
    N = dc.shape[-1]
    blocks = (ds.shape[-1] - N) // 2
    torch.mul(dc, slopes["cell_input"], out=out[..., :N])
    torch.mul(_block_sum(dc * slopes["g"], k) + ds[..., N:N + blocks], slopes["write"], out=out[..., N:N + blocks])
    torch.mul(_block_sum(ds[..., :N] * slopes["h"], k) + ds[..., N + blocks:], slopes["read"], out=out[..., N + blocks:])
    return out


def _carried_to_last_step(grad, mask):
    """dL/ds_t of each real step, (T, B, U): a sequence's padding carries its last state on, so the
    gradients on the padding's (carried) states belong to its last real step."""
    padding = grad * (1 - mask)
    later = padding.flip(0).cumsum(0).flip(0)[1:]                  # summed over u > t
    last = mask[:-1] * (1 - mask[1:])                              # t real, t + 1 padding
    return torch.cat((grad[:-1] + last * later, grad[-1:]))


def _per_cell(gate, k: int):
    """(..., blocks) -> (..., blocks x k): each block's gate repeated for its k cells."""
    return gate.repeat_interleave(k, dim=-1)


def _block_sum(per_cell, k: int):
    """(..., blocks x k) -> (..., blocks): summed over each block's cells."""
    return per_cell.view(*per_cell.shape[:-1], -1, k).sum(-1)
