"""CTC decoding and scoring: best path, prefix beam search, lexicon-constrained words, forced alignment
(Viterbi), character error rate and word accuracy.

Every decoder takes ``log_probs`` shaped (T, K) for one sequence, natural-log probabilities with the blank at
index ``blank`` (default 0), and returns label indices (never the blank).
"""
import math

import numpy as np
import torch
from rapidfuzz.distance import Levenshtein
from torch.nn import functional as F

__all__ = ["best_path", "prefix_beam_search", "forced_alignment", "labelling_log_prob", "labellings_log_probs",
           "character_error_rate", "word_accuracy", "collapse"]


def _check(log_probs, blank: int) -> np.ndarray:
    if isinstance(log_probs, torch.Tensor):
        log_probs = log_probs.detach().cpu().double().numpy()
    lp = np.asarray(log_probs, dtype=np.float64)
    if lp.ndim != 2 or lp.shape[1] < 2:
        raise ValueError(f"log_probs: expected shape (T, K) with K >= 2 classes, got {lp.shape}")
    if not 0 <= blank < lp.shape[1]:
        raise ValueError(f"blank: expected an index in 0..{lp.shape[1] - 1}, got {blank!r}")
    return lp


def collapse(path, blank: int = 0) -> list[int]:
    """The labelling a frame path spells: repeats merged, then blanks removed."""
    out, previous = [], None
    for k in path:
        k = int(k)
        if k != previous and k != blank:
            out.append(k)
        previous = k
    return out


def best_path(log_probs, blank: int = 0) -> list[int]:
    """Greedy decoding: the most probable class per frame, collapsed (not always the most probable labelling)."""
    lp = _check(log_probs, blank)
    return collapse(lp.argmax(axis=1), blank)


def character_error_rate(hypotheses, references) -> float:
    """Total edit distance / total reference length over paired lists of strings."""
    if len(hypotheses) != len(references):
        raise ValueError(f"hypotheses: expected {len(references)} (one per reference), got {len(hypotheses)}")
    total = sum(len(r) for r in references)
    if total == 0:
        raise ValueError("references: expected at least one non-empty reference")
    return sum(Levenshtein.distance(h, r) for h, r in zip(hypotheses, references)) / total


def word_accuracy(hypotheses, references) -> float:
    """Fraction of words read exactly (case-sensitive)."""
    if len(hypotheses) != len(references) or not references:
        raise ValueError(f"hypotheses: expected {len(references)} (one per reference, at least one), "
                         f"got {len(hypotheses)}")
    return sum(h == r for h, r in zip(hypotheses, references)) / len(references)


def _logsumexp(a: float, b: float) -> float:
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    m = max(a, b)
    return m + math.log(math.exp(a - m) + math.exp(b - m))


def _extended(labels, blank: int) -> list[int]:
    """blank, l1, blank, l2, ..., blank."""
    ext = [blank]
    for k in labels:
        ext += [int(k), blank]
    return ext


def _shift(a: np.ndarray, by: int) -> np.ndarray:
    """a moved ``by`` places to the right, -inf filling the start."""
    out = np.full_like(a, -np.inf)
    out[by:] = a[:len(a) - by]
    return out


def labelling_log_prob(log_probs, labels, blank: int = 0) -> float:
    """log P(labels | x) by the CTC forward algorithm (-inf when the labelling needs more frames than T)."""
    lp = _check(log_probs, blank)
    ext = _extended(labels, blank)
    S, T = len(ext), len(lp)
    alpha = np.full(S, -np.inf)
    alpha[0] = lp[0, ext[0]]
    if S > 1:
        alpha[1] = lp[0, ext[1]]
    ext_arr = np.array(ext)
    skip = np.zeros(S, bool)
    skip[2:] = (ext_arr[2:] != blank) & (ext_arr[2:] != ext_arr[:-2])
    for t in range(1, T):
        alpha = np.logaddexp(np.logaddexp(alpha, _shift(alpha, 1)), np.where(skip, _shift(alpha, 2), -np.inf))
        alpha = alpha + lp[t, ext_arr]
    return float(np.logaddexp(alpha[-1], alpha[-2]) if S > 1 else alpha[-1])


def labellings_log_probs(log_probs, labellings, blank: int = 0) -> list[float]:
    """log P(labels | x) of each labelling in ``labellings`` in one batched pass of torch's CTC loss: the
    fast path of ``labelling_log_prob`` (equal to it; -inf where a labelling needs more frames than T)."""
    lp = torch.from_numpy(_check(log_probs, blank))
    if not labellings:
        return []
    T, n = len(lp), len(labellings)
    targets = torch.tensor([k for labels in labellings for k in labels], dtype=torch.long)
    lengths = torch.tensor([len(labels) for labels in labellings])
    nll = F.ctc_loss(lp[:, None].expand(T, n, -1), targets, torch.full((n,), T), lengths, blank=blank,
                     reduction="none")
    return (-nll).tolist()


def forced_alignment(log_probs, labels, blank: int = 0) -> list[tuple[int, int]]:
    """Viterbi alignment of ``labels`` to the frames: for each label, the (first, last) frame of the most
    probable path's run on it. Raises ValueError if the labelling cannot fit in T frames."""
    lp = _check(log_probs, blank)
    labels = [int(k) for k in labels]
    ext = np.array(_extended(labels, blank))
    S, T = len(ext), len(lp)
    score = np.full((T, S), -np.inf)
    back = np.zeros((T, S), np.int64)
    score[0, 0] = lp[0, ext[0]]
    if S > 1:
        score[0, 1] = lp[0, ext[1]]
    skip = np.zeros(S, bool)
    skip[2:] = (ext[2:] != blank) & (ext[2:] != ext[:-2])
    for t in range(1, T):
        candidates = np.stack([score[t - 1], _shift(score[t - 1], 1),
                               np.where(skip, _shift(score[t - 1], 2), -np.inf)])
        choice = candidates.argmax(0)
        score[t] = candidates[choice, np.arange(S)] + lp[t, ext]
        back[t] = np.arange(S) - choice
    ends = [S - 1] + ([S - 2] if S > 1 else [])
    s = max(ends, key=lambda e: score[T - 1, e])
    if score[T - 1, s] == -np.inf:
        raise ValueError(f"labels: {len(labels)} labels (with repeats) do not fit in {T} frames")
    states = [0] * T
    for t in range(T - 1, -1, -1):
        states[t] = s
        s = back[t, s]
    spans = [[None, None] for _ in labels]
    for t, s in enumerate(states):
        if s % 2 == 1:
            span = spans[s // 2]
            span[0] = t if span[0] is None else span[0]
            span[1] = t
    return [tuple(s) for s in spans]


def prefix_beam_search(log_probs, beam: int = 16, blank: int = 0, allowed=None, prune: float = -8.0,
                       top: int | None = None, score=None):
    """CTC prefix beam search: the labellings with the highest summed path probability kept by a beam.

    ``allowed(prefix, k)`` -> bool may forbid extending ``prefix`` (a tuple) by label ``k`` (a lexicon
    trie does this); classes with log-probability below ``prune`` at a frame are not tried there.
    ``score(prefix, complete)`` -> float (a language model's bonus) is added to log P when prefixes are
    ranked, with complete=True for the final choice. Returns the best labelling (a list), or with ``top``
    = N a list of the N best (labelling, log-probability without the bonus), best first.
    """
    lp = _check(log_probs, blank)
    beam = int(beam)
    if beam < 1:
        raise ValueError(f"beam: expected a positive int, got {beam!r}")
    bonus = score or (lambda prefix, complete=False: 0.0)
    beams = {(): (0.0, -math.inf)}          # prefix -> (log P ending in blank, log P ending in a label)
    above = lp > prune
    above[:, blank] = False
    for t in range(len(lp)):
        row = lp[t].tolist()                 # Python floats: the scalar arithmetic below is several times faster
        candidates = np.flatnonzero(above[t]).tolist()
        nxt = {}                             # prefix -> [log P ending in blank, log P ending in a label]
        for prefix, (pb, pnb) in beams.items():
            total = _logsumexp(pb, pnb)
            value = total + row[blank]
            entry = nxt.get(prefix)
            if entry is None:
                entry = nxt[prefix] = [value, -math.inf]
            else:
                entry[0] = _logsumexp(entry[0], value)
            if prefix:
                last = prefix[-1]
                entry[1] = _logsumexp(entry[1], pnb + row[last])
            else:
                last = None
            for k in candidates:
                if allowed is not None and not allowed(prefix, k):
                    continue
                value = (pb if k == last else total) + row[k]
                longer = prefix + (k,)
                entry = nxt.get(longer)
                if entry is None:
                    nxt[longer] = [-math.inf, value]
                else:
                    entry[1] = _logsumexp(entry[1], value)
        if len(nxt) > beam:                  # on most frames (blank-heavy) nothing is pruned: no ranking needed
            nxt = dict(sorted(nxt.items(), key=lambda item: -(_logsumexp(*item[1]) + bonus(item[0])))[:beam])
        beams = nxt
    ranked = sorted(((list(p), _logsumexp(*s), bonus(p, True)) for p, s in beams.items()), key=lambda r: -r[1] - r[2])
    return ranked[0][0] if top is None else [(labels, log_p) for labels, log_p, _ in ranked[:top]]
