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
    h, c = h0, c0
    w_hh_t = w_hh.t()
    for t in range(T):
        a = torch.addmm(xproj[t], h, w_hh_t)
        if peephole is not None:
            a[:, :2 * H] += torch.cat((peephole[0] * c, peephole[1] * c), dim=1)
        g = gates[t]
        torch.sigmoid(a[:, :2 * H], out=g[:, :2 * H])
        torch.tanh(a[:, 3 * H:], out=g[:, 3 * H:])
        write, keep, cell_input = g[:, :H], g[:, H:2 * H], g[:, 3 * H:]
        c_new = keep * c + write * cell_input
        if cell_clip is not None:
            c_new = c_new.clamp(-cell_clip, cell_clip)
        a_read = a[:, 2 * H:3 * H]
        if peephole is not None:
            a_read = a_read + peephole[2] * c_new
        torch.sigmoid(a_read, out=g[:, 2 * H:3 * H])
        h_new = g[:, 2 * H:3 * H] * torch.tanh(c_new)
        if mask is not None:
            m = mask[t]
            h_new = m * h_new + (1 - m) * h
            c_new = m * c_new + (1 - m) * c
        hs[t] = h_new
        cs[t] = c_new
        h, c = hs[t], cs[t]
    return hs, cs, gates


def backward(grad_hs, grad_cs, h0, c0, hs, cs, gates, w_hh, peephole, mask, cell_clip):
    """BPTT through the recurrence.

    grad_hs, grad_cs: (T, B, H), dL/dh_t and dL/dc_t from outside the recurrence (the outputs);
    the rest as saved by ``forward``. Returns (d_preact (T, B, 4H), dL/dh0, dL/dc0), where
    d_preact[t] = dL/da_t is the delta at each gate's pre-activation (peephole inputs included).
    """
    T, B, H = hs.shape
    d_preact = torch.empty_like(gates)
    dh = torch.zeros_like(h0)   # dL/dh_t arriving through the recurrence from step t+1
    dc = torch.zeros_like(c0)   # dL/dc_t arriving through the recurrence from step t+1
    for t in range(T - 1, -1, -1):
        c_prev = cs[t - 1] if t > 0 else c0
        g = gates[t]
        write, keep, read, cell_input = g[:, :H], g[:, H:2 * H], g[:, 2 * H:3 * H], g[:, 3 * H:]
        # total deltas at the state of step t
        dh = dh + grad_hs[t]
        dc = dc + grad_cs[t]
        if mask is not None:
            # padding carries the state through unchanged: split the deltas into the step's own
            # part and the part that passes straight to step t-1
            m = mask[t]
            dh_carry, dc_carry = (1 - m) * dh, (1 - m) * dc
            dh, dc = m * dh, m * dc
        c_new = keep * c_prev + write * cell_input
        clipped = None
        if cell_clip is not None:
            clipped = c_new.abs() > cell_clip
            c_new = c_new.clamp(-cell_clip, cell_clip)
        tanh_c = torch.tanh(c_new)
        # delta at the read gate's pre-activation: h = read * tanh(c)
        d_read = dh * tanh_c * read * (1 - read)
        # delta at the new cell: through tanh(c) into h, and through the read peephole
        dc = dc + dh * read * (1 - tanh_c * tanh_c)
        if peephole is not None:
            dc = dc + d_read * peephole[2]
        if clipped is not None:
            dc = dc.masked_fill(clipped, 0)
        # deltas at the write gate, keep gate and cell input pre-activations: c = keep*c_prev + write*z
        d_write = dc * cell_input * write * (1 - write)
        d_keep = dc * c_prev * keep * (1 - keep)
        d_in = dc * write * (1 - cell_input * cell_input)
        d = d_preact[t]
        d[:, :H], d[:, H:2 * H], d[:, 2 * H:3 * H], d[:, 3 * H:] = d_write, d_keep, d_read, d_in
        # deltas handed to step t-1: the cell's linear self-connection (the constant error
        # carousel), the peepholes, and the recurrent weights
        dc = dc * keep
        if peephole is not None:
            dc = dc + d_write * peephole[0] + d_keep * peephole[1]
        dh = d @ w_hh
        if mask is not None:
            dh = dh + dh_carry
            dc = dc + dc_carry
    return d_preact, dh, dc
