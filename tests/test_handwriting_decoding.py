"""Lexicon-constrained word decoding against brute force, case rules, fallback; and CTC training on
synthetic Hershey ink (loss falls; a resumed run matches an uninterrupted one)."""
import math
import shutil

import numpy as np
import pytest
import torch

from unroll import ctc
from unroll.data.ink.hershey import synthesize
from unroll.data.ink.preprocess import ink_to_features
from unroll.handwriting.alphabet import Alphabet
from unroll.handwriting.corpus import Corpus, split_of
from unroll.handwriting.lexicon import Lexicon, choose_word, decode_word, word_candidates
from unroll.handwriting.train import HandwritingConfig, train_handwriting
from unroll.train.checkpoint import load_checkpoint

ABC = Alphabet("abcdotgCD")


def _spelling(text, alphabet=ABC, frames_per_char=3, confidence=0.7, seed=0, confusions=None):
    """Log-probs that spell ``text`` with blanks between letters, mixing in ``confusions`` {position: char}."""
    rng = np.random.default_rng(seed)
    rows = []
    for i, c in enumerate(text):
        p = np.full(len(alphabet), (1 - confidence) / (len(alphabet) - 1)) + rng.uniform(0, 0.01, len(alphabet))
        p[alphabet.index[c]] = confidence
        if confusions and i in confusions:
            p[alphabet.index[confusions[i]]] = confidence * 0.9
        blank = np.full(len(alphabet), 0.02)
        blank[0] = 0.9
        rows += [p] * (frames_per_char - 1) + [blank]
    a = np.array(rows)
    return np.log(a / a.sum(1, keepdims=True))


def test_lexicon_decoding_equals_brute_force_over_the_lexicon():
    lexicon = Lexicon({"cat": 5, "cot": 50, "dog": 20, "cog": 1, "tag": 3})
    for seed in range(4):
        lp = _spelling("cat", seed=seed, confusions={1: "o"})
        for w in (0.0, 0.5, 2.0):
            scores = {word: ctc.labelling_log_prob(lp, ABC.encode(word)) + w * lexicon.log_prior[word]
                      for word in lexicon.log_prior}
            assert decode_word(lp, ABC, lexicon, beam=64, prior_weight=w, fallback_margin=math.inf) == \
                max(scores, key=scores.get)


def test_prior_breaks_acoustic_ties_and_case_patterns():
    lexicon = Lexicon({"cat": 1, "cot": 100})
    lp = _spelling("cat", confusions={1: "o"})
    assert decode_word(lp, ABC, None) == "cat"                       # open vocabulary: acoustics only
    assert decode_word(lp, ABC, lexicon, prior_weight=2.0, fallback_margin=1e9) == "cot"
    assert decode_word(_spelling("Cat"), ABC, lexicon, prior_weight=0.0) == "Cat"
    assert decode_word(_spelling("CAT", alphabet=Alphabet("abcdotgCDAT")), Alphabet("abcdotgCDAT"),
                       lexicon, prior_weight=0.0) == "CAT"
    # mixed case is not a way to write a lexicon word: cAT has no candidate, so the open reading stands
    mixed = Alphabet("abcdotgCDAT")
    reading, candidates = word_candidates(_spelling("cAT", alphabet=mixed), mixed, lexicon)
    assert reading[0] == "cAT" and all(c[0] != "cAT" for c in candidates)


def test_falls_back_to_open_vocabulary_when_no_word_fits():
    lexicon = Lexicon({"cat": 1, "cot": 1})
    lp = _spelling("dog", confidence=0.95)
    assert decode_word(lp, ABC, lexicon, fallback_margin=5.0) == "dog"
    reading, candidates = word_candidates(lp, ABC, lexicon)
    assert choose_word(reading, candidates, 0.5, math.inf).lower() in ("cat", "cot")   # no fallback at all
    assert choose_word(("x", -1.0), [], 0.5, 5.0) == "x"


def test_lexicon_file_reading(tmp_path):
    path = tmp_path / "words.txt"
    path.write_text("Cat 3\ndog\n\ncat 1\n")
    lex = Lexicon.read(path)
    assert len(lex) == 2 and "CAT" in lex
    assert math.exp(lex.log_prior["cat"]) == pytest.approx(4 / 5)
    path.write_text("cat three\n")
    with pytest.raises(ValueError, match=r"words.txt:1: expected 'word \[frequency\]'"):
        Lexicon.read(path)
    with pytest.raises(ValueError, match="does not exist"):
        Lexicon.read(tmp_path / "missing.txt")


def _synthetic_corpus(spacing=0.35):
    """Hershey words by 24 synthetic writers, keyed so that both train and val splits have writers."""
    words = ["cat", "dog", "act", "god", "cog", "tag"]
    keys = [k for k in (f"syn/w{i}" for i in range(400)) if split_of(k) == "train"][:20]
    keys += [k for k in (f"syn/w{i}" for i in range(400)) if split_of(k) == "val"][:4]
    feats, labels, writers = [], [], []
    for n, key in enumerate(keys):
        for j, w in enumerate(words):
            feats.append(ink_to_features(synthesize(w, seed=100 * n + j), spacing))
            labels.append(w)
            writers.append(key)
    return Corpus(feats, labels, writers)


def test_training_on_synthetic_ink_learns_and_resumes_exactly(tmp_path):
    corpus = _synthetic_corpus()
    config = HandwritingConfig(hidden_size=16, num_layers=1, steps=60, lr=1e-2, warmup=5, steps_per_batch=400,
                               eval_every=30, checkpoint_every=30)
    quiet = dict(quiet=True, log=lambda s: None, corpus=corpus)
    final = train_handwriting(config, tmp_path / "a", **quiet)
    history = load_checkpoint(tmp_path / "a")[1]["history"]
    assert history[-1]["loss"] < 0.5 * history[0]["loss"]
    # a run resumed from its step-30 checkpoint ends with the same weights as the uninterrupted one
    tensors_a = load_checkpoint(tmp_path / "a")[0]
    (tmp_path / "b").mkdir()
    for p in (tmp_path / "a").iterdir():
        if p.name.startswith("ckpt-00000030"):
            shutil.copy(p, tmp_path / "b" / p.name)
    train_handwriting(config, tmp_path / "b", **quiet)
    tensors_b = load_checkpoint(tmp_path / "b")[0]
    for k in tensors_a:
        if k.startswith("model/"):
            assert torch.equal(tensors_a[k], tensors_b[k]), k
    assert final["step"] == 60
