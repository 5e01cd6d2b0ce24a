"""Truncated BPTT(k1, k2): windows, gradients and state carrying."""
import pytest
import torch
from torch import nn

import unroll

from helpers import twin_layers


def _model(layer):
    torch.manual_seed(5)
    readout = nn.Linear(4, 1, dtype=torch.float64)

    def forward(x, state):
        y, state = layer(x, state)
        return readout(y), state
    return forward, [*layer.parameters(), *readout.parameters()]


def _train(layer, k1, k2, T=23):
    forward, params = _model(layer)
    opt = torch.optim.SGD(params, lr=0.1)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(T, 3, 2, dtype=torch.float64, generator=g)
    y = torch.randn(T, 3, 1, dtype=torch.float64, generator=g)

    def update():
        opt.step()
        opt.zero_grad()
    losses, state = unroll.truncated_bptt(forward, x, y, nn.functional.mse_loss, k1, k2, update=update)
    return losses, state, params


@pytest.mark.parametrize("k1,k2", [(5, 5), (5, 12), (4, 7)])
def test_fused_and_reference_train_identically(k1, k2):
    ref, fus = twin_layers(unroll.LSTM, 2, 4, peephole=True)
    losses_r, state_r, params_r = _train(ref, k1, k2)
    losses_f, state_f, params_f = _train(fus, k1, k2)
    assert len(losses_r) == -(-23 // k1)
    torch.testing.assert_close(torch.tensor(losses_f), torch.tensor(losses_r), atol=1e-10, rtol=0)
    for a, b in zip(params_f, params_r):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)
    for a, b in zip(state_f, state_r):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)


def test_one_window_is_full_bptt():
    ref, _ = twin_layers(unroll.RNN, 2, 4)
    forward, params = _model(ref)
    x = torch.randn(10, 3, 2, dtype=torch.float64)
    y = torch.randn(10, 3, 1, dtype=torch.float64)
    unroll.truncated_bptt(forward, x, y, nn.functional.mse_loss, 10)
    truncated = [p.grad.clone() for p in params]
    for p in params:
        p.grad = None
    nn.functional.mse_loss(forward(x, None)[0], y).backward()
    for a, p in zip(truncated, params):
        torch.testing.assert_close(a, p.grad, atol=1e-12, rtol=0)


def test_gradient_stops_k2_steps_back():
    """With k1=3, k2=6 the second window's gradient must ignore inputs before step 0 of its reach."""
    ref, _ = twin_layers(unroll.RNN, 1, 4)
    forward, params = _model(ref)
    x = torch.randn(12, 1, 1, dtype=torch.float64, requires_grad=True)
    y = torch.zeros(12, 1, 1, dtype=torch.float64)
    grads = []
    unroll.truncated_bptt(forward, x, y, nn.functional.mse_loss, 3, 6,
                          update=lambda: grads.append(x.grad.clone()) or x.grad.zero_())
    last = grads[-1][:, 0, 0]           # window ending at 12 reaches back to step 6
    assert torch.all(last[:6] == 0) and torch.all(last[6:] != 0)


def test_bad_windows():
    with pytest.raises(ValueError, match="k2: expected k2 >= k1"):
        unroll.truncated_bptt(lambda x, s: (x, s), torch.zeros(4, 1, 1), torch.zeros(4, 1, 1),
                              nn.functional.mse_loss, 3, 2)
    with pytest.raises(ValueError, match="k1: expected a positive int"):
        unroll.truncated_bptt(lambda x, s: (x, s), torch.zeros(4, 1, 1), torch.zeros(4, 1, 1),
                              nn.functional.mse_loss, 0)
