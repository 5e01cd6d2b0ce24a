"""The LSTM recurrence in plain torch ops: the time loop of the fused path, forward and hand-derived BPTT.

Everything that does not depend on the recurrence (input projections, weight gradients, input
gradients) is done by the caller as one matrix product over all steps; these loops hold only what
must go step by step. ``unroll.time.native`` implements the same two functions in C++; a test holds
them equal. Gate columns follow ``cells.lstm.GATES``: [write | keep | read | cell_input], each H wide.

Shapes: T steps, B sequences, H units. ``mask`` (T, B, 1) holds 1 while a sequence runs and 0 on
its padding, where the state is carried unchanged.
"""
import torch


def forward(xproj, h0, c0, w_hh, peephole, mask, cell_clip):
    """Run the recurrence.

    xproj: (T, B, 4H) = x_t W_ih^T + b for every step; h0, c0: (B, H); w_hh: (4H, H);
    peephole: (3, H) or None; mask: (T, B, 1) or None; cell_clip: float or None.
    Returns hs, cs (T, B, H), the state after each step, and gates (T, B, 4H), the gate activations.
    """
    T, B, H4 = xproj.shape
    H = H4 // 4
    hs = xproj.new_empty(T, B, H)
    cs = xproj.new_empty(T, B, H)
    gates = xproj.new_empty(T, B, H4)
    runs = None if mask is None else mask.to(torch.bool)
    h, c = h0, c0
    w_hh_t = w_hh.t()
    for t in range(T):
        a = torch.addmm(xproj[t], h, w_hh_t)
        g = gates[t]
        write, keep, read, cell_input = g[:, :H], g[:, H:2 * H], g[:, 2 * H:3 * H], g[:, 3 * H:]
        if peephole is None:
            torch.sigmoid(a[:, :3 * H], out=g[:, :3 * H])
        else:   # write and keep gates see c_{t-1}
            a[:, :H].addcmul_(peephole[0], c)
            a[:, H:2 * H].addcmul_(peephole[1], c)
            torch.sigmoid(a[:, :2 * H], out=g[:, :2 * H])
        torch.tanh(a[:, 3 * H:], out=cell_input)
        c_new = torch.addcmul(keep * c, write, cell_input)
        if cell_clip is not None:
            c_new.clamp_(-cell_clip, cell_clip)
        if peephole is not None:   # the read gate sees c_t
            torch.sigmoid(a[:, 2 * H:3 * H].addcmul_(peephole[2], c_new), out=read)
        h_new = read * torch.tanh(c_new)
        if runs is None:
            hs[t], cs[t] = h_new, c_new
        else:   # padding carries the state unchanged
            torch.where(runs[t], h_new, h, out=hs[t])
            torch.where(runs[t], c_new, c, out=cs[t])
        h, c = hs[t], cs[t]
    return hs, cs, gates


def backward(grad_hs, grad_cs, h0, c0, hs, cs, gates, w_hh, peephole, mask, cell_clip):
    """BPTT through the recurrence.

    grad_hs, grad_cs: (T, B, H), dL/dh_t and dL/dc_t from outside the recurrence (the outputs);
    the rest as saved by ``forward``. Returns (d_preact (T, B, 4H), dL/dh0, dL/dc0), where
    d_preact[t] = dL/da_t is the delta at each gate's pre-activation (peephole inputs included).

    Every local derivative that does not depend on the deltas is computed for all steps at once
    before the loop, folded into three coefficient tensors, so each step is a handful of ops.
    """
    H = hs.shape[2]
    c_prev = torch.cat((c0.unsqueeze(0), cs[:-1]))
    write, keep, read, cell_input = gates.split(H, dim=2)
    tanh_c = torch.tanh(cs)  # on padding cs is carried, but every term there is masked to 0
    own = torch.ones_like(cs) if mask is None else mask.expand_as(cs)   # 1 where the step is real
    if cell_clip is not None:   # the clamp passes no gradient where it clipped
        own_cell = own * ((keep * c_prev + write * cell_input).abs() <= cell_clip)
    else:
        own_cell = own
    # h = read * tanh(c): dL/dc += dL/dh * to_cell, and the read gate's delta is dL/dh * read_slope
    read_slope = own * tanh_c * read * (1 - read)
    to_cell = read * (1 - tanh_c * tanh_c)
    if peephole is not None:
        to_cell = to_cell + tanh_c * read * (1 - read) * peephole[2]
    # c = keep * c_prev + write * z: deltas at the write, keep and cell-input pre-activations per
    # unit of dL/dc; the read block of `coef` takes dL/dh instead
    coef = torch.cat((own_cell * cell_input * write * (1 - write),
                      own_cell * c_prev * keep * (1 - keep),
                      read_slope,
                      own_cell * write * (1 - cell_input * cell_input)), dim=2)
    # dL/dc_{t-1} per unit of dL/dc_t: the linear self-connection (the constant error carousel)
    # and the write and keep peepholes
    carousel = keep
    if peephole is not None:
        carousel = keep + coef[..., :H] * peephole[0] + coef[..., H:2 * H] * peephole[1]
    carousel = own_cell * carousel
    passed = None if mask is None else 1 - mask   # padding hands its deltas straight to t-1

    d_preact = torch.empty_like(gates)
    dh = torch.zeros_like(h0)   # dL/dh_t arriving through the recurrence from step t+1
    dc = torch.zeros_like(c0)   # dL/dc_t arriving through the recurrence from step t+1
    for t in range(hs.shape[0] - 1, -1, -1):
        dh = dh + grad_hs[t]
        dc = dc + grad_cs[t]
        dc_cell = torch.addcmul(dc, dh, to_cell[t])   # total dL/dc_t of this step's cell
        d = torch.mul(torch.cat((dc_cell, dc_cell, dh, dc_cell), dim=1), coef[t], out=d_preact[t])
        dh_next = d @ w_hh
        dc_next = dc_cell * carousel[t]
        if passed is not None:
            dh_next = torch.addcmul(dh_next, dh, passed[t])
            dc_next = torch.addcmul(dc_next, dc, passed[t])
        dh, dc = dh_next, dc_next
    return d_preact, dh, dc
