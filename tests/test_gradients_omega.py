"""Pascanu et al.'s vanishing-gradient regulariser Omega: its formula, what it differentiates, and fit's use of it."""
import pytest
import torch

from unroll.data import make_task
from unroll.gradients import vanishing_gradient_regulariser
from unroll.train import FitConfig, build_model, fit

F64 = torch.float64


def _unrolled(seed=0, T=7, B=3, I=2, H=5, activation=torch.tanh):
    """A tanh RNN unrolled by hand in float64: (per-step states that keep their gradients, W_hh, the loss)."""
    g = torch.Generator().manual_seed(seed)
    W_ih = torch.randn(H, I, generator=g, dtype=F64)
    W_hh = (0.6 * torch.randn(H, H, generator=g, dtype=F64)).requires_grad_()
    x = torch.randn(T, B, I, generator=g, dtype=F64)
    readout = torch.randn(H, generator=g, dtype=F64)
    h, states = torch.zeros(B, H, dtype=F64), []
    for x_t in x.unbind(0):
        h = activation(x_t @ W_ih.T + h @ W_hh.T)
        h.retain_grad()
        states.append(h)
    return states, W_hh, readout


def test_omega_is_the_papers_sum_over_steps_with_total_errors_backpropagated_through_time():
    states, W_hh, readout = _unrolled()
    hidden = torch.stack(states)
    # a loss reading two steps, so the total dE/dh_t mixes a direct and a backpropagated part
    direct_loss = lambda H: (H[-1] @ readout).pow(2).sum() + (H[3] @ readout).sin().sum()
    direct_loss(hidden).backward(retain_graph=True)
    total = [h.grad for h in states]                                   # dE/dh_t through every path
    leaf = hidden.detach().requires_grad_()
    d_hidden, = torch.autograd.grad(direct_loss(leaf), leaf)           # through step t's output only

    expected = 0.0
    for t in range(len(states) - 1):
        for b in range(hidden.shape[1]):
            jacobian = torch.diag(1 - states[t + 1].detach()[b] ** 2) @ W_hh     # dh_{t+1}/dh_t
            error = total[t + 1][b]
            expected = expected + ((error @ jacobian).norm() / error.norm() - 1) ** 2 / hidden.shape[1]
    W_hh.grad = None
    omega = vanishing_gradient_regulariser(hidden.detach(), d_hidden, W_hh, "tanh")
    assert omega.item() == pytest.approx(expected.item(), rel=1e-10)
    # differentiated through W_hh only: dE/dh and f' held constant, as in the paper
    want, = torch.autograd.grad(expected, W_hh, retain_graph=True)
    got, = torch.autograd.grad(omega, W_hh)
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)
    # the authors' code's normalisation: the mean over the steps (every step here carries an error)
    mean = vanishing_gradient_regulariser(hidden.detach(), d_hidden, W_hh, "tanh", reduction="mean")
    assert mean.item() == pytest.approx(expected.item() / (len(states) - 1), rel=1e-10)
    with pytest.raises(ValueError, match="reduction: expected 'sum' or 'mean'"):
        vanishing_gradient_regulariser(hidden.detach(), d_hidden, W_hh, "tanh", reduction="max")


def test_omega_is_zero_when_every_step_keeps_the_errors_norm():
    H = 6
    W = torch.linalg.qr(torch.randn(H, H, generator=torch.Generator().manual_seed(1), dtype=F64))[0]
    hidden = torch.randn(9, 4, H, dtype=F64)
    d_hidden = torch.randn(9, 4, H, dtype=F64)
    assert vanishing_gradient_regulariser(hidden, d_hidden, W, "linear").item() == pytest.approx(0, abs=1e-20)


def test_omega_rises_as_the_recurrent_weights_shrink():
    hidden, d_hidden = torch.zeros(6, 2, 4, dtype=F64), torch.zeros(6, 2, 4, dtype=F64)
    d_hidden[-1] = 1.0
    values = [vanishing_gradient_regulariser(hidden, d_hidden, s * torch.eye(4, dtype=F64), "tanh").item()
              for s in (1.0, 0.5, 0.1)]
    assert values[0] == pytest.approx(0) and values[0] < values[1] < values[2]
    assert values[1] == pytest.approx(5 * 0.5 ** 2)       # five steps, each (0.5 - 1)^2


def test_omega_stays_finite_when_the_errors_explode_past_float32():
    # W = 20 I: each step multiplies the error by 20, so over 40 steps dE/dh reaches 20^39 ~ 5e50, past float32
    hidden, d_hidden = torch.zeros(40, 2, 4), torch.zeros(40, 2, 4)
    d_hidden[-1] = 1.0
    weight = (20 * torch.eye(4)).requires_grad_(True)
    omega = vanishing_gradient_regulariser(hidden, d_hidden, weight, "tanh")
    assert omega.item() == pytest.approx(39 * 19 ** 2)     # 39 steps, each (20 - 1)^2
    omega.backward()
    assert torch.isfinite(weight.grad).all() and weight.grad.abs().sum() > 0


def test_omega_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"hidden, d_hidden, recurrent_weight: expected"):
        vanishing_gradient_regulariser(torch.zeros(5, 2, 3), torch.zeros(5, 2, 3), torch.zeros(4, 4), "tanh")


def test_fit_with_omega_trains_and_keeps_errors_from_vanishing():
    """Same seed and data, with and without Omega: the regulariser moves the weights, the run still learns,
    and its recurrent matrix propagates errors better (a larger spectral radius)."""
    task = make_task("temporal-order-2bit-2011", length=30)
    radii = {}
    for weight in (0.0, 4.0):
        torch.manual_seed(0)
        model = build_model("rnn", task.input_size, task.output_size, 16)
        with torch.no_grad():
            model.layer.cells[0].weight_hh.mul_(0.3)              # start with vanishing errors
        config = FitConfig(steps=60, batch_size=20, optimizer="sgd", lr=0.01, clip_norm=1.0, omega=weight,
                           eval_every=60, eval_size=64, stop_when_solved=False)
        result = fit(model, task, config, quiet=True)
        assert result.steps == 60
        radii[weight] = torch.linalg.eigvals(model.layer.cells[0].weight_hh.detach()).abs().max().item()
    assert radii[4.0] > 1.1 * radii[0.0]


def test_omega_needs_a_one_layer_rnn_and_full_bptt():
    task = make_task("recall")
    with pytest.raises(ValueError, match="omega: the regulariser needs a SequenceModel over a one-layer"):
        fit(build_model("lstm", 2, 1, 4), task, FitConfig(steps=1, omega=1.0), quiet=True)
    with pytest.raises(ValueError, match="omega: the regulariser needs full BPTT"):
        FitConfig(omega=1.0, tbptt=[5, 5])
    with pytest.raises(ValueError, match="omega: expected a number >= 0"):
        FitConfig(omega=-1.0)
    with pytest.raises(ValueError, match="omega_reduction: expected 'sum' or 'mean'"):
        FitConfig(omega=1.0, omega_reduction="median")
