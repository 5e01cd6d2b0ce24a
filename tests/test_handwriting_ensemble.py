"""Ensembles of recognisers: one member reads as its network alone; several score every proposed word by
their mean log P(word | ink); the folder keeps float16 weights and reads back; joining refuses what it cannot
join."""
import math

import pytest
import torch

from unroll import ctc
from unroll.cli import main
from unroll.data.ink.hershey import synthesize
from unroll.handwriting.alphabet import Alphabet
from unroll.handwriting.charlm import CharNgram, PrefixScorer
from unroll.handwriting.ensemble import ensemble_candidates
from unroll.handwriting.evaluate import WORD_CHOICE
from unroll.handwriting.lexicon import Lexicon, word_candidates
from unroll.handwriting.model import InkRecognizer
from unroll.handwriting.recognize import Recognizer
from unroll.handwriting.shipped import load_model, save_ensemble, save_model
from unroll.train.handwriting import HandwritingConfig, export_ensemble, train_handwriting

from helpers import synthetic_ink_corpus

ABC = Alphabet("abcdotgCD")
LEXICON = Lexicon({"cat": 50, "cot": 20, "dog": 30, "act": 5, "cog": 1})


def _reading(text, seed, frames_per_char=3):
    """(T, K) log-probabilities that mostly spell ``text``, with random doubt everywhere."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(frames_per_char * len(text), len(ABC), generator=g, dtype=torch.float64)
    for i, c in enumerate(text):
        logits[i * frames_per_char:(i + 1) * frames_per_char - 1, ABC.index[c]] += 3.0
        logits[(i + 1) * frames_per_char - 1, 0] += 3.0
    return torch.log_softmax(logits, -1)


def test_one_member_reads_as_its_network_alone():
    lp = _reading("cat", seed=1)
    scorer = lambda: PrefixScorer(CharNgram(LEXICON.frequencies, order=3), ABC.chars, 1.0, 1.0)
    for lexicon in (LEXICON, None):
        assert ensemble_candidates(lp[None], ABC, lexicon, 8, scorer) == word_candidates(lp, ABC, lexicon, 8, scorer())
    with pytest.raises(ValueError, match="log_probs: expected"):
        ensemble_candidates(lp, ABC, LEXICON)


def test_members_score_every_proposed_word_by_their_mean():
    members = torch.stack([_reading("cat", seed=2), _reading("cot", seed=3), _reading("dog", seed=4)[:9]])
    (open_word, open_score, open_prior), candidates = ensemble_candidates(members, ABC, LEXICON, beam=64)
    words = {w for w, _, _ in candidates}
    alone = [word_candidates(lp, ABC, LEXICON, 64) for lp in members]
    assert {w for _, found in alone for w, _, _ in found} == words       # every member's proposals, pooled
    exact = lambda w: sum(ctc.labelling_log_prob(lp, ABC.encode(w)) for lp in members) / len(members)
    for word, score, prior in candidates:
        assert score == pytest.approx(exact(word), rel=1e-9, abs=1e-9), word
        assert prior == LEXICON.written_prior(word)
    opens = {reading[0] for reading, _ in alone}
    assert open_word == max(opens, key=exact) and open_score == pytest.approx(exact(open_word), rel=1e-9)
    assert open_prior == LEXICON.written_prior(open_word)


def test_ensemble_folder_keeps_float16_weights_and_reads_back(tmp_path):
    torch.manual_seed(0)
    alphabet = Alphabet()
    members = [InkRecognizer(8, len(alphabet), hidden_size=6, num_layers=n) for n in (1, 2)]
    save_ensemble(members, [{"seconds": 1.0}, {"seconds": 2.0}], alphabet, 0.35, tmp_path / "ensemble",
                  {"decoding": {"prior_weight": 1.0}})
    loaded, loaded_alphabet, meta = load_model(tmp_path / "ensemble")
    assert loaded_alphabet.chars == alphabet.chars and meta["dtype"] == "float16"
    assert [m["training"]["seconds"] for m in meta["members"]] == [1.0, 2.0]
    for model, original in zip(loaded, members):
        assert model.config == original.config and not model.training
        for (name, value), expected in zip(model.state_dict().items(), original.state_dict().values()):
            assert value.dtype == torch.float32 and torch.equal(value, expected.half().float()), name
    recognizer = Recognizer(tmp_path / "ensemble", language_model=False)
    ink = synthesize("cat", seed=1)
    (lp,) = recognizer.log_probs([ink])
    assert lp.shape[0] == 2 and lp.shape[2] == len(alphabet)
    assert len(recognizer.read_words([ink])) == 1
    with pytest.raises(ValueError, match="init: .* holds an ensemble of 2 networks"):
        train_handwriting(HandwritingConfig(hidden_size=6, num_layers=1, steps=1, init=str(tmp_path / "ensemble")),
                          tmp_path / "run", quiet=True, log=lambda s: None, corpus=synthetic_ink_corpus())


def test_joining_tunes_the_decoders_for_the_ensemble_and_refuses_what_it_cannot_join(tmp_path):
    torch.manual_seed(0)
    alphabet, corpus = Alphabet(), synthetic_ink_corpus()
    folders = []
    for n, spacing in enumerate((0.35, 0.35, 0.5)):
        model = InkRecognizer(8, len(alphabet), hidden_size=6, num_layers=1)
        with torch.no_grad():
            model.output.bias[0] = 12.0         # blank: the searches try no letter, the tuning is quick
        folders.append(tmp_path / f"m{n}")
        save_model(model, alphabet, spacing, folders[-1], {"training": {"seconds": float(n)}})
    decoding = export_ensemble(folders[:2], tmp_path / "ensemble", corpus=corpus, log=lambda s: None)
    meta = load_model(tmp_path / "ensemble")[2]
    assert meta["decoding"] == decoding and 0 <= decoding["word_accuracy"] <= 1
    assert {"lm_weight", *WORD_CHOICE} <= set(decoding)
    with pytest.raises(ValueError, match="expected at least two model folders"):
        export_ensemble(folders[:1], tmp_path / "one", corpus=corpus)
    with pytest.raises(ValueError, match="another alphabet or spacing"):
        export_ensemble(folders, tmp_path / "mixed", corpus=corpus)
    with pytest.raises(ValueError, match="already an ensemble"):
        export_ensemble([tmp_path / "ensemble", folders[0]], tmp_path / "nested", corpus=corpus)
    assert main(["train", "handwriting-ensemble", *map(str, folders[:2]), "--data", str(tmp_path / "nowhere"),
                 "--export", str(tmp_path / "cli")]) == 2
    assert not (tmp_path / "cli").exists() and math.isfinite(decoding["lm_cer"])
