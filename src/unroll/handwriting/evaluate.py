"""Scoring a recogniser on featurised words, and choosing the lexicon decoder's prior weight and fallback
margin on validation writers."""
import math

import torch

from .. import ctc
from .batches import pad
from .lexicon import choose_word, word_candidates

PRIOR_WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0)
FALLBACK_MARGINS = (2.0, 5.0, 10.0, 20.0, math.inf)


def log_probs_of(model, features: list, batch: int = 64) -> list[torch.Tensor]:
    """Per word (T_i, K) log-probabilities (on the CPU, wherever the model is)."""
    out = []
    device = next(model.parameters()).device
    with torch.no_grad():
        for i in range(0, len(features), batch):
            chunk = features[i:i + batch]
            x, lengths, _, _ = pad(chunk, [[1]] * len(chunk))
            lp = model(x.to(device), lengths).cpu()
            out += [lp[:n, b] for b, n in enumerate(lengths.tolist())]
    return out


def readings(log_probs: list, alphabet, lexicon, beam: int = 24) -> list[dict]:
    """Per word: best path, open-vocabulary beam reading and lexicon candidates."""
    out = []
    for lp in log_probs:
        open_reading, candidates = word_candidates(lp, alphabet, lexicon, beam)
        out.append({"best_path": alphabet.decode(ctc.best_path(lp)), "open": open_reading,
                    "candidates": candidates})
    return out


def tune_decoding(read: list, labels: list) -> dict:
    """The (prior_weight, fallback_margin) with the highest word accuracy on these words."""
    best = None
    for w in PRIOR_WEIGHTS:
        for m in FALLBACK_MARGINS:
            acc = ctc.word_accuracy([choose_word(r["open"], r["candidates"], w, m) for r in read], labels)
            if best is None or acc > best["word_accuracy"]:
                best = {"prior_weight": w, "fallback_margin": m if math.isfinite(m) else 1e9, "word_accuracy": acc}
    return best
