"""Hessian-free optimisation (Martens & Sutskever 2011) against a first-order method on a long-lag problem.

The same small tanh RNN, from the same initial weights, learns the 2-bit temporal-order problem (Martens &
Sutskever's code variant) with ``unroll.optim.HessianFree`` (Gauss-Newton curvature, conjugate gradient,
Levenberg-Marquardt and structural damping) and with Adam plus gradient-norm clipping given twenty times
as many updates. HF finds the direction along which the gradient is small but the curvature smaller still.
"""
import statistics
import warnings
from pathlib import Path

import torch
from matplotlib import ticker

from ..data import make_task
from ..report.figures import new_figure, save
from ..train import FitConfig, build_model, fit
from .section import Section

TASK, LENGTH, HIDDEN = "temporal-order-2bit-2011", 20, 16
HF = {"optimizer": "hessian-free", "lr": 1.0, "batch_size": 200, "hf_curvature_batch": 100, "hf_cg_iters": 30,
      "hf_damping": 0.04, "hf_structural": 1 / 30, "weight_decay": 2e-5}
ADAM = {"optimizer": "adam", "lr": 1e-2, "batch_size": 32, "clip_norm": 1.0}
# Adam solves some seeds and not others (5 of 8 within 2,000 updates, 2026-11-27), and which ones changes with
# the platform's arithmetic, so it runs on ten seeds: the claim compares shares, not one seed's luck.
PROFILES = {"quick": {"hf_seeds": 1, "adam_seeds": 10, "hf_steps": 100, "adam_steps": 2000},
            "full": {"hf_seeds": 3, "adam_seeds": 10, "hf_steps": 100, "adam_steps": 2000}}
EVAL = {"hf": 5, "adam": 100}   # updates between evaluations
COLOURS = {"hf": "black", "adam": "tab:red"}
LABELS = {"hf": "Hessian-free", "adam": "Adam + clipping"}


def train(method: str, steps: int, seed: int) -> dict:
    """One run: the held-out error rate and wall seconds at each evaluation, and the update that solved it."""
    task = make_task(TASK, length=LENGTH)
    torch.manual_seed(seed)
    model = build_model("rnn", task.input_size, task.output_size, HIDDEN)
    config = FitConfig(steps=steps, eval_every=EVAL[method], eval_size=500, seed=seed,
                       **(HF if method == "hf" else ADAM))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="HessianFree")   # the reference-path notice, once per run
        result = fit(model, task, config, quiet=True)
    return {"solved_at": result.solved_at, "updates": result.steps,
            "error_rate": [r["error_rate"] for r in result.history],
            "wall_s": [round(r["wall_s"], 2) for r in result.history], "step": [r["step"] for r in result.history]}


def draw(path: Path, runs: dict) -> Path:
    """Held-out error against wall time, one line a seed; the legend counts the seeds solved."""
    fig, ax = new_figure(width=6.5, height=3.4)
    for method in ("adam", "hf"):                                  # HF's few lines drawn on top
        seeds = runs[method]
        solved = sum(run["solved_at"] is not None for run in seeds)
        for k, run in enumerate(seeds):
            ax.plot(run["wall_s"], run["error_rate"], color=COLOURS[method], alpha=0.9 if method == "hf" else 0.45,
                    linewidth=1.8 if method == "hf" else 1.0,
                    label=f"{LABELS[method]} ({solved} of {len(seeds)} seeds solved)" if k == 0 else None)
    ax.axhline(0.01, color="grey", linestyle=":", linewidth=1, label="success (1% wrong)")
    ax.set(xscale="log", xlabel="wall time (s, one CPU thread)", ylabel="held-out sequences wrong (fraction)",
           title=f"{TASK}, T = {LENGTH}, {HIDDEN} tanh units")
    ax.xaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda x, _: f"{x:g}"))
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    ax.legend(fontsize=8)
    return save(fig, path)


def run(out: Path, quick: bool = False, *, seed: int = 0, progress=None) -> Section:
    """Train both methods over the profile's seeds; check the claim; draw error against wall time."""
    profile = PROFILES["quick" if quick else "full"]
    report = progress or (lambda fraction: None)
    seeds = {m: [1000 * seed + k for k in range(profile[f"{m}_seeds"])] for m in ("hf", "adam")}
    jobs = [(m, s) for m, ss in seeds.items() for s in ss]
    runs = {"hf": [], "adam": []}
    for k, (method, s) in enumerate(jobs):
        runs[method].append(train(method, profile[f"{method}_steps"], s))
        report((k + 1) / len(jobs))
    figure = draw(Path(out) / "hessian_free.png", runs)
    solved = {m: sum(r["solved_at"] is not None for r in rs) for m, rs in runs.items()}
    wall = {m: statistics.median(r["wall_s"][-1] for r in rs) for m, rs in runs.items()}
    return Section(
        key="hessian_free", title="Hessian-free optimisation",
        claim=(f"On {TASK} at T = {LENGTH}, a {HIDDEN}-unit tanh RNN trained by Hessian-free optimisation gets "
               f"below 1% held-out errors within {profile['hf_steps']} updates in every seed, while the same net "
               f"trained by Adam with clipping for {profile['adam_steps']} updates solves a smaller share of "
               f"{profile['adam_seeds']} seeds."),
        holds=solved["hf"] == len(runs["hf"]) and solved["adam"] < len(runs["adam"]),
        numbers={**profile, "task": TASK, "length": LENGTH, "hidden": HIDDEN, "hf": HF, "adam": ADAM,
                 "solved": solved, "median_wall_s": wall, "runs": runs},
        figures=[figure], command="unroll tour --only hessian_free",
        notes=(f"Seeds solved: HF {solved['hf']}/{len(runs['hf'])} (median wall {wall['hf']:.0f} s), Adam + "
               f"clipping {solved['adam']}/{len(runs['adam'])} (median wall {wall['adam']:.0f} s); chance is 75% "
               f"wrong. HF: "
               f"gradient on {HF['batch_size']} sequences, Gauss-Newton curvature on another {HF['hf_curvature_batch']}"
               f", at most {HF['hf_cg_iters']} CG steps an update, structural damping weight "
               f"{HF['hf_structural']:.3g}; curvature products run the layer on its reference path (double "
               f"backward), gradients on the fused one. The published HF results (Martens & Sutskever 2011) use "
               f"100 units, batches of 1000 and 300 CG steps; `unroll bench longlag --methods tanh-hf` runs "
               f"that setting and docs/longlag.md records it."),
    )
