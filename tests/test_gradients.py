"""Gradient health: clipping, per-step gradient norms through time, the sequential Jacobian."""
import math

import pytest
import torch

import unroll
from unroll import FullyRecurrentCell, LSTMCell, step_mask
from unroll.gradients import (NonFiniteGradientError, clip_grad_norm, clip_grad_value,
                              gradient_norms_through_time, input_sensitivity, sequential_jacobian)
from unroll.time import fused

torch.set_num_threads(1)

F64 = torch.float64


def named_with_grads(seed=0, scale=1.0):
    """Three float64 parameters with random gradients, as (name, parameter) pairs."""
    g = torch.Generator().manual_seed(seed)
    params = []
    for name, shape in (("weight_ih", (4, 3)), ("weight_hh", (4, 4)), ("bias", (4,))):
        p = torch.nn.Parameter(torch.randn(shape, generator=g, dtype=F64))
        p.grad = scale * torch.randn(shape, generator=g, dtype=F64)
        params.append((name, p))
    return params


def grads_of(named):
    return [p.grad.clone() for _, p in named]


def total_norm(grads):
    return math.sqrt(sum(float((g.double() ** 2).sum()) for g in grads))


# ---- clip_grad_norm ------------------------------------------------------------------------------

def test_clip_grad_norm_below_threshold_leaves_gradients_untouched():
    named = named_with_grads()
    before = grads_of(named)
    norm = total_norm(before)
    assert clip_grad_norm(named, 2 * norm) == pytest.approx(norm, rel=1e-14)
    for (_, p), g in zip(named, before):
        assert torch.equal(p.grad, g)


@pytest.mark.parametrize("as_names", [True, False])
def test_clip_grad_norm_above_threshold_rescales_to_the_threshold_keeping_direction(as_names):
    named = named_with_grads(scale=10.0)
    before = grads_of(named)
    norm = total_norm(before)
    max_norm = norm / 7
    returned = clip_grad_norm(named if as_names else [p for _, p in named], max_norm)
    assert returned == pytest.approx(norm, rel=1e-14)
    after = grads_of(named)
    assert abs(total_norm(after) - max_norm) < 1e-12
    flat_before = torch.cat([g.flatten() for g in before])
    flat_after = torch.cat([g.flatten() for g in after])
    cosine = torch.dot(flat_before, flat_after) / (flat_before.norm() * flat_after.norm())
    assert abs(float(cosine) - 1) < 1e-14
    torch.testing.assert_close(flat_after, flat_before * (max_norm / norm), rtol=1e-14, atol=0)


def test_clip_grad_norm_returns_the_same_norm_as_torch():
    named = named_with_grads(scale=3.0)
    twin = [torch.nn.Parameter(p.detach().clone()) for _, p in named]
    for t, (_, p) in zip(twin, named):
        t.grad = p.grad.clone()
    expected = float(torch.nn.utils.clip_grad_norm_(twin, 1.0))
    assert clip_grad_norm(named, 1.0) == pytest.approx(expected, rel=1e-14)


def test_clip_grad_norm_rescales_float32_gradients_whose_norm_overflows_float32():
    """An exploding float32 gradient (1e30 squared overflows float32) is clipped, not reported as inf."""
    p = torch.nn.Parameter(torch.zeros(4))
    p.grad = torch.full((4,), 1e30)
    assert clip_grad_norm([p], 1.0) == pytest.approx(2e30, rel=1e-6)
    torch.testing.assert_close(p.grad, torch.full((4,), 0.5))


def test_clip_grad_norm_refuses_a_total_norm_that_overflows_float64():
    named = named_with_grads()
    named[0][1].grad.fill_(1e200)
    before = grads_of(named)
    with pytest.raises(NonFiniteGradientError, match="overflows float64"):
        clip_grad_norm(named, 1.0)
    for (_, p), g in zip(named, before):
        assert torch.equal(p.grad, g)


def test_clip_grad_norm_skips_parameters_without_gradient():
    named = named_with_grads()
    named[1][1].grad = None
    norm = total_norm([p.grad for _, p in named if p.grad is not None])
    assert clip_grad_norm(named, 1e9) == pytest.approx(norm, rel=1e-14)
    assert clip_grad_norm([torch.nn.Parameter(torch.zeros(2))], 1.0) == 0.0


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize("clip", ["norm", "value"])
def test_non_finite_gradients_raise_naming_the_parameter_and_stay_unchanged(bad, clip):
    named = named_with_grads()
    named[1][1].grad[2, 3] = bad
    before = grads_of(named)
    with pytest.raises(NonFiniteGradientError) as err:
        if clip == "norm":
            clip_grad_norm(named, 1e-3)
        else:
            clip_grad_value(named, 1e-3)
    message = str(err.value)
    assert "weight_hh" in message and "weight_ih" not in message and "bias" not in message
    assert ("nan" if math.isnan(bad) else "inf") in message
    assert "\n" not in message
    assert isinstance(err.value, FloatingPointError)
    for (_, p), g in zip(named, before):
        torch.testing.assert_close(p.grad, g, rtol=0, atol=0, equal_nan=True)


def test_non_finite_error_names_every_offender_and_indexes_unnamed_parameters():
    params = [p for _, p in named_with_grads()]
    params[0].grad[0, 0] = float("nan")
    params[2].grad[1] = float("inf")
    with pytest.raises(NonFiniteGradientError, match=r"parameters\[0\] \(nan\), parameters\[2\] \(inf\)"):
        clip_grad_norm(params, 1.0)


@pytest.mark.parametrize("bad", [0, -1.0, float("nan")])
def test_clip_thresholds_must_be_positive(bad):
    named = named_with_grads()
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm(named, bad)
    with pytest.raises(ValueError, match="clip_value"):
        clip_grad_value(named, bad)


def test_clip_arguments_of_the_wrong_type_raise_type_error():
    named = named_with_grads()
    with pytest.raises(TypeError, match="max_norm"):
        clip_grad_norm(named, "1.0")
    with pytest.raises(TypeError, match="parameters"):
        clip_grad_norm([("weight", "not a tensor")], 1.0)


# ---- clip_grad_value -----------------------------------------------------------------------------

def test_clip_grad_value_clips_each_element_to_the_bounds():
    named = named_with_grads(scale=3.0)
    before = grads_of(named)
    clip_grad_value(named, 1.5)
    for (_, p), g in zip(named, before):
        assert float(p.grad.abs().max()) <= 1.5
        assert torch.equal(p.grad, g.clamp(-1.5, 1.5))
    assert any(bool((g.abs() > 1.5).any()) for g in before)
    assert any(bool((g.abs() < 1.5).any()) for g in before)


# ---- gradient_norms_through_time -----------------------------------------------------------------

def sequence_loss(ys, final_state):
    """A loss that weighs every output step differently and also reads the final hidden state."""
    h = final_state[0] if isinstance(final_state, tuple) else final_state
    weights = torch.linspace(0.5, 1.5, ys.numel(), dtype=ys.dtype).view_as(ys)
    readout = torch.linspace(-1, 1, h.shape[-1], dtype=h.dtype)
    return (weights * ys ** 2).sum() + ys.sin().sum() + (h * readout).sum()


def loss_with_offsets(cell, x, offsets, mask=None):
    """``sequence_loss`` of an unrolling whose fresh hidden activation at step t is shifted by offsets[t].

    Written independently of ``unroll``: d loss / d offsets[t] at offsets = 0 is dL/dh_t.
    """
    state = cell.initial_state(x.shape[1])
    ys = []
    for t, x_t in enumerate(x.unbind(0)):
        _, new, _ = cell.step(x_t, state)
        if isinstance(new, tuple):
            h = new[0] + offsets[t]
            new, y = (h, new[1]), h
        else:
            new = new + offsets[t]
            y = cell.read_out(new)
        if mask is not None:
            m = mask[t].to(torch.bool)
            new = tuple(torch.where(m, a, b) for a, b in zip(new, state)) if isinstance(new, tuple) \
                else torch.where(m, new, state)
            y = torch.where(m, y, torch.zeros_like(y))
        state = new
        ys.append(y)
    return sequence_loss(torch.stack(ys), state)


def make_cell(kind, seed=0):
    torch.manual_seed(seed)
    if kind == "lstm":
        return LSTMCell(3, 4, peephole=True, dtype=F64)
    return FullyRecurrentCell(3, 5, activation=("tanh", "logistic", "tanh", "tanh", "logistic"),
                              output_units=[0, 2, 3], dtype=F64)


@pytest.mark.parametrize("kind", ["lstm", "rnn"])
@pytest.mark.parametrize("lengths", [None, torch.tensor([7, 3, 5])])
def test_gradient_norms_equal_the_gradients_with_respect_to_per_step_offsets(kind, lengths):
    cell = make_cell(kind)
    T, B = 7, 3
    x = torch.randn(T, B, 3, generator=torch.Generator().manual_seed(1), dtype=F64)
    mask = None if lengths is None else step_mask(lengths, T, F64)
    ys, final, trace = unroll.unroll(cell, x, mask=mask)
    loss = sequence_loss(ys, final)

    units = 4 if kind == "lstm" else 5
    offsets = torch.zeros(T, B, units, dtype=F64, requires_grad=True)
    (expected,) = torch.autograd.grad(loss_with_offsets(cell, x, offsets, mask), offsets)

    per_sequence = gradient_norms_through_time(loss, trace, per_sequence=True)
    assert per_sequence.shape == (T, B)
    torch.testing.assert_close(per_sequence, expected.norm(dim=2), rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(gradient_norms_through_time(loss, trace), expected.norm(dim=(1, 2)),
                               rtol=1e-12, atol=1e-14)
    if lengths is not None:  # a padded step's activation is discarded: no gradient reaches it
        padding = torch.arange(T).unsqueeze(1) >= lengths
        assert bool((per_sequence[padding] == 0).all()) and bool((per_sequence[~padding] > 0).all())
    loss.backward()  # the graph was kept


def test_gradient_norms_match_central_finite_differences_on_a_tiny_net():
    cell = make_cell("rnn", seed=3)
    T, B, N = 5, 2, 5
    x = torch.randn(T, B, 3, generator=torch.Generator().manual_seed(4), dtype=F64)
    ys, final, trace = unroll.unroll(cell, x)
    norms = gradient_norms_through_time(sequence_loss(ys, final), trace)

    eps = 1e-6  # central differences: truncation ~eps^2, rounding ~1e-16/eps, both far below 1e-7
    numeric = torch.zeros(T, B, N, dtype=F64)
    with torch.no_grad():
        for index in range(numeric.numel()):
            offsets = torch.zeros(T * B * N, dtype=F64)
            offsets[index] = eps
            up = loss_with_offsets(cell, x, offsets.view(T, B, N))
            down = loss_with_offsets(cell, x, -offsets.view(T, B, N))
            numeric.view(-1)[index] = (up - down) / (2 * eps)
    torch.testing.assert_close(norms, numeric.norm(dim=(1, 2)), rtol=1e-7, atol=0)


def log_slope(values):
    """Least-squares slope of log(values) against their index."""
    k = torch.arange(len(values), dtype=F64)
    logs = values.log()
    return float(((k - k.mean()) * (logs - logs.mean())).sum() / ((k - k.mean()) ** 2).sum())


def test_gradient_norms_vanish_geometrically_at_the_spectral_radius_of_a_contracting_tanh_net():
    """Tiny inputs keep h near 0, where tanh' = 1, so dL/dh_{T-1-k} = (W^T)^k g and, by Gelfand's
    formula, ||(W^T)^k g|| ~ rho^k up to a slowly varying factor (non-normal transients, rotating
    complex eigen-pairs). Fitting k = 10..59 steps back, the slope stayed within 0.05 of log(rho) over
    200 seeds of this setup; 0.07 (a per-step ratio in 0.47..0.54) is still far from no decay (0)."""
    N, T, rho = 16, 60, 0.5
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    cell = FullyRecurrentCell(3, N, dtype=F64)
    with torch.no_grad():
        w = torch.randn(N, N, generator=g, dtype=F64)
        cell.weight_hh.copy_(w * rho / torch.linalg.eigvals(w).abs().max())
        cell.weight_ih.mul_(1e-3)
        cell.bias.zero_()
    x = torch.randn(T, 2, 3, generator=g, dtype=F64)
    ys, _, trace = unroll.unroll(cell, x)
    loss = (ys[-1] * torch.randn(N, generator=g, dtype=F64)).sum()  # the last step only
    steps_back = gradient_norms_through_time(loss, trace).flip(0)
    slope = log_slope(steps_back[10:])
    assert slope < 0
    assert abs(slope - math.log(rho)) < 0.07


def lstm_last_step_norms(keep_gate_bias, T, seed=0):
    """Per-step gradient norms of an LSTM (weak recurrent weights) with the loss on its last output."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    cell = LSTMCell(3, 8, keep_gate_bias=keep_gate_bias, dtype=F64)
    with torch.no_grad():
        cell.weight_hh.mul_(0.3)
    x = torch.randn(T, 8, 3, generator=g, dtype=F64)
    ys, _, trace = unroll.unroll(cell, x)
    loss = (ys[-1] * torch.randn(8, generator=g, dtype=F64)).sum()
    return gradient_norms_through_time(loss, trace)


def test_lstm_with_a_large_keep_gate_bias_carries_gradients_over_fifty_steps():
    """With keep ~ sigmoid(10) = 1 - 5e-5 the memory cells pass dL/dc back unchanged (0.998 over 50
    steps), so dL/dh_t = W_hh^T (gate deltas at t+1) only fluctuates with each step's gates. The last 4 steps
    also get the short path through the read gate and are left out; the recurrent weights are scaled
    by 0.3 so the ordinary h -> gates -> h path (which vanishes or explodes) stays a small correction.
    Over 100 seeds the spread (max / min) was 1.9 in the median and 5.0 at worst, while with keep-gate
    bias 1 it was 1.8e5 at least."""
    T = 54
    remembering = lstm_last_step_norms(10.0, T)[: T - 4]
    forgetting = lstm_last_step_norms(1.0, T)[: T - 4]
    assert float(remembering.max() / remembering.min()) < 8
    assert float(forgetting.max() / forgetting.min()) > 1e3


def test_gradient_norms_reject_bad_losses_and_traces():
    cell = make_cell("lstm")
    x = torch.randn(3, 2, 3, dtype=F64)
    ys, _, trace = unroll.unroll(cell, x)
    with pytest.raises(ValueError, match="loss"):
        gradient_norms_through_time(ys.sum(0), trace)
    with pytest.raises(ValueError, match="loss"):
        gradient_norms_through_time(ys.sum().detach(), trace)
    with pytest.raises(ValueError, match="trace"):
        gradient_norms_through_time(ys.sum(), unroll.Trace())
    ys, _, internals = unroll.fused_unroll(cell, x)
    with pytest.raises(TypeError, match="trace"):
        gradient_norms_through_time(ys.sum(), internals)


# ---- sequential_jacobian -------------------------------------------------------------------------

@pytest.fixture(params=["reference", "fused", "fused-torch"])
def backend(request, monkeypatch):
    """The layers' backends; "fused-torch" runs the fused path with its plain-torch time loops."""
    if request.param == "fused-torch":
        monkeypatch.setattr(fused, "_use_native", lambda t: False)
        return "fused"
    return request.param


def lstm_layer(backend, bidirectional=False):
    torch.manual_seed(0)
    return unroll.LSTM(3, 4, bidirectional=bidirectional, backend=backend, dtype=F64)


def one_sequence(T=9, seed=5):
    return torch.randn(T, 3, generator=torch.Generator().manual_seed(seed), dtype=F64)


@pytest.mark.parametrize("t_out", [0, 4, 8])
def test_sequential_jacobian_agrees_with_torch_jacobian(backend, t_out):
    layer = lstm_layer(backend)
    x = one_sequence()
    jacobian = sequential_jacobian(layer, x, t_out)
    expected = torch.autograd.functional.jacobian(lambda s: layer(s.unsqueeze(1))[0][t_out, 0], x)
    assert jacobian.shape == (4, 9, 3)
    torch.testing.assert_close(jacobian, expected, rtol=0, atol=1e-12)
    as_batch_of_one = sequential_jacobian(layer, x.unsqueeze(1), t_out - 9)  # same step, counted from the end
    torch.testing.assert_close(as_batch_of_one, jacobian, rtol=0, atol=0)


def test_sequential_jacobian_is_causal_for_a_unidirectional_layer(backend):
    t_out = 4
    sensitivity = input_sensitivity(sequential_jacobian(lstm_layer(backend), one_sequence(), t_out))
    assert bool((sensitivity[t_out + 1:] == 0).all())
    assert bool((sensitivity[: t_out + 1] > 1e-6).all())


def test_sequential_jacobian_sees_the_future_in_a_bidirectional_layer(backend):
    t_out = 4
    jacobian = sequential_jacobian(lstm_layer(backend, bidirectional=True), one_sequence(), t_out)
    assert jacobian.shape == (8, 9, 3)
    assert bool((input_sensitivity(jacobian) > 1e-6).all())
    forward_half, backward_half = input_sensitivity(jacobian[:4]), input_sensitivity(jacobian[4:])
    assert bool((forward_half[t_out + 1:] == 0).all()) and bool((backward_half[:t_out] == 0).all())


def test_input_sensitivity_is_the_frobenius_norm_of_each_input_step():
    jacobian = torch.randn(4, 6, 3, generator=torch.Generator().manual_seed(0), dtype=F64)
    expected = torch.stack([torch.linalg.matrix_norm(jacobian[:, t, :]) for t in range(6)])
    torch.testing.assert_close(input_sensitivity(jacobian), expected, rtol=1e-15, atol=0)
    with pytest.raises(ValueError, match="jacobian"):
        input_sensitivity(jacobian[0])


def test_sequential_jacobian_rejects_bad_arguments():
    layer = lstm_layer("reference")
    x = one_sequence()
    with pytest.raises(ValueError, match="t_out"):
        sequential_jacobian(layer, x, 9)
    with pytest.raises(ValueError, match="t_out"):
        sequential_jacobian(layer, x, 1.0)
    with pytest.raises(ValueError, match="x"):
        sequential_jacobian(layer, torch.randn(9, 2, 3, dtype=F64), 0)
    with pytest.raises(TypeError, match="x"):
        sequential_jacobian(layer, torch.zeros(9, 3, dtype=torch.int64), 0)
    with pytest.raises(ValueError, match="fn"):
        sequential_jacobian(lambda s: layer(s)[0][:, :, 0], x, 0)
    with pytest.raises(ValueError, match="fn"):
        sequential_jacobian(lambda s: layer(s.detach())[0], x, 0)
