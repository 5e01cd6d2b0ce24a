"""The character language model: Witten-Bell by hand, normalisation, and its CTC prefix scores."""
import math

import pytest

from unroll.handwriting.charlm import CharNgram, PrefixScorer


def test_witten_bell_by_hand():
    lm = CharNgram({"ab": 1, "b": 1}, order=2, weighting=1.0)   # "^ab$", "^b$"
    # unigrams a 1, b 2, $ 2 (5 tokens, 3 types) over a uniform 1/3
    assert lm.prob("", "a") == pytest.approx((1 + 3 / 3) / (5 + 3))
    assert lm.prob("", "$") == pytest.approx((2 + 3 / 3) / (5 + 3))
    assert lm.prob("^", "a") == pytest.approx((1 + 2 * 0.25) / (2 + 2))
    assert lm.prob("a", "b") == pytest.approx((1 + 1 * 0.375) / (1 + 1))
    assert lm.prob("xa", "b") == lm.prob("a", "b")                # only the last order - 1 chars count
    assert lm.log_prob("AB") == pytest.approx(math.log(0.375) + math.log(0.6875) + math.log(2.375 / 3))
    assert lm.log_prob("ab", complete=False) == pytest.approx(math.log(0.375) + math.log(0.6875))


@pytest.mark.parametrize("context", ["", "^^^^", "^^^t", "he", "zzzz"])
def test_each_context_gives_a_distribution(context):
    lm = CharNgram({"the": 50.0, "then": 4.0, "hello": 2.0, "tent": 1.0}, order=5)
    assert sum(lm.prob(context, c) for c in lm.symbols) == pytest.approx(1.0, abs=1e-12)
    assert all(lm.prob(context, c) > 0 for c in lm.symbols)


def test_weighting_zero_counts_every_word_once():
    assert CharNgram({"ab": 100, "b": 1}, weighting=0).log_prob("ab") == \
        pytest.approx(CharNgram({"ab": 1, "b": 1}, weighting=0).log_prob("ab"))
    assert CharNgram({"ab": 100, "b": 1}, weighting=1).log_prob("ab") > \
        CharNgram({"ab": 1, "b": 1}, weighting=1).log_prob("ab")


def test_prefix_scores_are_weighted_log_probabilities_plus_a_length_bonus():
    lm = CharNgram({"cat": 3, "act": 1, "cot": 1}, order=3)
    scorer = PrefixScorer(lm, "acot", weight=0.7, length_bonus=1.5)   # labels 1..4 = a, c, o, t
    cat = (2, 1, 4)
    assert scorer(cat) == pytest.approx(0.7 * lm.log_prob("cat", complete=False) + 1.5 * 3)
    assert scorer(cat, complete=True) == pytest.approx(0.7 * lm.log_prob("cat") + 1.5 * 3)
    assert scorer(()) == 0.0
    assert scorer((2, 1, 4), True) > scorer((1, 2, 3), True)       # "cat" beats "aco"


def test_bad_order_is_named():
    with pytest.raises(ValueError, match="order"):
        CharNgram({"a": 1}, order=0)
