"""Pascanu's cliff: the error surface of one recurrent unit, and gradient descent with and without clipping.

Pascanu, Mikolov & Bengio (2013), "the geometrical interpretation", eq. (8) and figure 6:
x_t = w sigma(x_{t-1}) + b, x_0 = 0.5, 50 steps, loss (sigma(x_50) - 0.7)^2, sigma the logistic function.
(With h_t = sigma(x_t) this is a one-unit logistic recurrent net without input, h_t = sigma(w h_{t-1} + b).)
For w above 4 the unit has two stable states. Where x_0 lies on the border of their basins (b = x_0 -
w sigma(x_0): x_0 is then the unstable fixed point), x_50 jumps from one to the other: a wall in the
(w, b) plane, along whose top runs the valley sigma(x_50) = 0.7. Plain gradient descent that reaches the
wall takes a step as long as the gradient there and is thrown onto a plateau; with the gradient norm
clipped (Algorithm 1, ``unroll.gradients.clip_grad_norm``) it stays by the wall and descends into the
valley.
"""
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from ..gradients import clip_grad_norm
from ..report.figures import new_figure, save
from .section import Section

STEPS, X0, TARGET = 50, 0.5, 0.7
START = (4.0, -4.4)           # (w, b) on the slope below the wall, near where the wall begins (w ~ 4)
LEARNING_RATE, CLIP_NORM, ITERATIONS = 1.0, 0.1, 500
VALLEY_LOSS = 1e-3            # |sigma(x_50) - 0.7| < 0.032; the plateaus beside the wall lie at 0.09 and 0.49
JUMP_FACTOR = 10.0            # the claim: the plain run's largest step is this many times the clipped one's
WALL_W, WALL_OFFSET = 6.0, 0.5   # the cross-section through the wall: at w = 6, on it and 0.5 to either side
NUDGE = 1e-3                  # the 8 starts around START, this far off in w and/or b (sensitivity check)
FIELD = ((3.0, 6.0), (-6.0, -3.0))   # (w range, b range) of a grid of other starts (robustness check)
PLAIN, CLIPPED = "tab:red", "black"


def cliff_loss(w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(sigma(x_50) - 0.7)^2 for each (w, b) pair; w and b broadcast and the loss has their shape."""
    x = torch.full(torch.broadcast_shapes(w.shape, b.shape), X0, dtype=w.dtype)
    for _ in range(STEPS):
        x = w * torch.sigmoid(x) + b
    return (torch.sigmoid(x) - TARGET) ** 2


def wall_b(w: float) -> float:
    """The b at which x_0 is a fixed point, x_0 = w sigma(x_0) + b: the wall, where w sigma'(x_0) > 1."""
    return X0 - w * torch.sigmoid(torch.tensor(X0, dtype=torch.float64)).item()


def gradient_norm(w, b) -> torch.Tensor:
    """||(dL/dw, dL/db)|| at each (w, b) pair (tensors or floats that broadcast), float64, the broadcast shape."""
    pairs = torch.broadcast_tensors(*(torch.as_tensor(v, dtype=torch.float64) for v in (w, b)))
    w, b = (v.clone().requires_grad_() for v in pairs)
    d_w, d_b = torch.autograd.grad(cliff_loss(w, b).sum(), (w, b))   # every pair is independent
    return torch.hypot(d_w, d_b)


@dataclass
class Descent:
    """Gradient descent runs from N starts: path (iterations + 1, N, 2) of (w, b); loss (iterations + 1, N);
    gradient_norm (iterations, N): ||(dL/dw, dL/db)|| at each update, before any clipping."""
    path: torch.Tensor
    loss: torch.Tensor
    gradient_norm: torch.Tensor

    def steps(self) -> torch.Tensor:
        """The length of every update in the (w, b) plane, (iterations, N)."""
        return torch.linalg.vector_norm(self.path[1:] - self.path[:-1], dim=-1)

    def largest_step(self) -> torch.Tensor:
        """(N,)"""
        return self.steps().max(dim=0).values

    def in_valley(self) -> torch.Tensor:
        """Whether each run ends with loss below VALLEY_LOSS, (N,) bool."""
        return self.loss[-1] < VALLEY_LOSS

    def runs(self, index) -> "Descent":
        """The runs picked by ``index`` (a slice or index tensor) over N."""
        return Descent(self.path[:, index], self.loss[:, index], self.gradient_norm[:, index])


def descend(starts, *, clip_norm: float | None = None, learning_rate: float = LEARNING_RATE,
            iterations: int = ITERATIONS, progress: Callable[[float], None] | None = None) -> Descent:
    """Gradient descent on cliff_loss from each (w, b) of ``starts`` (N, 2), the N runs in one batch.

    Each run is its own optimisation: with ``clip_norm``, its gradient (dL/dw, dL/db) is rescaled to
    that norm by ``clip_grad_norm`` whenever it is at least that long.
    """
    params = [(torch.tensor(w, dtype=torch.float64, requires_grad=True),
               torch.tensor(b, dtype=torch.float64, requires_grad=True))
              for w, b in torch.as_tensor(starts, dtype=torch.float64).tolist()]
    leaves = [p for pair in params for p in pair]
    path, losses, norms = [], [], []
    for i in range(iterations + 1):
        w, b = (torch.stack(column) for column in zip(*params))
        loss = cliff_loss(w, b)
        path.append(torch.stack([w, b], dim=-1).detach())
        losses.append(loss.detach())
        if i == iterations:
            break
        grads = torch.autograd.grad(loss.sum(), leaves)   # run n's loss depends on its own (w, b) only
        norms.append(torch.hypot(torch.stack(grads[0::2]), torch.stack(grads[1::2])))
        with torch.no_grad():
            for p, g in zip(leaves, grads):
                p.grad = g
            for pair in params:
                if clip_norm is not None:
                    clip_grad_norm([("w", pair[0]), ("b", pair[1])], clip_norm)
                for p in pair:
                    p -= learning_rate * p.grad
        if progress is not None and i % 50 == 0:
            progress(i / iterations)
    return Descent(torch.stack(path), torch.stack(losses), torch.stack(norms))


@dataclass
class Surface:
    """cliff_loss on a grid: w (n,), b (n,); loss and gradient norm ||(dL/dw, dL/db)||, (n, n) indexed [w, b]."""
    w: torch.Tensor
    b: torch.Tensor
    loss: torch.Tensor
    gradient_norm: torch.Tensor

    def largest_neighbour_jump(self) -> float:
        """The largest loss difference between two neighbouring grid points."""
        return max(self.loss.diff(dim=0).abs().max().item(), self.loss.diff(dim=1).abs().max().item())


def surface(w_range, b_range, points: int) -> Surface:
    """The loss and its gradient norm on a points x points grid over w_range x b_range, in one pass."""
    w = torch.linspace(*w_range, points, dtype=torch.float64)
    b = torch.linspace(*b_range, points, dtype=torch.float64)
    grid_w, grid_b = torch.meshgrid(w, b, indexing="ij")
    return Surface(w, b, cliff_loss(grid_w, grid_b), gradient_norm(grid_w, grid_b))


def grid_starts(w_range, b_range, per_side: int) -> torch.Tensor:
    """A per_side x per_side grid of (w, b) starts over w_range x b_range, (per_side^2, 2)."""
    w, b = (torch.linspace(*r, per_side, dtype=torch.float64) for r in (w_range, b_range))
    return torch.stack(torch.meshgrid(w, b, indexing="ij"), dim=-1).reshape(-1, 2)


def _starts(per_side: int) -> tuple[torch.Tensor, dict]:
    """START, the 8 starts NUDGE around it, and FIELD's grid, (N, 2); and the slices that pick each group."""
    around = grid_starts(*((x - NUDGE, x + NUDGE) for x in START), 3)
    around = torch.cat([around[:4], around[5:]])   # the centre is START itself
    groups = [("start", torch.tensor([START], dtype=torch.float64)), ("nudged", around),
              ("field", grid_starts(*FIELD, per_side))]
    slices, first = {}, 0
    for name, starts in groups:
        slices[name], first = slice(first, first + len(starts)), first + len(starts)
    return torch.cat([starts for _, starts in groups]), slices


def run(out: Path, quick: bool = False, *, seed: int = 0, progress=None) -> Section:
    """Draw the surface, descend from START with and without clipping, and from a grid of other starts.

    Deterministic: ``seed`` is unused (no randomness). quick: a coarser surface and fewer other starts;
    the descent from START is the same.
    """
    began = time.perf_counter()
    per_side, points = (4, 121) if quick else (12, 301)
    starts, group = _starts(per_side)
    report = progress or (lambda fraction: None)
    plain = descend(starts, progress=lambda f: report(0.45 * f))
    clipped = descend(starts, clip_norm=CLIP_NORM, progress=lambda f: report(0.45 + 0.45 * f))
    shown = [descent.runs(group["start"]) for descent in (plain, clipped)]
    grid = surface(*_window(*(descent.path[:, 0] for descent in shown)), points)
    figure = _draw(grid, *shown, Path(out) / "cliff.png")
    report(1.0)

    numbers = {"model": {"recurrence": "x_t = w*sigmoid(x_{t-1}) + b", "x0": X0, "steps": STEPS,
                         "loss": f"(sigmoid(x_{STEPS}) - {TARGET})^2"},
               "start": {"w": START[0], "b": START[1]}, "learning_rate": LEARNING_RATE,
               "clip_norm": CLIP_NORM, "iterations": ITERATIONS, "valley_loss": VALLEY_LOSS,
               "plain": _summary(shown[0]), "clipped": _summary(shown[1])}
    numbers["largest_step_ratio"] = numbers["plain"]["largest_step"] / numbers["clipped"]["largest_step"]
    numbers["surface"] = _surface_summary(grid)
    numbers["wall_cross_section"] = _wall_summary()
    numbers["nudged_starts"] = _group_summary(plain.runs(group["nudged"]), clipped.runs(group["nudged"]))
    numbers["other_starts"] = _group_summary(plain.runs(group["field"]), clipped.runs(group["field"]))
    numbers["seconds"] = time.perf_counter() - began
    holds = bool(numbers["clipped"]["in_valley"] and not numbers["plain"]["in_valley"]
                 and numbers["largest_step_ratio"] > JUMP_FACTOR)
    nudged, others = numbers["nudged_starts"], numbers["other_starts"]
    return Section(
        key="cliff", title="The cliff: one recurrent unit, gradient descent with and without clipping",
        claim=(f"From the same start, plain gradient descent reaches the wall of the error surface and is thrown "
               f"off in one step more than {JUMP_FACTOR:g}x longer than any step of the norm-clipped descent, and "
               f"ends outside the valley; the clipped descent ends in the valley (loss < {VALLEY_LOSS:g})."),
        holds=holds, numbers=numbers, figures=[figure], command="unroll tour --only cliff",
        notes=(f"The start, learning rate and threshold were chosen by a search so that the plain run meets the "
               f"wall. How far the plain run is thrown is chaotic in the start: from the 8 starts {NUDGE:g} away "
               f"the ratio of largest steps ranges over {nudged['smallest_largest_step_ratio']:.0f}.."
               f"{nudged['largest_largest_step_ratio']:.0f}, while the clipped run ends in the valley from "
               f"{nudged['clipped_in_valley']:.0%} of them. Over {others['starts']} other starts on a grid over "
               f"w in {list(FIELD[0])}, b in {list(FIELD[1])}: clipped runs end in the valley in "
               f"{others['clipped_in_valley']:.0%}, plain runs in {others['plain_in_valley']:.0%}, and the plain "
               f"run's largest step exceeds {JUMP_FACTOR:g}x the clipped one's in {others['thrown']:.0%}. "
               f"The clipped run zigzags across the narrow valley (the loss band on the right) before it settles. "
               f"The seed is unused: nothing here is random."))


def _summary(descent: Descent) -> dict:
    """The numbers of a single run (N = 1)."""
    steps = descent.steps()[:, 0]
    w, b = descent.path[-1, 0].tolist()
    return {"largest_step": steps.max().item(), "largest_step_iteration": int(steps.argmax()),
            "largest_gradient_norm": descent.gradient_norm[:, 0].max().item(),
            "median_gradient_norm": descent.gradient_norm[:, 0].median().item(),
            "final_loss": descent.loss[-1, 0].item(), "final_w": w, "final_b": b,
            "in_valley": bool(descent.in_valley()[0])}


def _surface_summary(grid: Surface) -> dict:
    norm = grid.gradient_norm
    return {"points_per_side": len(grid.w), "w_range": [grid.w[0].item(), grid.w[-1].item()],
            "b_range": [grid.b[0].item(), grid.b[-1].item()],
            "largest_gradient_norm": norm.max().item(), "median_gradient_norm": norm.median().item(),
            "largest_to_median_gradient_norm": (norm.max() / norm.median()).item(),
            "largest_neighbour_loss_jump": grid.largest_neighbour_jump(),
            "smallest_loss": grid.loss.min().item()}


def _wall_summary() -> dict:
    """The loss and gradient norm on the wall at w = WALL_W and WALL_OFFSET below and above it."""
    b = wall_b(WALL_W) + torch.tensor([-WALL_OFFSET, 0.0, WALL_OFFSET], dtype=torch.float64)
    norm = gradient_norm(WALL_W, b)
    return {"w": WALL_W, "b_on_wall": b[1].item(), "offset": WALL_OFFSET,
            "loss_below_on_above": cliff_loss(torch.tensor(WALL_W, dtype=torch.float64), b).tolist(),
            "gradient_norm_below_on_above": norm.tolist(),
            "gradient_norm_ratio_on_wall_to_sides": (norm[1] / norm[0::2].max()).item()}


def _group_summary(plain: Descent, clipped: Descent) -> dict:
    """Over a group of starts: the fractions that end in the valley, and the plain-to-clipped ratios of
    largest steps ("thrown": the fraction where it exceeds JUMP_FACTOR)."""
    ratio = plain.largest_step() / clipped.largest_step()
    return {"starts": len(ratio), "clipped_in_valley": clipped.in_valley().double().mean().item(),
            "plain_in_valley": plain.in_valley().double().mean().item(),
            "thrown": (ratio > JUMP_FACTOR).double().mean().item(),
            "smallest_largest_step_ratio": ratio.min().item(), "median_largest_step_ratio": ratio.median().item(),
            "largest_largest_step_ratio": ratio.max().item()}


def _window(*paths: torch.Tensor, margin: float = 1.0):
    """(w range, b range) holding every point of the (steps, 2) paths, with a margin."""
    points = torch.cat(paths)
    low, high = points.min(dim=0).values - margin, points.max(dim=0).values + margin
    return (low[0].item(), high[0].item()), (low[1].item(), high[1].item())


def _draw(grid: Surface, plain: Descent, clipped: Descent, path: Path) -> Path:
    """Left: log10 loss over (w, b) with both descents; right: their loss against iteration."""
    fig, axes = new_figure(1, 2, width=7.5, height=3.6, gridspec_kw={"width_ratios": [1.2, 1]})
    ax_surface, ax_loss = axes[0]
    ax_surface.grid(False)
    log_loss = torch.log10(grid.loss.clamp_min(1e-12)).T.numpy()       # (n_b, n_w) for pcolormesh
    mesh = ax_surface.pcolormesh(grid.w.numpy(), grid.b.numpy(), log_loss, cmap="viridis", vmin=-5,
                                 shading="auto", rasterized=True)
    fig.colorbar(mesh, ax=ax_surface, label="log10 loss", extend="min")
    for descent, colour, width, name in ((plain, PLAIN, 2.4, "no clipping"),
                                         (clipped, CLIPPED, 1.0, f"clipped at norm {CLIP_NORM:g}")):
        w, b = descent.path[:, 0].T.numpy()
        ax_surface.plot(w, b, color=colour, lw=width, label=name)
        ax_surface.plot(w[-1], b[-1], "o", color=colour, mec="black", ms=6)
        ax_loss.semilogy(descent.loss[:, 0].numpy(), color=colour, lw=0.8, label=name)
    ax_surface.plot(*START, "*", color="white", mec="black", ms=13, label="start")
    jump = int(plain.steps()[:, 0].argmax())
    (w0, b0), (w1, b1) = plain.path[jump:jump + 2, 0].tolist()
    ax_surface.annotate(f"one step of {plain.steps()[jump, 0]:.1f}", ((w0 + w1) / 2, (b0 + b1) / 2),
                        xytext=(8, -4), textcoords="offset points", color="white", fontsize=8)
    ax_surface.set(xlabel="w", ylabel="b", title="error surface (log scale) and descents")
    ax_surface.legend(loc="upper left", fontsize=8, facecolor="0.8", frameon=True)
    ax_loss.axhline(VALLEY_LOSS, color="black", ls="--", lw=0.8, label=f"valley: loss < {VALLEY_LOSS:g}")
    ax_loss.set(xlabel="iteration", ylabel="loss (log scale)", title="loss during descent")
    ax_loss.legend(fontsize=8, loc="lower left")
    return save(fig, path)
