"""Hessian-free optimisation (Martens 2010) with structural damping for recurrent nets (Martens & Sutskever 2011).

One ``step`` is one HF iteration: the gradient on the closure's minibatch; Gauss-Newton products on a
separate curvature minibatch; preconditioned CG on the damped quadratic model, warm-started from the
decayed previous solution; backtracking over the stored CG iterates; Levenberg-Marquardt damping from
the reduction ratio; an Armijo line search on the chosen step. L2 weight decay is part of the objective.
"""
import math
import warnings
from collections.abc import Callable
from contextlib import contextmanager

import torch

from ..checks import positive_int, positive_number
from ..gradients import NonFiniteGradientError
from .conjugate_gradient import conjugate_gradient
from .gauss_newton import Curvature, GaussNewton, flatten_like, unflatten_like

BOOST, DROP = 3 / 2, 2 / 3          # damping x BOOST when rho < 1/4, x DROP when rho > 3/4 (Martens 2010)
ARMIJO, SHRINK, LINE_TRIES = 1e-2, 0.8, 20


def levenberg_marquardt(damping: float, rho: float) -> float:
    """The next damping lambda from the reduction ratio rho = (actual decrease) / (predicted decrease)."""
    if not rho > 0.25:          # NaN (a failed step) raises lambda too
        return damping * BOOST
    if rho > 0.75:
        return damping * DROP
    return damping


class HessianFree(torch.optim.Optimizer):
    """Hessian-free optimiser: ``step(closure, curvature)``; raises NonFiniteGradientError on a NaN/inf gradient.

    closure() -> the loss on the gradient minibatch, WITHOUT calling backward: a scalar, or a (N,) tensor
    of per-sequence losses (their mean is the loss; then the CG preconditioner of Martens 2010,
    (diag(sum_i g_i^2 / N) + lambda)^0.75, is used). It is called again, without grad, at trial points.
    curvature() -> a ``Curvature`` (outputs before the output nonlinearity, their matching loss, and the
    hidden states for structural damping) on a separate minibatch.

    damping: the initial Tikhonov lambda; structural_damping: mu, the structural penalty weighs mu * lambda;
    weight_decay: L2 coefficient (objective + wd/2 ||theta||^2); max_cg_iters, cg_tolerance: CG's cap and
    Martens' relative-progress tolerance; decay: warm start from decay x the previous CG solution;
    line_search: Armijo backtracking on the final step; lr: a factor on the final step (1 in HF).
    model: when given, its modules on ``backend="fused"`` or ``"torch"`` are switched to ``"reference"`` while
    curvature products are formed (those paths have no double backward), with a warning the first time.
    After each step ``last`` holds that iteration's diagnostics (rho, damping, CG iterations, step size).
    """

    def __init__(self, params, *, damping: float = 1.0, structural_damping: float = 0.0, weight_decay: float = 0.0,
                 max_cg_iters: int = 250, cg_tolerance: float = 5e-4, decay: float = 0.95, line_search: bool = True,
                 lr: float = 1.0, model: torch.nn.Module | None = None):
        positive_number("damping", damping)
        positive_int("max_cg_iters", max_cg_iters)
        positive_number("cg_tolerance", cg_tolerance)
        positive_number("lr", lr)
        for name, value in (("structural_damping", structural_damping), ("weight_decay", weight_decay)):
            if not (isinstance(value, (int, float)) and value >= 0):
                raise ValueError(f"{name}: expected a number >= 0, got {value!r}")
        if not (isinstance(decay, (int, float)) and 0 <= decay <= 1):
            raise ValueError(f"decay: expected a number in [0, 1], got {decay!r}")
        defaults = {"lr": lr, "damping": float(damping), "structural_damping": structural_damping,
                    "weight_decay": weight_decay, "max_cg_iters": max_cg_iters, "cg_tolerance": cg_tolerance,
                    "decay": decay, "line_search": line_search}
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError(f"params: HessianFree takes one parameter group, got {len(self.param_groups)}")
        self.model = model
        self.switched: list[str] = []
        self.last: dict = {}

    @property
    def _params(self) -> list[torch.Tensor]:
        return [p for p in self.param_groups[0]["params"] if p.requires_grad]

    def _solve(self, curvature: Callable[[], Curvature], g: torch.Tensor, preconditioner):
        """CG on the damped Gauss-Newton system (G + mu lambda S + (lambda + wd) I) d = g, warm-started."""
        group, params = self.param_groups[0], self._params
        wd, lam, mu = group["weight_decay"], group["damping"], group["structural_damping"]
        with self._reference_path(), torch.enable_grad():
            batch = curvature()
            if not mu:
                batch = Curvature(batch.outputs, batch.loss)
            gauss_newton = GaussNewton(params, batch)
            state = self.state[params[0]]
            x0 = group["decay"] * state["direction"] if "direction" in state else None
            return conjugate_gradient(lambda v: gauss_newton.product(v, mu * lam) + (lam + wd) * v, g, x0,
                                      preconditioner=preconditioner, max_iters=group["max_cg_iters"],
                                      tolerance=group["cg_tolerance"])

    def step(self, closure: Callable[[], torch.Tensor] = None,
             curvature: Callable[[], Curvature] = None) -> torch.Tensor:
        """One HF iteration; returns the loss at the starting point (detached)."""
        if closure is None or curvature is None:
            raise TypeError("step: HessianFree needs closure (the minibatch loss) and curvature (a Curvature batch)")
        group, params = self.param_groups[0], self._params
        wd, lam = group["weight_decay"], group["damping"]
        theta = flatten_like([p.detach() for p in params], params).clone()
        with torch.enable_grad():
            losses = closure()
            loss = losses.mean()
            grads = torch.autograd.grad(loss, params, retain_graph=losses.dim() > 0, allow_unused=True)
        g = flatten_like(grads, params) + wd * theta
        if not (torch.isfinite(g).all() and torch.isfinite(loss)):
            raise NonFiniteGradientError("HessianFree: the loss or its gradient is NaN or inf; no update made")
        for p, gp in zip(params, unflatten_like(g, params)):
            p.grad = gp.clone()
        preconditioner = _martens_preconditioner(losses, params, lam + wd) if losses.dim() > 0 else None
        f0 = loss.item() + 0.5 * wd * theta.dot(theta).item()

        result = self._solve(curvature, g, preconditioner)    # the curvature graph is freed on return

        def objective(direction: torch.Tensor) -> float:
            return self._objective_at(theta + direction, closure, wd)

        kept = result.kept or [(0, result.x, result.phi[0])]
        at, f_at = len(kept) - 1, objective(kept[-1][1])
        while at > 0:                                   # backtrack while an earlier iterate does better
            f_before = objective(kept[at - 1][1])
            if not f_before < f_at:
                break
            at, f_at = at - 1, f_before
        iteration, direction, predicted = kept[at]
        rho = (f_at - f0) / predicted if predicted < 0 else -math.inf
        group["damping"] = levenberg_marquardt(lam, rho)

        rate, f_new, slope, tries = 1.0, f_at, g.dot(direction).item(), 0
        while group["line_search"] and not f_new <= f0 + ARMIJO * rate * slope:    # Armijo backtracking
            if tries == LINE_TRIES:
                rate, f_new = 0.0, f0
                break
            rate, tries = rate * SHRINK, tries + 1
            f_new = objective(rate * direction)
        self._set(theta + group["lr"] * rate * direction)
        self.state[params[0]]["direction"] = result.x.detach()
        self.last = {"loss": f0, "new_loss": f_new, "rho": rho, "damping": group["damping"],
                     "cg_iterations": result.iterations, "chosen_iteration": iteration, "rate": rate,
                     "grad_norm": g.norm().item()}
        return loss.detach()

    def _objective_at(self, theta: torch.Tensor, closure, wd: float) -> float:
        self._set(theta)
        with torch.no_grad():
            value = closure().mean().item()
        return value + 0.5 * wd * theta.dot(theta).item()

    @torch.no_grad()
    def _set(self, theta: torch.Tensor) -> None:
        for p, value in zip(self._params, unflatten_like(theta, self._params)):
            p.copy_(value)

    @contextmanager
    def _reference_path(self):
        """Switch the model's fused (or torch-kernel) layers to the reference path for the duration (and say
        so once)."""
        modules = [(n, m, m.backend) for n, m in (self.model.named_modules() if self.model is not None else [])
                   if getattr(m, "backend", "reference") != "reference"]
        if modules and not self.switched:
            self.switched = [n or type(m).__name__ for n, m, _ in modules]
            warnings.warn(f"HessianFree: curvature products need double backward, so {', '.join(self.switched)} "
                          f"run(s) on backend='reference' while they are formed (the gradient keeps its own)",
                          stacklevel=4)
        for _, m, _ in modules:
            m.backend = "reference"
        try:
            yield
        finally:
            for _, m, backend in modules:
                m.backend = backend


def _martens_preconditioner(losses: torch.Tensor, params, shift: float, power: float = 0.75) -> torch.Tensor:
    """(diag(sum_i g_i^2) / N + shift)^power from the per-sequence losses (N,) (Martens 2010, section 4.7)."""
    n = losses.numel()
    eye = torch.eye(n, dtype=losses.dtype, device=losses.device)
    per_case = torch.autograd.grad(losses, params, eye, is_grads_batched=True, allow_unused=True)
    squares = torch.cat([(g.pow(2).sum(0) if g is not None else torch.zeros_like(p)).reshape(-1)
                         for g, p in zip(per_case, params)])
    return (squares / n + shift).pow(power)
