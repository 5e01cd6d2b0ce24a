"""Reading a word with several separately trained networks (an ensemble).

The CTC outputs of separately trained networks spike at different frames, so averaging them frame by frame
blurs both (on the validation writers it reads fewer words than the best member alone). They are combined
per word instead: every member proposes its candidates (``lexicon.word_candidates``: its lexicon search,
near misses, casings and open reading), every member scores every proposed word, and the words compete on
the members' mean log P(word | ink), a product of experts.
"""
import math

import torch

from .. import ctc
from .alphabet import Alphabet
from .lexicon import Lexicon, word_candidates


def ensemble_candidates(log_probs: torch.Tensor, alphabet: Alphabet, lexicon: Lexicon | None, beam: int = 24,
                        scorer=None):
    """``word_candidates`` for M members' (M, T, K) log-probabilities of one word: (open reading, lexicon
    candidates), each word's log P(word | ink) the mean over the members. A member's own search gives its
    score for the words it proposed; the other members score them exactly. The open reading is the
    members' open reading with the highest mean log P plus the language model's bonus (``scorer()``: a
    fresh charlm.PrefixScorer per word, or None; ``scorer`` itself may be None). One member:
    ``word_candidates`` itself."""
    if log_probs.dim() != 3:
        raise ValueError(f"log_probs: expected (members, T, K), got shape {tuple(log_probs.shape)}")
    proposals = [word_candidates(lp, alphabet, lexicon, beam, scorer() if scorer else None) for lp in log_probs]
    if len(proposals) == 1:
        return proposals[0]
    priors, own = {}, []
    for (word, score, prior), candidates in proposals:
        known = {w: s for w, s, _ in candidates}
        priors.update({w: p for w, _, p in candidates})
        if word:
            known[word] = score
            priors.setdefault(word, prior)
        own.append(known)
    words = sorted(priors)
    total = dict.fromkeys(words, 0.0)
    for lp, known in zip(log_probs, own):
        missing = [w for w in words if w not in known]
        exact = ctc.labellings_log_probs(lp, [alphabet.encode(w) for w in missing])
        for w, s in [*known.items(), *zip(missing, exact)]:
            total[w] += s
    mean = {w: s / len(log_probs) for w, s in total.items()}
    opens = {word for (word, _, _), _ in proposals if word}
    if opens:
        bonus = (scorer() if scorer else None) or (lambda labels, complete=False: 0.0)
        word = max(sorted(opens), key=lambda w: mean[w] + bonus(tuple(alphabet.encode(w)), complete=True))
        open_reading = (word, mean[word], priors[word])
    else:
        open_reading = ("", -math.inf, None)
    return open_reading, [(w, mean[w], priors[w]) for w in words if priors[w] is not None]
