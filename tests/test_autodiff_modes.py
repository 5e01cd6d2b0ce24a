"""Forward-mode AD and double backward: the reference path supports them, the fused path says it does not."""
import pytest
import torch
from torch.func import jvp

import unroll

from helpers import twin_layers


def _layer_fn(layer):
    return lambda x: layer(x)[0]


@pytest.mark.parametrize("kind", [unroll.LSTM, unroll.RNN])
def test_reference_jvp_matches_vjp(kind):
    ref, _ = twin_layers(kind, 2, 3)
    x = torch.randn(6, 2, 2, dtype=torch.float64)
    v = torch.randn_like(x)
    out, tangent = jvp(_layer_fn(ref), (x,), (v,))
    u = torch.randn_like(out)
    xr = x.clone().requires_grad_(True)
    (vjp,) = torch.autograd.grad(_layer_fn(ref)(xr), xr, u)
    # <u, J v> == <J^T u, v>
    torch.testing.assert_close((u * tangent).sum(), (vjp * v).sum(), atol=1e-12, rtol=0)


def test_reference_double_backward_gradcheck():
    ref, _ = twin_layers(unroll.LSTM, 2, 2, peephole=True)
    x = torch.randn(4, 2, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(_layer_fn(ref), (x,))


@pytest.mark.parametrize("kind", [unroll.LSTM, unroll.RNN])
def test_fused_path_refuses_forward_mode(kind):
    _, fus = twin_layers(kind, 2, 3)
    x = torch.randn(6, 2, 2, dtype=torch.float64)
    with pytest.raises(RuntimeError, match="no forward-mode AD.*backend='reference'"):
        jvp(_layer_fn(fus), (x,), (torch.ones_like(x),))


@pytest.mark.parametrize("kind", [unroll.LSTM, unroll.RNN])
def test_fused_path_refuses_double_backward(kind):
    _, fus = twin_layers(kind, 2, 3)
    x = torch.randn(6, 2, 2, dtype=torch.float64, requires_grad=True)
    with pytest.raises(RuntimeError, match="no double backward.*backend='reference'"):
        torch.autograd.grad(fus(x)[0].sum(), x, create_graph=True)
