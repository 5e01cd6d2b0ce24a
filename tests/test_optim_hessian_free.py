"""Hessian-free: Gauss-Newton products against dense J^T H J, CG, damping, structural damping, and a fit."""
import math

import pytest
import torch
from torch import nn
from torch.func import functional_call
from torch.nn import functional as F

from unroll.optim import Curvature, GaussNewton, HessianFree, conjugate_gradient
from unroll.optim.conjugate_gradient import keep_schedule, relative_progress_stop
from unroll.optim.hessian_free import levenberg_marquardt
from unroll.train import build_model


def _flat_params(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def _as_function(model, forward):
    """theta (n,) -> forward(parameters by name, as views of theta)."""
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]

    def f(theta):
        parts, at = {}, 0
        for name, shape in zip(names, shapes):
            parts[name] = theta[at:at + shape.numel()].view(shape)
            at += shape.numel()
        return forward(parts)
    return f


def _dense_product(model, forward, hessian_of, v):
    """J^T H J v with J the dense Jacobian of forward's output in theta and H = hessian_of(z) (M, M)."""
    f = _as_function(model, forward)
    theta = _flat_params(model)
    z = f(theta)
    J = torch.autograd.functional.jacobian(f, theta).reshape(z.numel(), -1)
    return J.T @ (hessian_of(z) @ (J @ v)), J


def _mlp(sizes, seed=0):
    torch.manual_seed(seed)
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b, dtype=torch.float64), nn.Tanh()]
    return nn.Sequential(*layers[:-1])


def _softmax_hessian(z):
    p = z.softmax(-1)
    blocks = [torch.diag(row) - torch.outer(row, row) for row in p]
    return torch.block_diag(*blocks) / z.shape[0]


PAIRS = {   # matching loss pairs: (loss of the pre-nonlinearity outputs z, its Hessian in z, target maker)
    "linear+squared": (lambda z, y: F.mse_loss(z, y), lambda z: 2 * torch.eye(z.numel(), dtype=z.dtype) / z.numel(),
                       lambda g, shape: torch.randn(shape, generator=g, dtype=torch.float64)),
    "logistic+cross-entropy": (lambda z, y: F.binary_cross_entropy_with_logits(z, y),
                               lambda z: torch.diag((z.sigmoid() * (1 - z.sigmoid())).reshape(-1)) / z.numel(),
                               lambda g, shape: torch.randint(0, 2, shape, generator=g).double()),
    "softmax+cross-entropy": (lambda z, y: F.cross_entropy(z, y), _softmax_hessian,
                              lambda g, shape: torch.randint(0, shape[-1], shape[:-1], generator=g)),
}


@pytest.mark.parametrize("pair", PAIRS)
def test_gauss_newton_product_matches_dense_feedforward(pair):
    loss, hessian, target = PAIRS[pair]
    g = torch.Generator().manual_seed(1)
    model = _mlp([3, 5, 4, 3])
    x = torch.randn(6, 3, generator=g, dtype=torch.float64)
    y = target(g, (6, 3))
    z = model(x)
    gn = GaussNewton(list(model.parameters()), Curvature(z, lambda out: loss(out, y)))
    v = torch.randn(_flat_params(model).numel(), generator=g, dtype=torch.float64)
    dense, _ = _dense_product(model, lambda parts: functional_call(model, parts, (x,)), hessian, v)
    torch.testing.assert_close(gn.product(v), dense, atol=1e-8, rtol=1e-8)


def _tiny_rnn(backend="reference", output_size=3):
    torch.manual_seed(2)
    return build_model("rnn", 2, output_size, 4, backend=backend, dtype=torch.float64)


def test_gauss_newton_product_matches_dense_rnn_with_structural_damping():
    """An RNN (softmax read at the last step): G v, and the structural term mu*lambda * J_h^T J_h v / B."""
    g = torch.Generator().manual_seed(3)
    model = _tiny_rnn()
    x = torch.randn(5, 3, 2, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (3,), generator=g)
    loss = lambda out: F.cross_entropy(out[-1], y)   # noqa: E731
    h = model.layer(x)[0]
    z = model.readout(h)
    gn = GaussNewton(list(model.parameters()), Curvature(z, loss, hidden=h, cases=3))
    v = torch.randn(_flat_params(model).numel(), generator=g, dtype=torch.float64)

    def hessian(out):
        full = torch.zeros(out.numel(), out.numel(), dtype=out.dtype)
        last = slice(out[:-1].numel(), out.numel())
        full[last, last] = _softmax_hessian(out[-1])
        return full
    dense, _ = _dense_product(model, lambda parts: functional_call(model, parts, (x,))[0], hessian, v)
    torch.testing.assert_close(gn.product(v), dense, atol=1e-8, rtol=1e-8)
    # the structural damping term against its formula: weight / cases * J_h^T J_h v

    def hidden(parts):
        mine = {k.removeprefix("layer."): p for k, p in parts.items() if k.startswith("layer.")}
        return functional_call(model.layer, mine, (x,))[0]
    _, J_h = _dense_product(model, hidden, lambda out: torch.eye(out.numel(), dtype=out.dtype), v)
    weight = 0.03 * 2.0
    torch.testing.assert_close(gn.product(v, weight) - gn.product(v), weight / 3 * J_h.T @ (J_h @ v),
                               atol=1e-8, rtol=1e-8)


def _spd(n, condition, g):
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    return q @ torch.diag(torch.logspace(0, math.log10(condition), n, dtype=torch.float64)) @ q.T


def test_cg_solves_a_random_spd_system():
    g = torch.Generator().manual_seed(4)
    A, b = _spd(40, 1e3, g), torch.randn(40, generator=g, dtype=torch.float64)
    result = conjugate_gradient(lambda v: A @ v, b, max_iters=400, tolerance=1e-12)
    torch.testing.assert_close(result.x, torch.linalg.solve(A, -b), atol=1e-8, rtol=1e-8)
    assert all(later <= earlier + 1e-12 for earlier, later in zip(result.phi, result.phi[1:]))   # phi falls
    assert [i for i, _, _ in result.kept][:-1] == sorted(keep_schedule(result.iterations))[:len(result.kept) - 1]
    # warm start from the solution: nothing left to do
    again = conjugate_gradient(lambda v: A @ v, b, result.x, max_iters=5)
    torch.testing.assert_close(again.x, result.x, atol=1e-8, rtol=1e-8)


def test_diagonal_preconditioner_speeds_cg_on_a_badly_scaled_system():
    g = torch.Generator().manual_seed(5)
    scale = torch.logspace(0, 4, 60, dtype=torch.float64)
    A = scale.sqrt()[:, None] * (_spd(60, 10.0, g)) * scale.sqrt()[None, :]
    b = torch.randn(60, generator=g, dtype=torch.float64)
    exact = torch.linalg.solve(A, -b)

    def error_after(k, preconditioner):
        x = conjugate_gradient(lambda v: A @ v, b, preconditioner=preconditioner, max_iters=k, tolerance=1e-15).x
        return ((x - exact).norm() / exact.norm()).item()
    assert error_after(25, torch.diagonal(A)) < 1e-6 < error_after(25, None)


def test_martens_stopping_rule():
    assert not relative_progress_stop([0.0] + [-1.0] * 10, 10, 5e-4)      # needs i > k = 10
    flat = [0.0] + [-1.0 - 1e-6 * i for i in range(1, 12)]
    assert relative_progress_stop(flat, 11, 5e-4)
    steep = [0.0] + [-float(i) for i in range(1, 12)]
    assert not relative_progress_stop(steep, 11, 5e-4)
    assert not relative_progress_stop([0.0] + [1.0] * 11, 11, 5e-4)      # phi must be negative


def test_levenberg_marquardt_rule():
    assert levenberg_marquardt(1.0, 0.1) == 1.5
    assert levenberg_marquardt(1.0, -3.0) == 1.5
    assert levenberg_marquardt(1.0, math.nan) == 1.5
    assert levenberg_marquardt(1.0, 0.5) == 1.0
    assert levenberg_marquardt(1.0, 0.9) == pytest.approx(2 / 3)


def _hf_on(w, closure_loss, curvature_loss, **options):
    opt = HessianFree([w], **options)
    opt.step(lambda: closure_loss(w), lambda: Curvature(w * 1.0, curvature_loss))
    return opt


def test_damping_lowers_after_a_good_step_and_raises_after_a_bad_one():
    quadratic = lambda z: ((z - 1) ** 2).sum()   # noqa: E731
    good = _hf_on(torch.full((3,), 3.0, dtype=torch.float64, requires_grad=True), quadratic, quadratic,
                  damping=1.0)
    assert good.last["rho"] > 0.75 and good.param_groups[0]["damping"] == pytest.approx(2 / 3)
    # the true loss has a steep quartic term the Gauss-Newton model of the curvature batch misses
    quartic = lambda z: quadratic(z) + 10 * ((z - 1) ** 4).sum()   # noqa: E731
    w = torch.full((3,), 3.0, dtype=torch.float64, requires_grad=True)
    bad = _hf_on(w, quartic, quadratic, damping=1.0)
    assert bad.last["rho"] < 0.25 and bad.param_groups[0]["damping"] == 1.5
    # the line search shrank the step until the loss fell enough
    assert 0 < bad.last["rate"] < 1 and bad.last["new_loss"] < bad.last["loss"]
    assert quartic(w.detach()).item() == pytest.approx(bad.last["new_loss"])


def test_weight_decay_is_part_of_the_objective():
    """On an exact quadratic with weight decay and tiny damping, one HF step lands on the regularised minimum."""
    w = torch.full((4,), 3.0, dtype=torch.float64, requires_grad=True)
    quadratic = lambda z: ((z - 1) ** 2).sum()   # noqa: E731
    _hf_on(w, quadratic, quadratic, damping=1e-9, weight_decay=0.5)
    torch.testing.assert_close(w.detach(), torch.full((4,), 2 / 2.5, dtype=torch.float64), atol=1e-6, rtol=0)


def test_fused_model_is_switched_to_the_reference_path_for_curvature_and_back():
    g = torch.Generator().manual_seed(6)
    model = _tiny_rnn("fused")
    x = torch.randn(5, 3, 2, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (3,), generator=g)

    def curvature():
        h = model.layer(x)[0]
        return Curvature(model.readout(h), lambda out: F.cross_entropy(out[-1], y), hidden=h, cases=3)
    opt = HessianFree(model.parameters(), structural_damping=0.03, model=model)
    with pytest.warns(UserWarning, match="reference"):
        opt.step(lambda: F.cross_entropy(model(x)[0][-1], y), curvature)
    assert model.layer.backend == "fused" and opt.switched == ["layer"]
    plain = HessianFree(model.parameters())
    with pytest.raises(RuntimeError, match="double backward"):
        plain.step(lambda: F.cross_entropy(model(x)[0][-1], y), curvature)


def test_a_layer_on_torch_kernels_is_switched_for_curvature_and_back():
    torch.manual_seed(2)
    model = build_model("lstm", 2, 3, 4, backend="torch", dtype=torch.float64)
    seen = []
    x, y = torch.randn(5, 3, 2, dtype=torch.float64), torch.tensor([0, 2, 1])

    def curvature():
        seen.append(model.layer.backend)
        h = model.layer(x)[0]
        return Curvature(model.readout(h), lambda out: F.cross_entropy(out[-1], y), hidden=h, cases=3)
    opt = HessianFree(model.parameters(), structural_damping=0.03, model=model)
    with pytest.warns(UserWarning, match="reference"):
        opt.step(lambda: F.cross_entropy(model(x)[0][-1], y), curvature)
    assert seen == ["reference"] and model.layer.backend == "torch"


def test_per_case_losses_turn_on_the_preconditioner_and_warm_start_is_kept():
    g = torch.Generator().manual_seed(7)
    model = _mlp([3, 4, 2])
    x, y = torch.randn(8, 3, generator=g, dtype=torch.float64), torch.randn(8, 2, generator=g, dtype=torch.float64)
    opt = HessianFree(model.parameters(), damping=0.1)
    before = F.mse_loss(model(x), y).item()
    for _ in range(3):
        opt.step(lambda: ((model(x) - y) ** 2).mean(1), lambda: Curvature(model(x), lambda z: F.mse_loss(z, y) * 2))
    assert F.mse_loss(model(x), y).item() < before
    direction = opt.state[next(model.parameters())]["direction"]
    assert direction.shape == (sum(p.numel() for p in model.parameters()),)


def test_bad_arguments():
    w = torch.zeros(2, requires_grad=True)
    with pytest.raises(TypeError, match="curvature"):
        HessianFree([w]).step(lambda: w.sum())
    with pytest.raises(ValueError, match="decay"):
        HessianFree([w], decay=1.5)
    with pytest.raises(ValueError, match="damping"):
        HessianFree([w], damping=0)
    with pytest.raises(ValueError, match="cases"):
        Curvature(w, lambda z: z.sum(), hidden=w)


def test_hf_fits_a_small_deep_autoencoder_in_fewer_iterations_than_sgd():
    """A 10-8-6-4-2-4-6-8-10 tanh autoencoder on 2-d data lifted to 10-d: HF reaches the target loss in fewer
    iterations than the best of three SGD learning rates reaches in 20x as many."""
    g = torch.Generator().manual_seed(8)
    latent = torch.rand(200, 2, generator=g, dtype=torch.float64) * 2 - 1
    lift = torch.randn(2, 10, generator=g, dtype=torch.float64)
    data = torch.tanh(latent @ lift) * 0.8
    sizes, target = [10, 8, 6, 4, 2, 4, 6, 8, 10], 3e-3

    def loss_of(model):
        return F.mse_loss(model(data), data)

    hf_model = _mlp(sizes, seed=9)
    opt = HessianFree(hf_model.parameters(), damping=1.0, max_cg_iters=100)
    hf_iterations = None
    for it in range(1, 41):
        opt.step(lambda: loss_of(hf_model), lambda: Curvature(hf_model(data), lambda z: F.mse_loss(z, data)))
        if loss_of(hf_model).item() < target:
            hf_iterations = it
            break
    assert hf_iterations is not None, f"HF did not reach {target} in 40 iterations: {loss_of(hf_model).item():.4g}"
    best_sgd = math.inf
    for lr in (0.1, 0.3, 1.0):
        model = _mlp(sizes, seed=9)
        sgd = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
        for _ in range(20 * hf_iterations):
            sgd.zero_grad()
            loss_of(model).backward()
            sgd.step()
        best_sgd = min(best_sgd, loss_of(model).item())
    assert best_sgd > target, (hf_iterations, best_sgd)


def test_cg_drops_a_warm_start_worse_than_zero():
    g = torch.Generator().manual_seed(10)
    A, b = _spd(20, 10.0, g), torch.randn(20, generator=g, dtype=torch.float64)
    bad = -10 * torch.linalg.solve(A, -b)          # phi(bad) = 50 b^T A^-1 b + 10 b^T A^-1 b > 0
    result = conjugate_gradient(lambda v: A @ v, b, bad, max_iters=1)
    assert result.phi[0] == 0.0
    torch.testing.assert_close(result.x, conjugate_gradient(lambda v: A @ v, b, max_iters=1).x)


def test_backtracking_keeps_an_earlier_cg_iterate_when_the_last_one_is_worse():
    """The curvature model misses a steep quartic wall along the low-curvature axis, which CG's later
    iterates walk into: the step taken is an earlier stored iterate, better than the final one."""
    a = torch.tensor([100.0, 1.0], dtype=torch.float64)
    model_loss = lambda z: (a * (z - 1) ** 2).sum()                # noqa: E731
    true_loss = lambda z: model_loss(z) + 1000 * z[1] ** 4         # noqa: E731
    w = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    opt = _hf_on(w, true_loss, model_loss, damping=1e-6, line_search=False, max_cg_iters=2)
    final = opt.state[w]["direction"]
    assert opt.last["chosen_iteration"] == 1 and opt.last["cg_iterations"] == 2
    assert opt.last["new_loss"] < true_loss(final).item()
    assert true_loss(w.detach()).item() == pytest.approx(opt.last["new_loss"])
