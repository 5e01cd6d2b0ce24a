"""The explain figure of the handwriting recogniser: the four rows of unroll.handwriting.explain, drawn."""
import json

import numpy as np

from ..atomic import atomic_write
from ..data.ink.ink import Ink
from ..handwriting.explain import explain
from .figures import new_figure, save


def explain_figure(recognizer, ink: Ink, path, cells: int = 4) -> dict:
    """Draw the four rows to ``path`` (PNG) and their numbers to ``path`` with .json; returns the data."""
    data = explain(recognizer, ink)
    T = len(data["probs"])
    steps = np.arange(T)
    fig, axes = new_figure(4, 1, width=9.0, height=1.9, sharex=True)
    ax = axes[0, 0]
    chars = recognizer.alphabet.chars
    for k in np.flatnonzero(data["probs"][:, 1:].max(0) > 0.05):
        ax.plot(steps, data["probs"][:, k + 1], lw=1)
    for label, (first, last) in zip(data["labels"], data["spans"]):
        t = first + int(np.argmax(data["probs"][first:last + 1, label]))
        ax.annotate(chars[label - 1], (t, data["probs"][t, label]), textcoords="offset points", xytext=(0, 3),
                    ha="center", fontsize=11, fontweight="bold")
    ax.set_ylim(0, 1.15)
    ax.set_ylabel("P(letter)")
    ax.set_title(f"open-vocabulary reading {data['text']!r}" + (f" (label {ink.label!r})" if ink.label else ""))
    ax = axes[1, 0]
    chosen = np.argsort(-np.diff(data["cells"], axis=0).std(0))[:cells]     # the cells that move most per step
    for j in chosen:
        ax.plot(steps, data["cells"][:, j], lw=1, label=f"cell {j}")
    ax.set_ylabel("cell state c_t")
    ax.legend(fontsize=7, ncol=cells, loc="upper right")
    ax = axes[2, 0]
    span = np.ptp(data["x"]) or 1.0
    xs = (data["x"] - data["x"].min()) / span * (T - 1)     # the ink's x stretched onto the time axis
    starts = list(np.flatnonzero(data["pen_up"] > 0)) + [T]
    begin = 0
    for end in starts:
        ax.plot(xs[begin:end], data["y"][begin:end], "k-", lw=1.5)
        if end < T and begin < end:
            ax.plot(xs[end - 1:end + 1], data["y"][end - 1:end + 1], "k:", lw=0.8)
        begin = end
    ax.scatter(xs, data["y"], c=steps, cmap="viridis", s=8, zorder=3)     # colour: time step
    ax.set_ylabel("pen y\n(core heights)")
    ax = axes[3, 0]
    ax.bar(steps, data["sensitivity"], width=1.0, color="tab:red")
    t_star, char = data["most_active"]
    ax.axvline(t_star, color="k", lw=0.8, ls="--")
    ax.set_ylabel(f"|d log p({char!r}) / d input|")
    ax.set_xlabel("time step (resampled pen point)")
    save(fig, path)
    record = {"text": data["text"], "label": ink.label, "spans": data["spans"], "most_active": data["most_active"],
              "cells_shown": chosen.tolist(), "sensitivity": data["sensitivity"].round(6).tolist()}
    atomic_write(str(path) + ".json", json.dumps(record, indent=1) + "\n")
    return data
