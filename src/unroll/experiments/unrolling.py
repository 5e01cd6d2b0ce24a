"""Section 2 of the tour: a recurrent net unrolled in time, its tied weights, its learned start.

A 3-unit net with self-connections and the cycle 1 -> 2 -> 3 -> 1 (unit 1 reads the input, unit 3 is
read out) is drawn beside its unrolled copy. In an explicit unrolled copy every step owns its own
copy of the recurrent weights (a leaf tensor each, initialised equal); the sum of the copies'
gradients must equal the tied weight's gradient from the reference loop and from the fused BPTT path.
Then the same wiring learns its initial activities h_0 as parameters: the target is the output of
a teacher net of that wiring started from h0* != 0, which a zero start cannot reach (see
``zero_start_floor``).
"""
import math
from pathlib import Path

import torch
from matplotlib import patches
from torch.func import functional_call

from ..data.task import Task
from ..layers import FullyRecurrent
from ..report.figures import MODEL, TRUTH, new_figure, save
from ..time import unroll
from ..train import FitConfig, fit
from .section import Section

# Rows receive, columns send (as weight_hh): a self-connection on every unit and the cycle 1 -> 2 -> 3 -> 1.
WIRING = ((1.0, 0.0, 1.0), (1.0, 1.0, 0.0), (0.0, 1.0, 1.0))
INPUT_WIRING = ((1.0,), (0.0,), (0.0,))
OUTPUT_UNIT = 2
STEPS_DRAWN = 4
TEACHER_WEIGHTS = ((0.5, 0.0, -0.8), (1.0, 0.5, 0.0), (0.0, 1.0, 0.8))
TEACHER_START = (0.0, 0.0, 1.5)
SEQUENCE_LENGTH = 20
GRADIENT_TOLERANCE = 1e-12
REQUIRED_GAIN = 10.0
FLOOR_SEQUENCES = 2048


def small_net(*, learn_initial_state: bool = False, seed: int = 0, dtype=torch.float32) -> FullyRecurrent:
    """The drawn 3-unit net (no biases), weights drawn from ``seed`` without touching the global RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return FullyRecurrent(1, 3, connectivity=torch.tensor(WIRING),
                              input_connectivity=torch.tensor(INPUT_WIRING), output_units=[OUTPUT_UNIT],
                              bias=False, learn_initial_state=learn_initial_state, dtype=dtype)


def copy_gradients(cell, x: torch.Tensor, target: torch.Tensor) -> list[torch.Tensor]:
    """dL/dW_t for the per-step copies W_1..W_T of ``cell.weight_hh`` in an explicitly unrolled net.

    x: (T, B, 1); target: (T, B, 1); L: mean squared error of the outputs. Returns T tensors (N, N).
    """
    copies = [cell.weight_hh.detach().clone().requires_grad_(True) for _ in x.unbind(0)]
    h, outputs = cell.initial_state(x.shape[1]), []
    for x_t, weight in zip(x.unbind(0), copies):
        y, h = functional_call(cell, {"weight_hh": weight}, (x_t, h))
        outputs.append(y)
    loss = (torch.stack(outputs) - target).pow(2).mean()
    return list(torch.autograd.grad(loss, copies))


def tied_gradients(seed: int, steps: int = STEPS_DRAWN, batch: int = 5) -> dict:
    """The copies' gradients (T, N, N) and the tied weight's gradient from the reference loop and the
    fused path, all in float64 for one random net, random start h_0 and batch."""
    net = small_net(learn_initial_state=True, seed=2 * seed, dtype=torch.float64)
    g = torch.Generator().manual_seed(2 * seed + 1)   # data from a stream unrelated to the weights
    with torch.no_grad():
        net.cell.initial_hidden.normal_(generator=g)
    x = torch.randn(steps, batch, 1, generator=g, dtype=torch.float64)
    target = torch.randn(steps, batch, 1, generator=g, dtype=torch.float64)
    copies = torch.stack(copy_gradients(net.cell, x, target))
    ys, _, _ = unroll(net.cell, x)
    (reference,) = torch.autograd.grad((ys - target).pow(2).mean(), net.cell.weight_hh)
    (fused,) = torch.autograd.grad((net(x)[0] - target).pow(2).mean(), net.cell.weight_hh)
    return {"copies": copies, "reference": reference, "fused": fused}


def teacher_net() -> FullyRecurrent:
    """The drawn wiring with hand-set weights, started from TEACHER_START."""
    net = small_net()
    with torch.no_grad():
        net.cell.weight_hh.copy_(torch.tensor(TEACHER_WEIGHTS))
        net.cell.weight_ih.copy_(torch.tensor(INPUT_WIRING))   # v_1 = 1
        net.cell.initial_hidden.copy_(torch.tensor(TEACHER_START))
    return net


class StartStateEcho(Task):
    """Reproduce the teacher's output from inputs uniform in [-1, 1]: x (T, B, 1), target (T, B, 1)."""
    name, input_size, output_size, target_batch_dim = "start-state-echo", 1, 1, 1

    def __init__(self, teacher: FullyRecurrent, length: int = SEQUENCE_LENGTH):
        self.teacher, self.length = teacher, length

    def batch(self, size: int, generator: torch.Generator):
        x = torch.rand(self.length, size, 1, generator=generator) * 2 - 1
        with torch.no_grad():
            return x, self.teacher(x)[0]

    def loss(self, output, target):
        return (output - target).pow(2).mean()


def zero_start_floor(teacher: FullyRecurrent, x: torch.Tensor) -> float:
    """A lower bound on the mean squared error of any bias-free tanh net started from h_0 = 0.

    Such a net is an odd function of its input sequence, y(-x) = -y(x); inputs are symmetric, so
    its error is at least the mean square of the target's even part (y*(x) + y*(-x)) / 2.
    """
    with torch.no_grad():
        even = (teacher(x)[0] + teacher(-x)[0]) / 2
    return even.pow(2).mean().item()


def learn_initial_state(quick: bool, seed: int) -> dict:
    """Train the wiring from the same random weights with learned and with zero initial activities."""
    steps = 200 if quick else 1500
    teacher = teacher_net()
    task = StartStateEcho(teacher)
    config = FitConfig(steps=steps, batch_size=32, lr=0.03, eval_every=25 if quick else 50, eval_size=256,
                       stop_when_solved=False, seed=seed)
    g = torch.Generator().manual_seed(2 * seed + 1)   # data from a stream unrelated to the weights
    x, target = task.batch(1, g)
    runs = {}
    for name, learned in (("learned", True), ("zero", False)):
        student = small_net(learn_initial_state=learned, seed=2 * seed)
        history = fit(student, task, config, quiet=True).history
        with torch.no_grad():
            example = student(x)[0][:, 0, 0]
        runs[name] = {"steps": [r["step"] for r in history], "loss": [r["eval_loss"] for r in history],
                      "example": example.tolist(), "start": student.cell.initial_hidden.tolist()}
    floor_x, _ = task.batch(FLOOR_SEQUENCES, g)
    return {"runs": runs, "floor": zero_start_floor(teacher, floor_x), "target": target[:, 0, 0].tolist(),
            "steps": steps}


def draw_initial_state(path: Path, result: dict) -> Path:
    """Loss against training step for both starts, and one sequence: target and both outputs."""
    fig, axes = new_figure(1, 2, height=3.3)
    loss_ax, seq_ax = axes[0]
    learned, zero = result["runs"]["learned"], result["runs"]["zero"]
    loss_ax.semilogy(learned["steps"], learned["loss"], color=MODEL, label="$h_0$ learned")
    loss_ax.semilogy(zero["steps"], zero["loss"], color="0.35", ls="--", label="$h_0 = 0$")
    loss_ax.axhline(result["floor"], color="0.35", ls=":", label="floor for any zero start")
    loss_ax.set(xlabel="training step", ylabel="held-out MSE (log scale)", title="Learned start against zero start")
    loss_ax.set_ylim(bottom=min(learned["loss"]) / 30)   # room for the legend below the curves
    loss_ax.legend(loc="lower left", fontsize=8)
    t = range(1, len(result["target"]) + 1)
    seq_ax.plot(t, result["target"], color=TRUTH, marker="o", ms=3, label="target (teacher from $h_0^*$)")
    seq_ax.plot(t, learned["example"], color=MODEL, label="$h_0$ learned")
    seq_ax.plot(t, zero["example"], color="0.35", ls="--", label="$h_0 = 0$")
    low, high = seq_ax.get_ylim()
    seq_ax.set(ylim=(low, high + 0.45 * (high - low)), xlabel="time step", ylabel="output $y_t$ (unit 3)",
               title="One held-out sequence")
    seq_ax.legend(loc="upper center", ncol=2, fontsize=8)
    return save(fig, path)


# (receiving, sending) unit -> colour of that weight in both drawings; tied copies share it.
WEIGHT_COLOURS = {(0, 0): "tab:brown", (1, 1): "tab:olive", (2, 2): "tab:cyan",
                  (1, 0): "tab:green", (2, 1): "tab:purple", (0, 2): "tab:red"}
RADIUS = 0.26


def _unit(ax, centre, text, dashed=False):
    circle = patches.Circle(centre, RADIUS, facecolor="white", edgecolor="black", lw=1.4,
                            ls="--" if dashed else "-", zorder=3)
    ax.add_patch(circle)
    ax.text(*centre, text, ha="center", va="center", fontsize=10, zorder=4)
    return circle


def _arrow(ax, start, end, colour, *, patch_a=None, patch_b=None, bend=0.0, label=None, label_at=None):
    ax.add_patch(patches.FancyArrowPatch(start, end, patchA=patch_a, patchB=patch_b, arrowstyle="-|>",
                                         mutation_scale=11, lw=1.5, color=colour,
                                         connectionstyle=f"arc3,rad={bend}", zorder=2))
    if label:
        ax.text(*label_at, label, color=colour, ha="center", va="center", fontsize=10,
                bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.85}, zorder=5)


def _self_loop(ax, centre, angle, colour, label):
    """A loop leaving and re-entering the unit at ``angle`` (radians) from its centre."""
    def at(a, r):
        return centre[0] + r * math.cos(a), centre[1] + r * math.sin(a)
    _arrow(ax, at(angle + 0.7, RADIUS), at(angle - 0.7, RADIUS), colour, bend=-2.6,
           label=label, label_at=at(angle, RADIUS + 0.62))


def _weight_name(i, j):
    return f"$w_{{{i + 1}{j + 1}}}$"


# where each weight's label sits in the drawings: the folded net's (x, y), and in the unrolled net's
# first step, the fraction along the edge and an upward offset (chosen so no label sits on a line)
FOLDED_LABELS = {(1, 0): (0.35, 0.95), (2, 1): (2.05, 0.95), (0, 2): (1.2, -0.42)}
LOOP_ANGLES = {0: -1.9, 1: math.pi / 2, 2: -1.25}
UNROLLED_LABELS = {(0, 0): (0.62, 0.17), (1, 1): (0.25, -0.2), (2, 2): (0.5, 0.17),
                   (1, 0): (0.3, 0.0), (2, 1): (0.72, 0.0), (0, 2): (0.22, 0.0)}


def draw_unrolled_net(path: Path) -> Path:
    """Left: the 3-unit net with its cycles; right: the same net unrolled over STEPS_DRAWN steps."""
    gap, rows = 1.9, (0.0, 1.15, 2.3)
    folded_x, unrolled_x, y_range = (-1.55, 3.75), (-0.6, gap * STEPS_DRAWN + 0.5), (-1.35, 3.6)
    widths = [folded_x[1] - folded_x[0], unrolled_x[1] - unrolled_x[0]]
    fig, axes = new_figure(1, 2, height=3.2, gridspec_kw={"width_ratios": widths})
    net_ax, time_ax = axes[0]

    centres = [(0.0, 0.0), (1.2, 1.7), (2.4, 0.0)]
    units = [_unit(net_ax, c, str(k + 1)) for k, c in enumerate(centres)]
    for (i, j), colour in WEIGHT_COLOURS.items():
        if i == j:
            _self_loop(net_ax, centres[i], LOOP_ANGLES[i], colour, _weight_name(i, j))
        else:
            _arrow(net_ax, centres[j], centres[i], colour, patch_a=units[j], patch_b=units[i], bend=0.15,
                   label=_weight_name(i, j), label_at=FOLDED_LABELS[i, j])
    _arrow(net_ax, (-1.05, 0.0), centres[0], "black", patch_b=units[0], label="$v_1$", label_at=(-0.6, 0.2))
    net_ax.text(-1.12, 0.0, "$x_t$", ha="right", va="center", fontsize=11)
    _arrow(net_ax, centres[2], (3.3, 0.0), "black", patch_a=units[2])
    net_ax.text(3.35, 0.0, "$y_t$", ha="left", va="center", fontsize=11)
    net_ax.set(xlim=folded_x, ylim=y_range, title="The net")

    columns = [[_unit(time_ax, (gap * t, rows[k]), str(k + 1), dashed=t == 0) for k in range(3)]
               for t in range(STEPS_DRAWN + 1)]
    for t in range(1, STEPS_DRAWN + 1):
        for (i, j), colour in WEIGHT_COLOURS.items():
            start, end = (gap * (t - 1), rows[j]), (gap * t, rows[i])
            along, up = UNROLLED_LABELS[i, j]
            label_at = (start[0] + along * gap, start[1] + along * (end[1] - start[1]) + up)
            _arrow(time_ax, start, end, colour, patch_a=columns[t - 1][j], patch_b=columns[t][i],
                   label=_weight_name(i, j) if t == 1 else None, label_at=label_at)
        _arrow(time_ax, (gap * t, -0.95), (gap * t, 0.0), "black", patch_b=columns[t][0],
               label="$v_1$" if t == 1 else None, label_at=(gap * t + 0.22, -0.62))
        time_ax.text(gap * t, -1.0, f"$x_{t}$", ha="center", va="top", fontsize=10)
        _arrow(time_ax, (gap * t, rows[2]), (gap * t, 3.2), "black", patch_a=columns[t][2])
        time_ax.text(gap * t, 3.25, f"$y_{t}$", ha="center", va="bottom", fontsize=10)
    time_ax.text(0.0, -0.55, "$h_0$\n(learnable)", ha="center", va="top", fontsize=9)
    time_ax.set(xlim=unrolled_x, ylim=y_range,
                title=f"Unrolled over {STEPS_DRAWN} steps (one colour: one tied weight)")
    for ax in (net_ax, time_ax):
        ax.set_aspect("equal")
        ax.axis("off")
    return save(fig, path)


def run(out: Path, quick: bool = False, *, seed: int = 0, progress=None) -> Section:
    """Check the tied-gradient identity, learn the initial activities, draw both."""
    out = Path(out)
    report = progress or (lambda fraction: None)
    grads = tied_gradients(seed)
    summed = grads["copies"].sum(0)
    vs_reference = (summed - grads["reference"]).abs().max().item()
    vs_fused = (summed - grads["fused"]).abs().max().item()
    report(0.1)
    start = learn_initial_state(quick, seed)
    report(0.8)
    learned_loss, zero_loss = start["runs"]["learned"]["loss"][-1], start["runs"]["zero"]["loss"][-1]
    gain = zero_loss / learned_loss
    figures = [draw_unrolled_net(out / "unrolling_net.png"),
               draw_initial_state(out / "unrolling_start.png", start)]
    report(1.0)
    numbers = {
        "steps_unrolled": STEPS_DRAWN,
        "copy_gradient_norms": [float(torch.linalg.matrix_norm(g)) for g in grads["copies"]],
        "tied_gradient_norm": float(torch.linalg.matrix_norm(grads["reference"])),
        "max_abs_diff_sum_of_copies_vs_reference": vs_reference,
        "max_abs_diff_sum_of_copies_vs_fused": vs_fused,
        "max_abs_diff_reference_vs_fused": (grads["reference"] - grads["fused"]).abs().max().item(),
        "training_steps": start["steps"],
        "loss_learned_start": learned_loss,
        "loss_zero_start": zero_loss,
        "zero_start_floor": start["floor"],
        "loss_ratio_zero_over_learned": gain,
        "teacher_start": list(TEACHER_START),
        "learned_start": start["runs"]["learned"]["start"],
    }
    return Section(
        key="unrolling", title="Unrolling in time",
        claim=(f"Unrolled, a net holds one copy of each weight per step, tied together: the tied weight's gradient "
               f"equals the sum of its copies' gradients (to < {GRADIENT_TOLERANCE:g} in float64, for the reference "
               f"loop and the fused BPTT path); and initial activities learned as parameters fit a target that "
               f"starts from a nonzero state at least {REQUIRED_GAIN:g}x better than a zero start."),
        holds=max(vs_reference, vs_fused) < GRADIENT_TOLERANCE and gain >= REQUIRED_GAIN,
        numbers=numbers, figures=figures, command="unroll tour --only unrolling",
        notes=("Gradients: one random float64 net of the drawn wiring started from a random h_0 (so the first "
               "copy has a gradient too), 5 sequences of 4 steps, loss = MSE against random targets; each step's "
               "copy of weight_hh is its own leaf tensor (torch.func.functional_call on the cell). Initial state: "
               "the target is the output of the drawn wiring with hand-set weights started from "
               f"h0* = {TEACHER_START}; both students (bias-free, same random initial weights, Adam lr 0.03, "
               "batch 32, sequences of 20 steps, fused BPTT path) train all weights, one also h_0. The students "
               "have no bias on purpose: a bias-free tanh net started from 0 is an odd function of its inputs, "
               "so it cannot produce the target's even part, and zero_start_floor is that part's mean square over "
               f"{FLOOR_SEQUENCES} sequences (with biases, a unit that switches on at step 1 can imitate a learned "
               "start, and the comparison would measure optimisation rather than what a zero start cannot "
               "represent). The learned h_0 need not equal h0*: only the output is fitted, and flipping the signs "
               "of a hidden unit's start and of its incoming and outgoing weights leaves the output unchanged."),
    )
