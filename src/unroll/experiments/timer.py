"""Section 1 of the tour: Jaeger's timer, learned by BPTT.

A trigger spike (u1) starts a pulse of height 0.5 that must last time_scale * u2 steps, u2 being a
level in {0.1, ..., 1.0} held as a second input. A fully recurrent net of tanh units with a linear
output unit among them, and an LSTM with a linear readout, are trained by backpropagation through
time with ``fit``, then run on unseen test sequences: NRMSE and the error in pulse duration.
"""
import math
from dataclasses import dataclass
from pathlib import Path

import torch

from ..data.timer import Timer
from ..layers import FullyRecurrent
from ..report.figures import MODEL, TRUTH, new_figure, save
from ..train import FitConfig, build_model, fit
from ..train.seeding import batch_generator
from .section import Section

FULL_TIME_SCALE, QUICK_TIME_SCALE = 100, 20
TEST_SEQUENCES = 256
UNITS = 16          # units of the fully recurrent net (15 tanh + the linear output unit), LSTM cells
LONGEST_FULL_BPTT = 1000   # longer sequences train by truncated BPTT: every WINDOW steps, back through 2 WINDOW
WINDOW = 200


@dataclass(frozen=True)
class Recipe:
    """How one net is built and trained."""
    label: str
    steps: int
    quick_steps: int
    batch_size: int
    lr: float      # Adam's, decayed to 0 on a cosine over the run


RECIPES = {
    "fully_recurrent": Recipe(f"fully recurrent net ({UNITS} units)", 6000, 2000, 8, 1e-2),
    "lstm": Recipe(f"LSTM ({UNITS} cells)", 800, 600, 16, 3e-2),
}


def build(name: str, seed: int) -> torch.nn.Module:
    """The net ``name`` (a RECIPES key), initial weights drawn from ``seed``.

    forward(x (T, B, 2)) -> (y (T, B, 1), state).
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if name == "lstm":
            return build_model("lstm", Timer.input_size, Timer.output_size, UNITS)
        return FullyRecurrent(Timer.input_size, UNITS, activation=["tanh"] * (UNITS - 1) + ["linear"],
                              output_units=[UNITS - 1])


def train(name: str, task: Timer, quick: bool, seed: int) -> tuple[torch.nn.Module, dict]:
    """Train the net ``name`` on ``task`` by full BPTT, or truncated BPTT on sequences longer than
    LONGEST_FULL_BPTT (as many updates, so fewer sequences); returns (net, training numbers)."""
    recipe = RECIPES[name]
    windows = 1 if task.length <= LONGEST_FULL_BPTT else math.ceil(task.length / WINDOW)
    steps = max(1, _steps(recipe, quick) // windows)
    config = FitConfig(steps=steps, batch_size=recipe.batch_size, lr=recipe.lr, lr_schedule="cosine",
                       clip_norm=1.0, tbptt=None if windows == 1 else [WINDOW, 2 * WINDOW],
                       eval_every=max(1, steps // 10), eval_size=64, stop_when_solved=False, seed=seed)
    net = build(name, seed)
    result = fit(net, task, config, quiet=True)
    first = next((r["step"] for r in result.history if task.solved(r)), None)
    return net, {"training_steps": result.steps, "updates": result.steps * windows,
                 "training_seconds": round(result.seconds, 2), "steps_to_criterion": first}


def evaluate(net: torch.nn.Module, task: Timer, x: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """(output (T, B, 1), metrics) of ``net`` on the test sequences x (T, B, 2)."""
    with torch.no_grad():
        output, _ = net(x)
    return output, {k: round(v, 4) for k, v in task.metrics(output, target).items()}


def draw(path: Path, x: torch.Tensor, target: torch.Tensor, outputs: dict, nrmse: dict, task: Timer) -> Path:
    """One panel per net: triggers, level, target and output of test sequence 0."""
    fig, axes = new_figure(len(outputs), 1, height=2.6, sharex=True)
    steps = torch.arange(x.shape[0])
    triggers = steps[x[:, 0, 0] > 0]
    for ax, (name, output) in zip(axes[:, 0], outputs.items()):
        ax.step(steps, x[:, 0, 1], where="post", color="grey", lw=0.8, label="level u2")
        ax.plot(triggers, torch.full((len(triggers),), 1.1), "v", color="black", ms=6, label="trigger u1")
        ax.plot(steps, target[:, 0, 0], color=TRUTH, lw=2, label=f"target: 0.5 for {task.time_scale} x u2 steps")
        ax.plot(steps, output[:, 0, 0], color=MODEL, lw=1.3, label="network output")
        ax.set_title(f"{RECIPES[name].label} on an unseen test sequence (test NRMSE {nrmse[name]:.2f})")
        ax.set_ylabel("activation")
        ax.set_ylim(-0.1, 1.5)
        ax.set_yticks([0, 0.25, 0.5, 0.75, 1])
    axes[0, 0].legend(loc="upper center", ncol=4, fontsize=8.5, handlelength=1.5, columnspacing=1.2)
    axes[-1, 0].set_xlabel("time step")
    return save(fig, path)


def run(out: Path, quick: bool = False, *, seed: int = 0, progress=None, time_scale: int | None = None) -> Section:
    """Train both nets on the timer at ``time_scale`` (default 100, 20 when quick) and test them."""
    scale = time_scale or (QUICK_TIME_SCALE if quick else FULL_TIME_SCALE)
    task = Timer(length=4 * scale, time_scale=scale)
    x, target = task.batch(TEST_SEQUENCES, batch_generator(seed, "test"))
    numbers = {"time_scale": scale, "sequence_length": task.length, "test_sequences": TEST_SEQUENCES,
               "nrmse_criterion": task.solved_at}
    in_pulse = (target > 0).float().mean().item()
    numbers.update(target_std=round(target.std().item(), 4), fraction_in_pulse=round(in_pulse, 4))
    outputs, done, total = {}, 0, sum(_steps(recipe, quick) for recipe in RECIPES.values())
    for name, recipe in RECIPES.items():
        net, trained = train(name, task, quick, seed)
        outputs[name], tested = evaluate(net, task, x, target)
        numbers[name] = {**tested, **trained}
        done += _steps(recipe, quick)
        if progress is not None:
            progress(done / total)
    nrmse = {name: numbers[name]["nrmse"] for name in RECIPES}
    figure = draw(Path(out) / "timer.png", x, target, outputs, nrmse, task)
    criterion = f"NRMSE < {task.solved_at}"
    return Section(
        key="timer", title="Jaeger's timer",
        claim=f"Trained by backpropagation through time, a fully recurrent net of tanh units and an LSTM both "
              f"learn Jaeger's timer: on unseen test sequences their output holds 0.5 for {scale} x u2 steps after "
              f"each trigger and 0 otherwise (test {criterion}).",
        holds=all(value < task.solved_at for value in nrmse.values()),
        numbers=numbers, figures=[figure],
        command="unroll tour --only timer" + (f" --time-scale {time_scale}" if time_scale else ""),
        notes=NOTES.format(scale=scale, length=task.length, criterion=task.solved_at, **numbers,
                           timing=task.solved_at ** 2 * (1 - in_pulse), longest=LONGEST_FULL_BPTT,
                           window=WINDOW, window2=2 * WINDOW))


def _steps(recipe: Recipe, quick: bool) -> int:
    return recipe.quick_steps if quick else recipe.steps


NOTES = (
    "NRMSE: the RMSE over all test steps divided by the target's standard deviation ({target_std:.3f}, "
    "the pulses filling a fraction p = {fraction_in_pulse:.2f} of the time). The criterion {criterion} is the "
    "NRMSE of pulses of the right height whose ends are off by {timing:.1%} of their length (NRMSE^2 = timing "
    "error / (pulse length x (1 - p))). duration_error: mean |output pulse length - target pulse length| in "
    "steps, an output pulse's length being the number of steps from its trigger to the next where the output "
    "exceeds 0.25; steps_to_criterion: the first evaluation (64 held-out sequences, every tenth of the run) "
    "with NRMSE below the criterion. Both nets train on {length}-step sequences with Adam on a cosine "
    "schedule, by full BPTT up to {longest} steps and truncated BPTT beyond (every {window} steps, back "
    "through {window2}). Pulses last {scale} x u2 steps here. The training budget is sized for time scales up "
    "to 100: at Jaeger's 1000 x u2 the LSTM needs about 20,000 truncated-BPTT updates, more than the tour "
    "spends; this trains it: unroll train --task timer --length 4000 --model lstm --hidden 16 --batch-size 16 --steps 1000 "
    "--tbptt 200,400 --lr 0.01 --lr-schedule cosine --clip-norm 1 --no-stop-when-solved. An echo state network "
    "on this timer (a trained linear readout, no BPTT) is measured by benchmarks/reservoir.py (docs/reservoir.md)."
)
