"""Initialisers: spectral radius, sparse echo-state style, orthogonal, identity; seeded and checked."""
import pytest
import torch

from unroll.cells import LSTMCell
from unroll.init import chrono_, identity_, orthogonal_, sparse_, spectral_radius, spectral_radius_


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_spectral_radius_hits_the_target(dtype):
    w = torch.randn(20, 20, generator=_gen(), dtype=dtype)
    assert spectral_radius_(w, 0.9) is w
    assert spectral_radius(w) == pytest.approx(0.9, rel=1e-6)


def test_sparse_gives_exactly_the_incoming_weights_and_the_radius():
    w = torch.empty(40, 40)
    sparse_(w, 15, radius=1.1, generator=_gen())
    assert ((w != 0).sum(dim=1) == 15).all()
    assert spectral_radius(w) == pytest.approx(1.1, rel=1e-6)


def test_sparse_without_radius_keeps_gaussian_values_on_a_rectangular_matrix():
    w = torch.empty(6, 9, dtype=torch.float64)
    sparse_(w, 3, generator=_gen())
    assert ((w != 0).sum(dim=1) == 3).all()
    assert w.abs().max() < 6                     # N(0, 1) draws, unscaled


def test_sparse_is_reproducible_with_a_seed_and_differs_between_seeds():
    a, b, c = torch.empty(30, 30), torch.empty(30, 30), torch.empty(30, 30)
    sparse_(a, 5, 1.0, _gen(1))
    sparse_(b, 5, 1.0, _gen(1))
    sparse_(c, 5, 1.0, _gen(2))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("shape", [(8, 8), (5, 9), (9, 5)])
def test_orthogonal_rows_or_columns_are_orthonormal_times_gain(shape):
    w = orthogonal_(torch.empty(*shape, dtype=torch.float64), gain=2.0, generator=_gen())
    small = w @ w.T if shape[0] <= shape[1] else w.T @ w
    torch.testing.assert_close(small, 4.0 * torch.eye(min(shape), dtype=torch.float64))
    again = orthogonal_(torch.empty(*shape, dtype=torch.float64), gain=2.0, generator=_gen())
    assert torch.equal(w, again)


def test_identity_scales_the_identity():
    w = identity_(torch.randn(4, 4), scale=0.5)
    assert torch.equal(w, 0.5 * torch.eye(4))


@pytest.mark.parametrize("call, error, match", [
    (lambda: spectral_radius_(torch.randn(3, 4), 1.0), ValueError, "w: expected a square matrix"),
    (lambda: spectral_radius_(torch.randn(3, 3), 0.0), ValueError, "radius: expected a positive number"),
    (lambda: spectral_radius_(torch.randn(3, 3), -1.0), ValueError, "radius"),
    (lambda: spectral_radius_(torch.zeros(3, 3), 1.0), ValueError, "spectral radius is 0"),
    (lambda: sparse_(torch.empty(5, 5), 6), ValueError, r"incoming: expected an int in 1\.\.5"),
    (lambda: sparse_(torch.empty(5, 5), 0), ValueError, "incoming"),
    (lambda: sparse_(torch.empty(5, 5), 2.5), ValueError, "incoming"),
    (lambda: sparse_(torch.empty(4, 5), 2, radius=1.0), ValueError, "square"),
    (lambda: sparse_(torch.empty(5, 5), 2, radius=0.0), ValueError, "radius"),
    (lambda: orthogonal_(torch.empty(3), 1.0), ValueError, "2 dimensions"),
    (lambda: orthogonal_(torch.empty(3, 3), -1.0), ValueError, "gain"),
    (lambda: identity_(torch.empty(2, 3)), ValueError, "square"),
    (lambda: identity_(torch.zeros(3, 3, dtype=torch.long)), TypeError, "floating-point"),
    (lambda: identity_(torch.empty(3, 3), "1"), TypeError, "scale"),
])
def test_bad_arguments_are_named(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_rejected_arguments_leave_the_weights_untouched():
    w = torch.randn(5, 5, generator=_gen())
    before = w.clone()
    with pytest.raises(ValueError):
        sparse_(w, 2, radius=-1.0)
    assert torch.equal(w, before)


@pytest.mark.parametrize("layout", ["dense", "csr", "coo"])
def test_spectral_radius_of_a_large_sparse_matrix_comes_from_arpack_and_matches_all_eigenvalues(layout):
    w = sparse_(torch.empty(300, 300, dtype=torch.float64), 6, radius=0.95, generator=_gen(3))
    exact = float(torch.linalg.eigvals(w).abs().max())
    given = {"dense": w, "csr": w.to_sparse_csr(), "coo": w.to_sparse()}[layout]
    assert exact == pytest.approx(0.95, rel=1e-9)
    assert spectral_radius(given) == pytest.approx(exact, rel=1e-8)


def test_chrono_sets_keep_gate_biases_for_lags_up_to_max_lag_and_write_gates_opposite():
    cell = LSTMCell(3, 500)
    chrono_(cell.bias, 100, torch.Generator().manual_seed(0))
    write, keep, read, cell_input = cell.bias.detach().split(500)
    lags = keep.exp()                                   # the keep gate's bias b: memory fades over e^b steps
    assert lags.min() >= 1 and lags.max() <= 99 and lags.mean() == pytest.approx(50, rel=0.1)
    torch.testing.assert_close(write, -keep)
    assert read.abs().max() <= 500 ** -0.5 and cell_input.abs().max() <= 500 ** -0.5   # left as drawn
    with pytest.raises(ValueError, match="max_lag: expected an int >= 3"):
        chrono_(cell.bias, 2)
    with pytest.raises(ValueError, match=r"bias: expected an LSTM's gate biases of shape \(4H,\), got \(6,\)"):
        chrono_(torch.zeros(6), 10)
