"""Preconditioned conjugate gradient with Martens' (2010) stopping rule and stored iterates for backtracking.

Minimises the quadratic phi(x) = 1/2 x^T A x + b^T x (A symmetric positive definite, given only as a
product ``matvec``), i.e. solves A x = -b, on flat 1-D tensors.
"""
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch


@dataclass
class CGResult:
    """The last iterate ``x``, how many iterations ran, phi at every iteration (index 0: the start), and
    the iterates kept for backtracking as (iteration, x, phi), in iteration order, the last one included."""
    x: torch.Tensor
    iterations: int
    phi: list[float] = field(default_factory=list)
    kept: list[tuple[int, torch.Tensor, float]] = field(default_factory=list)


def relative_progress_stop(phi: list[float], i: int, tolerance: float) -> bool:
    """Martens' rule: with k = max(10, 0.1 i), stop once i > k, phi_i < 0 and
    (phi_i - phi_{i-k}) / phi_i < k * tolerance (the last k steps shrank phi by too small a share)."""
    k = max(10, int(0.1 * i))
    return i > k and phi[i] < 0 and (phi[i] - phi[i - k]) / phi[i] < k * tolerance


def keep_schedule(max_iters: int, growth: float = 1.3) -> set[int]:
    """The iterations whose iterates are kept: ceil(growth^j) for j = 0, 1, ... (Martens 2010)."""
    kept, j = set(), 0
    while (i := math.ceil(growth ** j)) <= max_iters:
        kept.add(i)
        j += 1
    return kept


def conjugate_gradient(matvec: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor, x0: torch.Tensor | None = None,
                       *, preconditioner: torch.Tensor | None = None, max_iters: int = 250,
                       tolerance: float = 5e-4) -> CGResult:
    """Minimise phi(x) = 1/2 x^T A x + b^T x from x0 (zeros if None) with A = ``matvec``.

    b, x0, preconditioner: (n,). ``preconditioner`` is the diagonal of M (positive), used as M^-1 r.
    A warm start x0 with phi(x0) > 0 is replaced by zeros. Stops after ``max_iters`` iterations, on
    Martens' relative-progress rule with ``tolerance``, once the residual is at rounding level
    (|r| <= eps |b|), or when a direction of non-positive curvature shows up (A is not positive definite).
    """
    if max_iters < 1:
        raise ValueError(f"max_iters: expected an int >= 1, got {max_iters!r}")
    x = torch.zeros_like(b) if x0 is None else x0.clone()
    r = (matvec(x) if x0 is not None else torch.zeros_like(b)) + b     # the gradient of phi at x
    if torch.dot(x, r + b) > 0:            # a warm start worse than x = 0 is dropped
        x, r = torch.zeros_like(b), b.clone()
    y = r if preconditioner is None else r / preconditioner
    p = -y
    ry = torch.dot(r, y)
    phi = [0.5 * torch.dot(x, r + b).item()]
    kept, schedule, i = [], keep_schedule(max_iters), 0
    for i in range(1, max_iters + 1):
        Ap = matvec(p)
        curvature = torch.dot(p, Ap)
        if curvature <= 0:
            i -= 1
            break
        alpha = ry / curvature
        x = x + alpha * p
        r = r + alpha * Ap
        y = r if preconditioner is None else r / preconditioner
        ry_next = torch.dot(r, y)
        p = -y + (ry_next / ry) * p
        ry = ry_next
        phi.append(0.5 * torch.dot(x, r + b).item())
        if i in schedule:
            kept.append((i, x, phi[i]))
        if relative_progress_stop(phi, i, tolerance) or r.norm() <= torch.finfo(r.dtype).eps * b.norm():
            break
    if i > 0 and (not kept or kept[-1][0] != i):
        kept.append((i, x, phi[i]))
    return CGResult(x, i, phi, kept)
