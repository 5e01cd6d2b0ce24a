"""Reservoir: spectral radius, echo-state property, leak, feedback, noise, sparse storage, bad arguments."""
import pytest
import torch

from unroll.init import spectral_radius
from unroll.reservoir import Reservoir

F64 = torch.float64


@pytest.mark.parametrize("units, connectivity, sparse", [(50, 0.2, False), (300, 0.03, None), (600, 0.01, True)])
def test_spectral_radius_is_hit_within_one_percent(units, connectivity, sparse):
    r = Reservoir(1, units, spectral_radius=1.25, connectivity=connectivity, sparse=sparse, dtype=F64, seed=1)
    dense = r.weight.to_dense()
    exact = float(torch.linalg.eigvals(dense).abs().max())
    assert exact == pytest.approx(1.25, rel=0.01)
    assert spectral_radius(r.weight) == pytest.approx(exact, rel=1e-6)
    assert ((dense != 0).sum(1) == max(1, round(connectivity * units))).all()
    assert r.sparse == (units >= 500 if sparse is None else sparse)


def test_echo_state_property_two_initial_states_converge_under_the_same_input():
    r = Reservoir(2, 100, spectral_radius=0.9, leak=0.5, bias_scaling=0.2, dtype=F64, seed=2)
    u = torch.rand(300, 1, 2, generator=torch.Generator().manual_seed(0), dtype=F64) * 2 - 1
    starts = torch.rand(2, 100, generator=torch.Generator().manual_seed(1), dtype=F64) * 2 - 1
    a, _ = r(u, starts[:1])
    b, _ = r(u, starts[1:])
    gap = (a - b).norm(dim=(1, 2))
    assert gap[0] > 0.5
    assert gap[-1] < 1e-8 * gap[0]
    assert (gap[1:] <= gap[:-1] * 1.5).all()          # shrinks (apart from transient wobbles)


def test_a_step_is_the_leaky_tanh_update_with_feedback_bias_and_per_unit_leak():
    gen = torch.Generator().manual_seed(3)
    leak = torch.rand(20, generator=gen, dtype=F64) * 0.9 + 0.1
    r = Reservoir(3, 20, leak=leak, bias_scaling=0.5, feedback_size=2, dtype=F64, seed=3)
    u, fb = torch.randn(5, 4, 3, generator=gen, dtype=F64), torch.randn(5, 4, 2, generator=gen, dtype=F64)
    x0 = torch.randn(4, 20, generator=gen, dtype=F64)
    states, last = r(u, x0, fb)
    x = x0
    for t in range(5):
        new = torch.tanh(x @ r.weight.T + u[t] @ r.weight_in.T + fb[t] @ r.weight_fb.T + r.bias)
        x = (1 - leak) * x + leak * new
        torch.testing.assert_close(states[t], x)
        torch.testing.assert_close(r.step(u[t], states[t - 1] if t else x0, fb[t]), x)
    assert torch.equal(last, states[-1])


def test_sparse_dense_and_float32_runs_agree():
    u = torch.randn(50, 3, 1, generator=torch.Generator().manual_seed(4), dtype=F64)
    dense = Reservoir(1, 80, connectivity=0.05, leak=0.7, sparse=False, dtype=F64, seed=5)
    sparse = Reservoir(1, 80, connectivity=0.05, leak=0.7, sparse=True, dtype=F64, seed=5)
    single = Reservoir(1, 80, connectivity=0.05, leak=0.7, seed=5)
    assert sparse.weight.layout == torch.sparse_csr and dense.weight.layout == torch.strided
    torch.testing.assert_close(sparse(u)[0], dense(u)[0])
    torch.testing.assert_close(single(u.float())[0], dense(u)[0].float(), atol=1e-5, rtol=1e-5)


def test_seeded_weights_reproduce_and_input_connectivity_is_a_fraction():
    a, b = Reservoir(4, 200, input_connectivity=0.25, seed=7), Reservoir(4, 200, input_connectivity=0.25, seed=7)
    c = Reservoir(4, 200, input_connectivity=0.25, seed=8)
    assert torch.equal(a.weight, b.weight) and torch.equal(a.weight_in, b.weight_in)
    assert not torch.equal(a.weight, c.weight)
    assert 0.2 < float((a.weight_in != 0).float().mean()) < 0.3
    assert float(a.weight_in.abs().max()) <= 1.0


def test_state_noise_is_seeded_and_only_where_asked():
    r = Reservoir(1, 30, dtype=F64)
    u = torch.zeros(20, 1, 1, dtype=F64)
    quiet, _ = r(u)
    assert torch.equal(quiet, torch.zeros_like(quiet))
    noisy, _ = r(u, noise=0.1, generator=torch.Generator().manual_seed(0))
    again, _ = r(u, noise=0.1, generator=torch.Generator().manual_seed(0))
    assert torch.equal(noisy, again) and 0.01 < float(noisy.std()) < 0.5


def test_given_weights_are_used_as_they_are():
    w = torch.randn(10, 10, dtype=F64)
    r = Reservoir(2, 10, weight=w, weight_in=torch.ones(10, 2), bias=torch.zeros(10), dtype=F64)
    assert torch.equal(r.weight, w) and torch.equal(r.weight_in, torch.ones(10, 2, dtype=F64))


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(leak=-0.1), ValueError, r"leak: expected values in \(0, 1\]"),
    (dict(leak=1.5), ValueError, "leak"),
    (dict(leak=torch.ones(3)), ValueError, r"leak: expected a number or one per unit \(10,\)"),
    (dict(spectral_radius=0.0), ValueError, "spectral_radius: expected a positive number"),
    (dict(spectral_radius=-1.0), ValueError, "spectral_radius"),
    (dict(connectivity=0.0), ValueError, r"connectivity: expected a number in \(0, 1\]"),
    (dict(input_connectivity=2.0), ValueError, "input_connectivity"),
    (dict(input_scaling=[1.0, 2.0, 3.0]), ValueError, r"input_scaling: expected a number or one per input \(2,\)"),
    (dict(weight=torch.zeros(10, 9)), ValueError, r"weight: expected shape \(10, 10\)"),
    (dict(weight_in=torch.zeros(10, 3)), ValueError, r"weight_in: expected shape \(10, 2\)"),
    (dict(bias=torch.zeros(11)), ValueError, r"bias: expected shape \(10,\)"),
    (dict(feedback_size=-1), ValueError, "feedback_size"),
])
def test_bad_hyper_parameters_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        Reservoir(2, 10, **kwargs)


def test_bad_sequences_are_named():
    r = Reservoir(2, 10, feedback_size=1)
    with pytest.raises(ValueError, match=r"u: expected shape \(T, B, 2\)"):
        r(torch.zeros(5, 1, 3), feedback=torch.zeros(5, 1, 1))
    with pytest.raises(ValueError, match="feedback: expected a tensor"):
        r(torch.zeros(5, 1, 2))
    with pytest.raises(ValueError, match="feedback: expected the same"):
        r(torch.zeros(5, 1, 2), feedback=torch.zeros(4, 1, 1))
    with pytest.raises(TypeError, match="u: expected dtype torch.float32"):
        r(torch.zeros(5, 1, 2, dtype=F64), feedback=torch.zeros(5, 1, 1))
    with pytest.raises(ValueError, match=r"state: expected shape \(1, 10\)"):
        r(torch.zeros(5, 1, 2), torch.zeros(1, 9), feedback=torch.zeros(5, 1, 1))
    with pytest.raises(ValueError, match="noise: expected a number >= 0"):
        r(torch.zeros(5, 1, 2), feedback=torch.zeros(5, 1, 1), noise=-1.0)


@pytest.mark.parametrize("sparse, leak, dtype", [(False, 1.0, F64), (True, 0.4, F64), (True, 1.0, F64),
                                                  (True, torch.linspace(0.2, 1.0, 40), F64), (True, 0.7, torch.float32),
                                                  (False, torch.linspace(0.2, 1.0, 40), F64)])
def test_the_torch_numpy_and_native_loops_agree(sparse, leak, dtype):
    r = Reservoir(2, 40, connectivity=0.1, leak=leak, sparse=sparse, bias_scaling=0.1, dtype=dtype, seed=9)
    u = torch.randn(30, 3, 2, generator=torch.Generator().manual_seed(0), dtype=dtype)
    x0 = torch.randn(3, 40, generator=torch.Generator().manual_seed(1), dtype=dtype)
    states, last = r(u, x0)
    drive = r.drive(u)
    torch_last = r._run_torch(drive, x0, r._loop_leak())
    torch.testing.assert_close(drive, states)
    torch.testing.assert_close(torch_last, last)
    in_numpy = r.drive(u)
    numpy_last = r._run_numpy(in_numpy.numpy(), x0.numpy())
    torch.testing.assert_close(in_numpy, states)
    torch.testing.assert_close(torch.from_numpy(numpy_last), last)
