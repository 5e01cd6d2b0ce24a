"""CTC decoders against brute-force enumeration of every frame path on tiny alphabets."""
import itertools
import math

import numpy as np
import pytest
import torch

from unroll import ctc


def _random_log_probs(T, K, seed):
    g = np.random.default_rng(seed)
    z = g.normal(size=(T, K)) * 2
    return z - np.logaddexp.reduce(z, axis=1, keepdims=True)


def _labelling_probs(lp, blank=0):
    """Every labelling's probability, summed over all K^T frame paths."""
    T, K = lp.shape
    probs = {}
    for path in itertools.product(range(K), repeat=T):
        label = tuple(ctc.collapse(path, blank))
        probs[label] = probs.get(label, 0.0) + math.exp(sum(lp[t, k] for t, k in enumerate(path)))
    return probs


def test_classic_case_best_path_misses_the_most_probable_labelling():
    lp = np.log(np.array([[0.6, 0.4], [0.6, 0.4]]))     # blank, a
    assert ctc.best_path(lp) == []                        # P("") = 0.36
    probs = _labelling_probs(lp)
    assert probs[(1,)] == pytest.approx(0.64)             # P("a") = 0.4*0.4 + 2*0.4*0.6
    assert ctc.prefix_beam_search(lp, beam=4) == [1]


@pytest.mark.parametrize("seed", range(6))
def test_prefix_beam_search_finds_the_brute_force_argmax(seed):
    lp = _random_log_probs(5, 3, seed)
    probs = _labelling_probs(lp)
    best = max(probs, key=probs.get)
    ranked = ctc.prefix_beam_search(lp, beam=50, top=3, prune=-math.inf)
    assert tuple(ranked[0][0]) == best
    for labels, score in ranked:
        assert math.exp(score) == pytest.approx(probs[tuple(labels)], rel=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_labelling_log_prob_matches_enumeration_and_torch(seed):
    lp = _random_log_probs(5, 3, seed)
    probs = _labelling_probs(lp)
    for labels in [(1,), (1, 2), (2, 2), (1, 2, 1), ()]:
        assert ctc.labelling_log_prob(lp, labels) == pytest.approx(math.log(probs.get(labels, 1e-300)), rel=1e-9)
    labels = [1, 1, 2]
    torch_nll = torch.nn.functional.ctc_loss(torch.tensor(lp)[:, None], torch.tensor([labels]), [5], [3],
                                             reduction="sum")
    assert ctc.labelling_log_prob(lp, labels) == pytest.approx(-float(torch_nll), rel=1e-9)
    assert ctc.labelling_log_prob(lp[:2], [1, 1]) == -math.inf   # "aa" needs a blank between: 3 frames


@pytest.mark.parametrize("seed", range(3))
def test_batched_labelling_log_probs_equal_the_forward_algorithm_one_by_one(seed):
    lp = _random_log_probs(9, 4, seed)
    labellings = [[1], [1, 2], [2, 2], [3, 1, 3, 2], [1, 1, 1, 1, 1], [1] * 6, [2, 3, 1] * 3 + [2]]
    fast = ctc.labellings_log_probs(lp, labellings)
    slow = [ctc.labelling_log_prob(lp, labels) for labels in labellings]
    assert fast[:-2] == pytest.approx(slow[:-2], rel=1e-9, abs=1e-12)
    assert fast[-2:] == slow[-2:] == [-math.inf, -math.inf]     # they need 11 and 10 frames, not 9
    assert ctc.labellings_log_probs(lp, []) == []


def test_best_path_is_the_most_probable_path():
    lp = _random_log_probs(4, 3, 9)
    path = max(itertools.product(range(3), repeat=4), key=lambda p: sum(lp[t, k] for t, k in enumerate(p)))
    assert ctc.best_path(lp) == ctc.collapse(path)


def test_forced_alignment_on_a_constructed_example():
    # 8 frames; 'a' (1) clearly at frames 1-2, 'b' (2) at 4, 'a' again at 6-7; blanks elsewhere
    wanted = [0, 1, 1, 0, 2, 0, 1, 1]
    lp = np.log(np.full((8, 3), 0.05))
    lp[np.arange(8), wanted] = math.log(0.9)
    assert ctc.forced_alignment(lp, [1, 2, 1]) == [(1, 2), (4, 4), (6, 7)]
    # the alignment of a labelling the frames do not favour still covers every label in order
    spans = ctc.forced_alignment(lp, [2, 2])
    assert spans[0][1] < spans[1][0]
    with pytest.raises(ValueError, match="labels"):
        ctc.forced_alignment(lp[:2], [1, 1])


def test_forced_alignment_path_is_the_best_among_enumerated_paths():
    lp = _random_log_probs(5, 3, 4)
    labels = [1, 2]
    spans = ctc.forced_alignment(lp, labels)
    best = max((p for p in itertools.product(range(3), repeat=5) if ctc.collapse(p) == labels),
               key=lambda p: sum(lp[t, k] for t, k in enumerate(p)))
    runs = [[t for t, k in enumerate(best) if k == label] for label in labels]
    assert spans == [(r[0], r[-1]) for r in runs]


def test_constrained_search_respects_allowed():
    lp = _random_log_probs(5, 3, 2)
    probs = _labelling_probs(lp)
    only_ones = {k: v for k, v in probs.items() if all(x == 1 for x in k)}
    result = ctc.prefix_beam_search(lp, beam=50, prune=-math.inf, allowed=lambda prefix, k: k == 1)
    assert tuple(result) == max(only_ones, key=only_ones.get)


def test_metrics():
    assert ctc.character_error_rate(["cat", "dg"], ["cat", "dog"]) == pytest.approx(1 / 6)
    assert ctc.word_accuracy(["cat", "dg"], ["cat", "dog"]) == 0.5
    with pytest.raises(ValueError, match="hypotheses"):
        ctc.word_accuracy(["a"], ["a", "b"])
    with pytest.raises(ValueError, match="log_probs"):
        ctc.best_path(np.zeros(3))


def test_a_score_can_overturn_the_most_probable_labelling():
    lp = np.log(np.array([[0.6, 0.4], [0.6, 0.4]]))     # P("") = 0.36, P("a") = 0.64
    assert ctc.prefix_beam_search(lp, beam=4, score=lambda p, complete=False: -1.0 * len(p)) == []


@pytest.mark.parametrize("seed", range(4))
def test_prefix_beam_search_with_a_score_finds_the_brute_force_argmax_of_the_sum(seed):
    lp = _random_log_probs(5, 3, seed)
    probs = _labelling_probs(lp)

    def score(prefix, complete=False):     # longer is better; ending in label 2 is worse
        return 1.5 * len(prefix) - (3.0 if complete and prefix[-1:] == (2,) else 0.0)

    best = max(probs, key=lambda labels: math.log(probs[labels]) + score(labels, True))
    ranked = ctc.prefix_beam_search(lp, beam=200, top=3, prune=-math.inf, score=score)
    assert tuple(ranked[0][0]) == best
    for labels, log_p in ranked:                           # the returned log P is the ink's alone
        assert math.exp(log_p) == pytest.approx(probs[tuple(labels)], rel=1e-9)
