"""The fully recurrent net's recurrence in plain torch ops: the fused path's time loop and its BPTT.

h_t = f(xproj_t + h_{t-1} W_hh^T), with f chosen per unit. Input projections and weight gradients
are the caller's, as one matrix product over all steps. ``unroll.time.native`` implements the same
two functions in C++; a test holds them equal.

Shapes: T steps, B sequences, N units; ``mask`` (T, B, 1) is 1 while a sequence runs, 0 on padding.
"""
import torch

from ..cells import activations


def forward(xproj, h0, w_hh, activation, mask):
    """xproj: (T, B, N); h0: (B, N); w_hh: (N, N); activation: N names; mask: (T, B, 1) or None.

    Returns hs (T, B, N), the activities after each step.
    """
    hs = torch.empty_like(xproj)
    runs = None if mask is None else mask.to(torch.bool)
    h = h0
    w_hh_t = w_hh.t()
    for t in range(xproj.shape[0]):
        h_new = activations.apply_per_unit(torch.addmm(xproj[t], h, w_hh_t), activation)
        if runs is None:
            hs[t] = h_new
        else:   # padding carries the state unchanged
            torch.where(runs[t], h_new, h, out=hs[t])
        h = hs[t]
    return hs


def backward(grad_hs, h0, hs, w_hh, activation, mask):
    """grad_hs: (T, B, N), dL/dh_t from the outputs. Returns (d_preact (T, B, N), dL/dh0)."""
    d_preact = torch.empty_like(hs)
    slope = activations.derivative_per_unit(hs, activation)  # f'(a_t) for every step at once
    if mask is not None:
        slope = slope * mask
    dh = torch.zeros_like(h0)  # dL/dh_t arriving through the recurrence from step t+1
    for t in range(hs.shape[0] - 1, -1, -1):
        dh = dh + grad_hs[t]
        d = torch.mul(dh, slope[t], out=d_preact[t])  # delta at the units' pre-activations
        carry = dh * (1 - mask[t]) if mask is not None else None
        dh = d @ w_hh
        if carry is not None:
            dh = dh + carry
    return d_preact, dh
