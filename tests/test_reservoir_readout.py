"""Readouts: streamed ridge equals the closed-form least squares; RLS converges to (equals) ridge."""
import pytest
import torch

from unroll.reservoir import RLS, Ridge, gram
from unroll.reservoir.readout import _cholesky_solve, add_gram_, symmetric

F64 = torch.float64


def _data(steps=400, batch=3, features=6, outputs=2, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(steps, batch, features, generator=gen, dtype=F64)
    w = torch.randn(outputs, features, generator=gen, dtype=F64)
    y = x @ w.T + 0.5 + 0.1 * torch.randn(steps, batch, outputs, generator=gen, dtype=F64)
    return x, y


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gram_is_x_transpose_x_in_float64_and_add_gram_accumulates_in_place(dtype):
    x = torch.randn(50, 7, dtype=dtype)
    exact = x.double().T @ x.double()
    torch.testing.assert_close(gram(x), exact, rtol=1e-6 if dtype == torch.float32 else 1e-12, atol=1e-5)
    total = torch.zeros(7, 7, dtype=F64)
    memory = total.data_ptr()
    add_gram_(total, x)
    add_gram_(total, x)
    assert total.data_ptr() == memory
    torch.testing.assert_close(symmetric(total), 2 * exact, rtol=1e-6 if dtype == torch.float32 else 1e-12,
                               atol=1e-5)


def test_ridge_with_no_penalty_is_the_least_squares_solution_after_the_washout():
    x, y = _data()
    readout = Ridge(0.0).fit(x, y, washout=10)
    rows = x[10:].reshape(-1, 6)
    design = torch.cat((rows, torch.ones(len(rows), 1, dtype=F64)), 1)
    exact = torch.linalg.lstsq(design, y[10:].reshape(-1, 2)).solution
    torch.testing.assert_close(readout.weight, exact[:6].T, rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(readout.bias, exact[6], rtol=1e-9, atol=1e-10)


def test_ridge_penalty_matches_the_closed_form_with_an_unpenalised_bias():
    x, y = _data()
    rows, targets = x.reshape(-1, 6), y.reshape(-1, 2)
    readout = Ridge(3.0).fit(x, y)
    xc, yc = rows - rows.mean(0), targets - targets.mean(0)
    w = torch.linalg.solve(xc.T @ xc + 3.0 * torch.eye(6, dtype=F64), xc.T @ yc)
    torch.testing.assert_close(readout.weight, w.T)
    torch.testing.assert_close(readout.bias, targets.mean(0) - rows.mean(0) @ w)
    torch.testing.assert_close(readout(x), x @ w + readout.bias)


def test_streaming_over_sequences_equals_one_fit_and_no_bias_means_none():
    x, y = _data()
    streamed = Ridge(0.1, fit_bias=False)
    for b in range(3):
        streamed.accumulate(x[:, b:b + 1], y[:, b:b + 1], washout=5)
    streamed.solve()
    whole = Ridge(0.1, fit_bias=False).fit(x, y, washout=5)
    torch.testing.assert_close(streamed.weight, whole.weight)
    assert torch.equal(streamed.bias, torch.zeros(2, dtype=F64))


def test_rls_equals_ridge_on_the_inputs_with_a_constant_and_converges_to_least_squares():
    x, y = _data(steps=200, batch=1)
    rls = RLS(6, 2, alpha=0.5)
    before = rls.learn(x, y)
    design = torch.cat((x[:, 0], torch.ones(200, 1, dtype=F64)), 1).unsqueeze(1)
    ridge = Ridge(0.5, fit_bias=False).fit(design, y)
    torch.testing.assert_close(rls.weight, ridge.weight[:, :6], rtol=1e-8, atol=1e-10)
    torch.testing.assert_close(rls.bias, ridge.weight[:, 6], rtol=1e-8, atol=1e-10)
    assert before.shape == (200, 2)
    late = (before[-50:] - y[-50:, 0]).pow(2).mean()
    assert late < 0.02 < (before[:10] - y[:10, 0]).pow(2).mean()    # a priori errors fall to the noise (0.01)
    exact = Ridge(0.0).fit(x, y)
    tiny = RLS(6, 2, alpha=1e-8)
    tiny.learn(x, y)
    torch.testing.assert_close(tiny.weight, exact.weight, rtol=1e-5, atol=1e-6)


def test_rls_forgetting_tracks_a_change():
    x, y = _data(steps=300, batch=1, seed=1)
    y2 = -y
    rls = RLS(6, 2, alpha=1.0, forgetting=0.95)
    rls.learn(torch.cat((x, x)), torch.cat((y, y2)))
    exact = Ridge(0.0).fit(x, y2)
    torch.testing.assert_close(rls.weight, exact.weight, rtol=0.05, atol=0.05)


@pytest.mark.parametrize("call, error, match", [
    (lambda: Ridge(-1.0), ValueError, "ridge: expected a number >= 0"),
    (lambda: Ridge().solve(), ValueError, "accumulated steps"),
    (lambda: Ridge()(torch.zeros(3, 2)), ValueError, "fitted"),
    (lambda: Ridge().fit(torch.zeros(5, 1, 3), torch.zeros(4, 1, 1)), ValueError, "y: expected the steps"),
    (lambda: Ridge().fit(torch.zeros(5, 1, 3), torch.zeros(5, 1, 1), washout=5), ValueError, "washout"),
    (lambda: Ridge().fit(torch.zeros(5, 3), torch.zeros(5, 1)).accumulate(torch.zeros(5, 4), torch.zeros(5, 1)),
     ValueError, "features"),
    (lambda: RLS(3, 1, alpha=0.0), ValueError, "alpha"),
    (lambda: RLS(3, 1, forgetting=1.5), ValueError, "forgetting"),
    (lambda: RLS(3, 1).learn(torch.zeros(4, 2), torch.zeros(4, 1)), ValueError, "3 features"),
])
def test_bad_arguments_are_named(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_float32_products_summed_in_float64_stay_close_to_float64():
    x, y = _data(steps=3000, batch=2)
    exact = Ridge(1e-3).fit(x, y)
    single = Ridge(1e-3, dtype=torch.float32).fit(x.float(), y.float())
    assert single.xx.dtype == F64
    torch.testing.assert_close(single.weight, exact.weight, rtol=1e-4, atol=1e-5)


def test_cholesky_solve_reads_the_upper_triangle_and_declines_an_indefinite_matrix():
    a = torch.tensor([[4.0, 2.0, 0.5], [2.0, 3.0, 1.0], [0.5, 1.0, 2.0]], dtype=F64)
    b = torch.tensor([[1.0], [2.0], [3.0]], dtype=F64)
    upper = a.triu() + torch.tril(torch.full((3, 3), 99.0, dtype=F64), -1)   # junk below the diagonal
    torch.testing.assert_close(_cholesky_solve(upper, b.clone()), torch.linalg.solve(a, b))
    assert _cholesky_solve(torch.tensor([[1.0, 2.0], [2.0, 1.0]], dtype=F64), b[:2].clone()) is None
