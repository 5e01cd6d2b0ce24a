"""Scoring a recogniser on featurised words, and choosing the decoders' settings on validation writers: the
language model's weight and length bonus, then the word choice's prior weight, length bonus, log prior
of a word outside the lexicon and casing bonuses."""
import functools
import itertools

import torch

from .. import ctc
from .batches import pad
from .charlm import PrefixScorer
from .ensemble import ensemble_candidates
from .lexicon import choose_word

PRIOR_WEIGHTS = (0.0, 0.25, 0.5, 1.0)
LENGTH_BONUSES = (0.0, 1.0, 2.0, 3.0)
OOV_PRIORS = (-15.0, -20.0, -25.0, -30.0, -40.0)
CAPITALISED_BONUSES = (0.0, 0.5, 1.0)
UPPERCASE_BONUSES = (0.0, 1.0, 2.0)
WORD_CHOICE = ("prior_weight", "length_bonus", "oov_prior", "capitalised_bonus", "uppercase_bonus")
LM_WEIGHTS = (0.5, 1.0, 1.5)
LM_LENGTH_BONUSES = (1.0, 2.0, 3.0)


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


def member_log_probs(models: list, features: list, batch: int = 64) -> list[torch.Tensor]:
    """Per word (M, T_i, K): the log-probabilities of each of the M networks."""
    return [torch.stack(parts) for parts in zip(*(log_probs_of(m, features, batch) for m in models))]


def readings(log_probs: list, alphabet, lexicon, beam: int = 24, scorer=None) -> list[dict]:
    """Per word's (M, T, K) log-probabilities: the first network's best path, the open-vocabulary beam
    reading guided by the language model a call of ``scorer()`` returns (None: none) as (word, log P, log
    prior) ("open"), and the lexicon candidates (``ensemble.ensemble_candidates``)."""
    out = []
    for lp in log_probs:
        open_reading, candidates = ensemble_candidates(lp, alphabet, lexicon, beam, scorer)
        out.append({"best_path": alphabet.decode(ctc.best_path(lp[0])), "open": open_reading,
                    "candidates": candidates})
    return out


def tune_language_model(log_probs: list, labels: list, alphabet, model, beam: int = 24) -> dict:
    """The (lm_weight, lm_length_bonus) whose language-model beam reading has the lowest CER on these words
    (per word (M, T, K) log-probabilities)."""
    best = None
    for weight, bonus in itertools.product(LM_WEIGHTS, LM_LENGTH_BONUSES):
        scorer = functools.partial(PrefixScorer, model, alphabet.chars, weight, bonus)
        hyp = [ensemble_candidates(lp, alphabet, None, beam, scorer)[0][0] for lp in log_probs]
        cer = ctc.character_error_rate(hyp, labels)
        if best is None or cer < best["lm_cer"]:
            best = {"lm_weight": weight, "lm_length_bonus": bonus, "lm_cer": cer}
    return best


def tune_decoding(read: list, labels: list) -> dict:
    """The choose_word settings (WORD_CHOICE) with the highest word accuracy (ties: the first in the grid)."""
    best = None
    for setting in itertools.product(PRIOR_WEIGHTS, LENGTH_BONUSES, OOV_PRIORS, CAPITALISED_BONUSES,
                                     UPPERCASE_BONUSES):
        acc = ctc.word_accuracy([choose_word(r["open"], r["candidates"], *setting) for r in read], labels)
        if best is None or acc > best["word_accuracy"]:
            best = {**dict(zip(WORD_CHOICE, setting)), "word_accuracy": acc}
    return best


ERROR_KINDS = ("case only", "single letter", "not in the lexicon", "never proposed", "outscored")


def word_errors(read: list, chosen: list, labels: list, lexicon) -> dict:
    """Why the lexicon decoder got words wrong: counts of the first kind that fits each wrong word: its case
    only; a single letter; a label not in the lexicon; a lexicon word the search never proposed; proposed
    but outscored by another candidate or the open reading. ``read``: ``readings``; ``chosen``: the words
    decoded from them."""
    counts = dict.fromkeys(ERROR_KINDS, 0)
    for r, word, label in zip(read, chosen, labels):
        if word == label:
            continue
        if word.lower() == label.lower():
            kind = "case only"
        elif len(label) == 1:
            kind = "single letter"
        elif label not in lexicon:
            kind = "not in the lexicon"
        elif label not in {c[0] for c in r["candidates"]}:
            kind = "never proposed"
        else:
            kind = "outscored"
        counts[kind] += 1
    return counts
