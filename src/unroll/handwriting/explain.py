"""The numbers of the explain figure (drawn by unroll.report.explain): four rows over the same time axis
(resampled pen points) for one word.

(1) CTC output spikes: each non-blank class's probability per step, the spike of each decoded letter labelled;
(2) the memory-cell states c_t of the top layer's most active cells (forward direction; largest step changes);
(3) the pen trajectory as it is read: the ink with its x stretched onto the time axis, points coloured by
    time step, pen-up moves dotted;
(4) the sensitivity: |d log p(most active character) / d input_t| summed over the input features.
"""
import numpy as np
import torch

from .. import ctc
from ..data.ink.ink import Ink
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
    """The figure's data for one word, from the recogniser's first network (an ensemble's networks each
    spike at their own frames; the picture shows one): probabilities (T, K), decoded text, letter spans,
    cells, points, pen-up flags and sensitivity (T,)."""
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
