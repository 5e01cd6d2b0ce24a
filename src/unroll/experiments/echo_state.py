"""Section 7 of the tour: an echo state network generates Mackey-Glass in closed loop (Jaeger 2001).

A reservoir of 400 leaky tanh units with output feedback is teacher-forced on 3,000 samples of the
Mackey-Glass series (tau = 17; Euler 0.1, subsampled by 10, squashed by tanh(y - 1)); a ridge readout
is fitted on the states after a washout of 1,000; then the network runs on its own, its output fed back,
and NRMSE84 is the error 84 steps after the end of the training sequence, over independent runs (each
with its own stretch of the attractor and its own reservoir): sqrt(mean over runs of the squared error at
step 84 / the series' variance). Jaeger (2001) reports 2.8e-4 for this setting.
"""
import math
from pathlib import Path

import torch

from ..data.mackey_glass import mackey_glass
from ..report.figures import MODEL, TRUTH, new_figure, save
from ..reservoir import ESN, Reservoir, Ridge
from .section import Section

UNITS, TRAIN, WASHOUT, HORIZON, SHOWN = 400, 3000, 1000, 84, 300
RESERVOIR = {"spectral_radius": 1.0, "leak": 0.5, "connectivity": 0.025, "feedback_scaling": 1.0,
             "bias_scaling": 0.2}
NOISE, RIDGE = 1e-8, 1e-10     # state noise while teacher forcing; ridge penalty
JAEGER_2001 = 2.8e-4
CLAIM_AT_MOST = 1e-3
PROFILES = {"full": 20, "quick": 3}      # runs


def mackey_glass_run(seed: int, units: int = UNITS, steps: int = HORIZON) -> dict:
    """Train on TRAIN samples of the series drawn from ``seed`` (the reservoir too), generate ``steps``.
    Returns truth and generated (steps,), one-step NRMSE on the training steps, the series' variance."""
    series = mackey_glass(TRAIN + steps, seed=seed).reshape(-1, 1, 1)
    train, ahead = series[:TRAIN], series[TRAIN:]
    reservoir = Reservoir(0, units, feedback_size=1, dtype=torch.float64, seed=seed, **RESERVOIR)
    esn = ESN(reservoir, Ridge(RIDGE), noise=NOISE, seed=seed)
    last = esn.fit(None, train, washout=WASHOUT)
    generated, _ = esn.generate(steps, last, train[-1])
    return {"truth": ahead[:, 0, 0], "generated": generated[:, 0, 0], "variance": float(series.var())}


def nrmse_at(runs: list[dict], step: int) -> float:
    """sqrt(mean over runs of (generated - truth)^2 at ``step`` (1-based) / mean variance)."""
    squared = [float(r["generated"][step - 1] - r["truth"][step - 1]) ** 2 for r in runs]
    variance = sum(r["variance"] for r in runs) / len(runs)
    return math.sqrt(sum(squared) / len(squared) / variance)


def draw(path: Path, shown: dict, runs: list[dict]) -> Path:
    """Top: run 0 in closed loop against the true series; bottom: |error| against steps ahead, every run."""
    fig, axes = new_figure(2, 1, height=2.8)
    top, bottom = axes[:, 0]
    steps = torch.arange(1, SHOWN + 1)
    top.plot(steps, shown["truth"], color=TRUTH, lw=2, label="Mackey-Glass (tau 17), tanh(y - 1)")
    top.plot(steps, shown["generated"], color=MODEL, lw=1.2, ls="--", label="ESN in closed loop")
    top.axvline(HORIZON, color="grey", lw=0.8, ls=":")
    top.set_ylabel("signal")
    top.set_xlabel("steps after the end of teacher forcing")
    top.set_title(f"Closed-loop generation by a {UNITS}-unit echo state network (run 0)")
    top.set_ylim(-0.8, 0.45)
    top.legend(loc="lower center", fontsize=8.5, ncol=2)
    ahead = torch.arange(1, HORIZON + 1)
    for r in runs:
        error = (r["generated"][:HORIZON] - r["truth"][:HORIZON]).abs().clamp(min=1e-12)
        bottom.semilogy(ahead, error, color=MODEL, lw=0.7, alpha=0.6)
    bottom.axvline(HORIZON, color="grey", lw=0.8, ls=":")
    bottom.set_xlabel("steps ahead in closed loop")
    bottom.set_ylabel("|generated - true|")
    bottom.set_title(f"Error of each of the {len(runs)} runs (NRMSE{HORIZON} at the dotted line)")
    return save(fig, path)


def run(out: Path, quick: bool = False, *, seed: int = 0, progress=None) -> Section:
    """NRMSE84 of Mackey-Glass closed-loop generation over 20 runs (3 when quick)."""
    count = PROFILES["quick" if quick else "full"]
    runs = []
    for index in range(count):
        runs.append(mackey_glass_run(seed * 1000 + index, steps=SHOWN if index == 0 else HORIZON))
        if progress is not None:
            progress((index + 1) / count)
    value = nrmse_at(runs, HORIZON)
    per_run = [math.sqrt(float(r["generated"][HORIZON - 1] - r["truth"][HORIZON - 1]) ** 2 / r["variance"])
               for r in runs]
    numbers = {"units": UNITS, "training_steps": TRAIN, "washout": WASHOUT, "runs": count,
               "nrmse84": value, "jaeger_2001_nrmse84": JAEGER_2001, "claim_at_most": CLAIM_AT_MOST,
               "nrmse84_per_run": per_run, "nrmse_at_steps": {str(s): nrmse_at(runs, s) for s in (1, 17, 50, 84)},
               "reservoir": RESERVOIR, "state_noise": NOISE, "ridge": RIDGE}
    figure = draw(Path(out) / "echo_state.png", runs[0], runs)
    return Section(
        key="echo_state", title="Echo state network: Mackey-Glass in closed loop",
        claim=f"An echo state network of {UNITS} leaky tanh units, trained only in its linear readout (ridge "
              f"regression on {TRAIN:,} teacher-forced steps), generates the chaotic Mackey-Glass series (tau = 17) "
              f"on its own with NRMSE84 at most {CLAIM_AT_MOST:g} (Jaeger 2001: {JAEGER_2001:g}).",
        holds=value <= CLAIM_AT_MOST, numbers=numbers, figures=[figure],
        command="unroll tour --only echo_state",
        notes=NOTES.format(count=count, washout=WASHOUT, noise=NOISE, ridge=RIDGE, **RESERVOIR))


NOTES = (
    "{count} runs, each with its own reservoir and its own stretch of the attractor (a seeded history). "
    "Reservoir: spectral radius {spectral_radius}, leak {leak}, connectivity {connectivity}, output feedback "
    "weights uniform in [-{feedback_scaling}, {feedback_scaling}], bias uniform in [-{bias_scaling}, "
    "{bias_scaling}], no input; teacher forcing with state noise of std {noise:g}; the ridge readout "
    "(penalty {ridge:g}, unpenalised bias) is fitted on the states after a washout of {washout} steps. "
    "Jaeger's own network differed (sigmoid units without leak, other weights); the protocol (data, 400 "
    "units, 3,000 training steps, NRMSE84) is his. benchmarks/reservoir.py runs the same recipe and the "
    "other classic ESN tasks against ReservoirPy; docs/reservoir.md has the numbers."
)
