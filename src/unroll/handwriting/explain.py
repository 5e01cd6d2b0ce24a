"""The explain figure: four rows over the same time axis (resampled pen points) for one word.

(1) CTC output spikes: each non-blank class's probability per step, the spike of each decoded letter labelled;
(2) the memory-cell states c_t of the top layer's most active cells (forward direction; largest step changes);
(3) the pen trajectory as it is read: the ink with its x stretched onto the time axis, points coloured by
    time step, pen-up moves dotted;
(4) the sensitivity: |d log p(most active character) / d input_t| summed over the input features.
"""
import json

import numpy as np
import torch

from .. import ctc
from ..atomic import atomic_write
from ..data.ink.ink import Ink
from ..report.figures import new_figure, save
from ..time import unroll


def cell_states(model, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For one sequence x (T, 1, F): the top layer's forward-LSTM cell states (T, H) and the top layer's outputs
    (T, 1, 2H), recomputed with the reference unroller (which keeps every step) from the model's weights."""
    lstm = model.lstm
    h = (x - model.feature_mean) / model.feature_std
    for layer in range(lstm.num_layers):
        outs, traces = [], []
        for direction in range(lstm.num_directions):
            cell = lstm.cells[layer * lstm.num_directions + direction]
            xin = h.flip(0) if direction else h
            ys, _, trace = unroll(cell, xin)
            outs.append(ys.flip(0) if direction else ys)
            traces.append(trace)
        h = torch.cat(outs, dim=2)
    return traces[0].stacked("cell")[:, 0], h


def explain(recognizer, ink: Ink) -> dict:
    """The figure's data for one word: probabilities (T, K), decoded text, letter spans, cells, points,
    pen-up flags and sensitivity (T,)."""
    feats = torch.from_numpy(recognizer.features(ink))[:, None]
    if len(feats) == 0:
        raise ValueError("ink: expected a word with at least one pen-down point")
    model = recognizer.model
    x = feats.clone().requires_grad_(True)
    lp = model(x)[:, 0]
    probs = lp.exp()
    nonblank = probs[:, 1:]
    t_star, k_star = divmod(int(nonblank.argmax()), nonblank.shape[1])
    lp[t_star, k_star + 1].backward()
    sensitivity = x.grad[:, 0].abs().sum(1)
    labels = ctc.prefix_beam_search(lp.detach(), beam=16)
    spans = ctc.forced_alignment(lp.detach(), labels) if labels else []
    with torch.no_grad():
        cells, _ = cell_states(model, feats)
    f = feats[:, 0].numpy()
    return {"probs": probs.detach().numpy(), "text": recognizer.alphabet.decode(labels), "labels": labels,
            "spans": spans, "cells": cells.numpy(), "x": np.cumsum(f[:, 0]), "y": f[:, 7], "pen_up": f[:, 2],
            "sensitivity": sensitivity.numpy(), "most_active": (t_star, recognizer.alphabet.chars[k_star])}


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
