"""Lexicon-constrained word decoding against brute force, case rules, fallback; and CTC training on
synthetic Hershey ink (loss falls; a resumed run matches an uninterrupted one)."""
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from unroll import ctc
from unroll.data.ink.hershey import synthesize
from unroll.handwriting.alphabet import Alphabet
from unroll.handwriting.evaluate import (CAPITALISED_BONUSES, LM_LENGTH_BONUSES, LM_WEIGHTS, PRIOR_WEIGHTS,
                                         WORD_CHOICE, tune_decoding, word_errors)
from unroll.handwriting.lexicon import (Lexicon, build_lexicon, casing, choose_word, decode_word, language_lexicon,
                                        scored_choice, word_candidates, wordfreq_frequencies)
from unroll.handwriting.recognize import Recognizer
from unroll.train.checkpoint import load_checkpoint
from unroll.train.handwriting import HandwritingConfig, train_handwriting

from helpers import synthetic_ink_corpus, torchrun

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
        for w, b in ((0.0, 0.0), (0.5, 1.5), (2.0, 0.0)):
            scores = {word: ctc.labelling_log_prob(lp, ABC.encode(word)) + w * lexicon.log_prior[word] + b * len(word)
                      for word in lexicon.log_prior}
            assert decode_word(lp, ABC, lexicon, beam=64, prior_weight=w, length_bonus=b, oov_prior=-1e9) == \
                max(scores, key=scores.get)


def test_prior_breaks_acoustic_ties_and_case_patterns():
    lexicon = Lexicon({"cat": 1, "cot": 100})
    lp = _spelling("cat", confusions={1: "o"})
    assert decode_word(lp, ABC, None) == "cat"                       # open vocabulary: acoustics only
    assert decode_word(lp, ABC, lexicon, prior_weight=2.0) == "cot"
    assert decode_word(_spelling("Cat"), ABC, lexicon, prior_weight=0.0) == "Cat"
    assert decode_word(_spelling("CAT", alphabet=Alphabet("abcdotgCDAT")), Alphabet("abcdotgCDAT"),
                       lexicon, prior_weight=0.0) == "CAT"
    # mixed case is not a way to write a lexicon word: the open reading cAT is outside the lexicon, and the
    # word joins the candidates in each casing the alphabet spells, scored exactly
    mixed = Alphabet("abcdotgCDAT")
    lp = _spelling("cAT", alphabet=mixed)
    reading, candidates = word_candidates(lp, mixed, lexicon)
    assert reading[0] == "cAT" and reading[2] is None
    scored = {word: (acoustic, prior) for word, acoustic, prior in candidates}
    assert {"cat", "Cat", "CAT"} <= scored.keys() and "cAT" not in scored
    assert scored["CAT"] == (pytest.approx(ctc.labelling_log_prob(lp, mixed.encode("CAT")), rel=1e-9),
                             lexicon.log_prior["cat"])


def test_the_open_reading_wins_when_no_lexicon_word_fits():
    lexicon = Lexicon({"cat": 1, "cot": 1})
    lp = _spelling("dog", confidence=0.95)
    assert decode_word(lp, ABC, lexicon) == "dog"
    reading, candidates = word_candidates(lp, ABC, lexicon)
    assert reading[2] is None                                         # "dog" is not a lexicon word
    assert choose_word(reading, candidates, 0.5, 0.0, -1e9).lower() in ("cat", "cot")   # never outside it
    assert choose_word(("x", -1.0, None), [], 0.5, 2.0, -25.0) == "x"


def test_the_length_bonus_offsets_the_priors_preference_for_short_words():
    candidates = [("nora", -8.0, math.log(1000 / 1001)), ("anorak", -6.0, math.log(1 / 1001))]
    reading = ("anorak", -6.0, math.log(1 / 1001))
    # scores: nora -8.0 + 4 b, anorak -12.9 + 6 b: the short frequent word wins until b passes 2.45
    assert choose_word(reading, candidates, 1.0, 2.0, -25.0) == "nora"
    assert choose_word(reading, candidates, 1.0, 3.0, -25.0) == "anorak"
    word, score = scored_choice(reading, candidates, 1.0, 3.0, -25.0)       # the score it won with
    assert word == "anorak" and score == pytest.approx(-6.0 + math.log(1 / 1001) + 3.0 * 6)
    assert scored_choice(("", -math.inf, None), [], 1.0, 3.0, -25.0) == ("", -math.inf)


def test_casing_names_the_three_ways_a_lexicon_word_is_written():
    assert [casing(w) for w in ("cat", "Cat", "C", "CAT", "cAT", "CaT", "3d")] == [
        "lowercase", "Capitalised", "Capitalised", "UPPERCASE", "mixed", "mixed", "lowercase"]


def test_the_casing_bonuses_move_a_close_call_between_casings_and_nothing_else():
    prior = math.log(0.5)
    candidates = [("cat", -4.0, prior), ("Cat", -4.4, prior), ("CAT", -5.5, prior), ("cot", -4.2, prior)]
    reading = ("cat", -4.0, prior)
    assert choose_word(reading, candidates, 1.0, 0.0, -25.0) == "cat"
    assert choose_word(reading, candidates, 1.0, 0.0, -25.0, capitalised_bonus=0.5) == "Cat"
    assert choose_word(reading, candidates, 1.0, 0.0, -25.0, uppercase_bonus=1.0) == "cat"      # 1.5 behind
    assert choose_word(reading, candidates, 1.0, 0.0, -25.0, uppercase_bonus=2.0) == "CAT"
    # an open reading outside the lexicon takes its casing's bonus too
    assert choose_word(("Ox", -2.0, None), [("ox", -1.8, 0.0)], 1.0, 0.0, 0.0) == "ox"
    assert choose_word(("Ox", -2.0, None), [("ox", -1.8, 0.0)], 1.0, 0.0, 0.0, capitalised_bonus=0.5) == "Ox"


def test_tune_decoding_finds_the_capital_bonus_the_readings_need():
    prior = math.log(0.5)
    # every word is labelled Capitalised, and the ink scores it 0.3 below its lowercase form
    read = [{"open": (w, -2.0, prior), "candidates": [(w, -2.0, prior), (w.capitalize(), -2.3, prior)]}
            for w in ("cat", "dog", "ant")]
    best = tune_decoding(read, ["Cat", "Dog", "Ant"])
    assert best["word_accuracy"] == 1.0 and best["capitalised_bonus"] == min(b for b in CAPITALISED_BONUSES if b > 0.3)
    assert best["uppercase_bonus"] == 0.0                                       # the first of the ties
    assert set(best) == {*WORD_CHOICE, "word_accuracy"}


def test_within_finds_the_nearest_lexicon_words_the_more_frequent_first():
    lexicon = Lexicon({"cat": 5, "cot": 9, "cart": 1, "dog": 3, "ca": 2, "x": 1})
    assert lexicon.within("CAT", 1, 10) == ["cat", "cot", "ca", "cart"]     # distance 0, then 1 by frequency
    assert lexicon.within("cat", 1, 2) == ["cat", "cot"]
    assert lexicon.within("cxx", 1, 5) == [] and "dog" in lexicon.within("cxx", 3, 10)


def test_a_word_the_beam_misses_joins_the_candidates_as_a_near_miss_scored_exactly():
    lexicon = Lexicon({"coat": 1, "cat": 1})
    lp = _spelling("Cdat")                     # the ink reads "Cdat": one letter off "Coat", one too many for "Cat"
    _, beam_only = word_candidates(lp, ABC, lexicon, beam=1, near_misses=0)
    assert {word for word, _, _ in beam_only} == {"Cat", "cat"}       # a beam of one follows "Ca" and loses "Coat"
    _, candidates = word_candidates(lp, ABC, lexicon, beam=1)
    near = {word: (acoustic, prior) for word, acoustic, prior in candidates}
    assert set(near) == {"Cat", "cat", "Coat", "coat"}                 # each in the casings ABC spells
    for word in ("Coat", "coat"):
        assert near[word] == (pytest.approx(ctc.labelling_log_prob(lp, ABC.encode(word)), rel=1e-9),
                              lexicon.log_prior["coat"])               # scored exactly
    assert near["Coat"][0] > near["coat"][0]


def test_one_letter_words_share_their_prior_equally():
    lexicon = Lexicon({"a": 60, "x": 20, "n": 20, "cat": 100})
    assert [math.exp(lexicon.log_prior[w]) for w in ("a", "x", "n", "cat")] == pytest.approx([1 / 6] * 3 + [1 / 2])
    assert lexicon.node("x")["$"] == lexicon.log_prior["x"] and lexicon.frequencies["a"] == 60
    lp = _spelling("d", confusions={0: "a"})                           # the ink leans to "d", the word "a" is common
    assert decode_word(lp, ABC, Lexicon({"a": 1000, "d": 1, "cat": 10}), prior_weight=1.0) == "d"


def test_word_errors_name_the_first_kind_that_fits_each_wrong_word():
    lexicon = Lexicon({"the": 9, "cat": 3, "coat": 1, "a": 5})
    read = [{"candidates": [("the", -1.0, -0.5)]},                         # right
            {"candidates": [("The", -1.0, -0.5)]},                         # The for the: case only
            {"candidates": [("a", -1.0, -1.0)]},                           # a for x: a single letter
            {"candidates": [("cat", -1.0, -1.0)]},                         # cat for cast: not in the lexicon
            {"candidates": [("cat", -1.0, -1.0)]},                         # coat never proposed
            {"candidates": [("cat", -1.0, -1.0), ("coat", -2.0, -2.0)]}]   # coat proposed, outscored
    chosen = ["the", "The", "a", "cat", "cat", "cat"]
    labels = ["the", "the", "x", "cast", "coat", "coat"]
    assert word_errors(read, chosen, labels, lexicon) == {"case only": 1, "single letter": 1,
                                                          "not in the lexicon": 1, "never proposed": 1,
                                                          "outscored": 1}


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


def test_a_language_brings_its_own_words_and_priors(tmp_path):
    german = wordfreq_frequencies("de", size=5000)
    assert {"und", "mittwoch", "das"} <= set(german) and all(Alphabet().covers(w) for w in german)
    assert german["und"] > german["mittwoch"] > 0
    with pytest.raises(ValueError, match="language: wordfreq has no word list for 'xx'"):
        wordfreq_frequencies("xx")
    with pytest.raises(ValueError, match="language: the alphabet spells only"):
        wordfreq_frequencies("ru", size=5000)
    build_lexicon(tmp_path / "de.tsv.gz", "de", size=5000)           # as the shipped English file was built
    written = Lexicon.read(tmp_path / "de.tsv.gz").frequencies
    assert written.keys() == german.keys() and all(written[w] == pytest.approx(german[w], rel=1e-5) for w in german)
    both, english_alone = language_lexicon("en,de"), language_lexicon("en")
    for word in ("the", "und", "mittwoch"):
        p = [math.exp(lex.log_prior.get(word, -math.inf)) for lex in (english_alone, language_lexicon("de"))]
        assert math.exp(both.log_prior[word]) == pytest.approx(sum(p) / 2)
    english, deutsch = Recognizer(), Recognizer(language="de")
    assert "mittwoch" in deutsch.lexicon and len(deutsch.lexicon) > 40000
    # ink that is "das" with its last letter nearly a "y": the English prior reads an English word ("days"),
    # the German one "das"
    lp = torch.from_numpy(_spelling("das", english.alphabet, confusions={2: "y"})).float()
    assert english.decode(lp) in english.lexicon and english.decode(lp) != "das" and deutsch.decode(lp) == "das"


def test_training_on_synthetic_ink_learns_and_resumes_exactly(tmp_path):
    corpus = synthetic_ink_corpus()
    config = HandwritingConfig(hidden_size=16, num_layers=2, dropout=0.2, steps=60, lr=1e-2, warmup=5,
                               steps_per_batch=400, eval_every=30, checkpoint_every=30,
                               augment=True)   # its draws and the dropout masks resume too
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


def test_two_processes_train_the_recogniser_as_one_does(tmp_path):
    script = Path(__file__).parent / "scripts" / "handwriting_run.py"
    subprocess.run([sys.executable, str(script), str(tmp_path / "one"), "6"], check=True, timeout=300)
    torchrun(script, tmp_path / "two", 6)
    one, two = load_checkpoint(tmp_path / "one")[0], load_checkpoint(tmp_path / "two")[0]
    for name in one:
        if name.startswith("model/"):
            torch.testing.assert_close(two[name], one[name], atol=1e-5, rtol=1e-5)
    assert sorted(p.name for p in (tmp_path / "two").glob("ckpt-*")) == sorted(
        p.name for p in (tmp_path / "one").glob("ckpt-*"))


def test_export_tunes_the_decoders_and_writes_a_model_the_recognizer_reads(tmp_path):
    corpus = synthetic_ink_corpus()
    config = HandwritingConfig(hidden_size=16, num_layers=1, steps=40, lr=1e-2, warmup=5, steps_per_batch=400,
                               eval_every=40, checkpoint_every=40)
    train_handwriting(config, tmp_path / "run", export=tmp_path / "model", quiet=True, log=lambda s: None,
                      corpus=corpus)
    recognizer = Recognizer(tmp_path / "model")
    decoding = recognizer.meta["decoding"]
    assert decoding["lm_weight"] in LM_WEIGHTS and decoding["lm_length_bonus"] in LM_LENGTH_BONUSES
    assert decoding["prior_weight"] in PRIOR_WEIGHTS and 0 <= decoding["word_accuracy"] <= 1
    assert recognizer.word_choice == {k: decoding[k] for k in WORD_CHOICE}
    assert recognizer.meta["training"]["config"]["steps"] == 40
    assert recognizer.meta["training"]["hardware"]["device"] == "cpu"
    assert recognizer.meta["training"]["hardware"]["processes"] == 1
    assert recognizer.lm_weight == decoding["lm_weight"]
    assert len(recognizer.read_words([synthesize("cat", seed=7)])) == 1
    # --init starts from the exported weights (lr 0: one step leaves them as they were)
    again = HandwritingConfig(hidden_size=16, num_layers=1, steps=1, lr=0.0, warmup=1, steps_per_batch=400,
                              eval_every=1, checkpoint_every=1, init=str(tmp_path / "model"))
    train_handwriting(again, tmp_path / "again", export=tmp_path / "model2", quiet=True, log=lambda s: None,
                      corpus=corpus)
    started = load_checkpoint(tmp_path / "again")[0]
    assert Recognizer(tmp_path / "model2").meta["training"]["started_from"]["config"]["steps"] == 40
    for name, value in recognizer.model.state_dict().items():
        assert torch.equal(started["model/" + name], value), name
    with pytest.raises(ValueError, match="init: the model in"):
        train_handwriting(HandwritingConfig(hidden_size=8, num_layers=1, steps=1, init=str(tmp_path / "model")),
                          tmp_path / "other", quiet=True, log=lambda s: None, corpus=corpus)
