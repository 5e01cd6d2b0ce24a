"""Preprocessing (slant, size, baseline, resampling, features) and Hershey synthesis."""
import numpy as np
import pytest

from unroll.data.ink import Ink
from unroll.data.ink.hershey import glyph_strokes, synthesize
from unroll.data.ink.preprocess import FEATURE_NAMES, features, ink_to_features, normalize, resample, _slant


def _word(seed=0):
    return synthesize("minimum", seed=seed)


def test_features_are_invariant_to_translation_and_scale():
    ink = _word()
    moved = Ink([s * 7.5 + np.array([100.0, -40.0]) for s in ink.strokes])
    np.testing.assert_allclose(ink_to_features(ink), ink_to_features(moved), atol=1e-5)


def test_slant_is_mostly_removed():
    """One pass of the estimator (as the shipped model was trained) removes most of the slant."""
    upright = synthesize("lithium", seed=3, variation=0.0)
    before = []
    for shear in (-0.2, 0.0, 0.2, 0.4):
        slanted = Ink([s + np.stack([shear * s[:, 1], 0 * s[:, 1]], 1) for s in upright.strokes])
        before.append(_slant(slanted.strokes))
        assert abs(_slant(normalize(slanted).strokes)) <= 0.4 * abs(before[-1])
    assert np.all(np.diff(before) > 0)      # the estimate follows the shear


def test_normalize_centres_and_scales_the_core():
    ink = normalize(Ink([s * 3 + 50 for s in _word(1).strokes]))
    y = ink.points()[:, 1]
    assert np.median(y) == pytest.approx(0, abs=1e-9)
    assert np.percentile(y, 90) - np.percentile(y, 10) == pytest.approx(1.0, rel=0.05)


def test_resample_spacing_and_features_layout():
    ink = resample(normalize(_word(2)), 0.2)
    steps = np.concatenate([np.hypot(*np.diff(s, axis=0).T) for s in ink.strokes])
    assert steps.max() <= 0.2 + 1e-9 and steps.mean() > 0.15     # chords of equal arcs of at most 0.2
    f = features(ink)
    assert f.shape == (ink.num_points, len(FEATURE_NAMES)) and f.dtype == np.float32
    assert f[:, 2].sum() == len(ink.strokes) - 1          # pen_up marks each stroke after the first
    np.testing.assert_allclose(np.hypot(f[1:, 3], f[1:, 4])[np.hypot(f[1:, 0], f[1:, 1]) > 0], 1, atol=1e-5)
    np.testing.assert_allclose(np.cumsum(f[:, 1]) + f[0, 7], f[:, 7], atol=1e-4)   # dy integrates to y


def test_hershey_synthesis_is_seeded_and_delays_dots():
    a, b, c = synthesize("tiki", seed=5), synthesize("tiki", seed=5), synthesize("tiki", seed=6)
    assert all(np.array_equal(s, t) for s, t in zip(a.strokes, b.strokes))
    assert not np.allclose(a.points().mean(0), c.points().mean(0))
    plain = synthesize("tiki", seed=0, font="scripts", variation=0.0)
    sizes = [np.ptp(s, axis=0).max() for s in plain.strokes]
    # the two i-dots (tiny strokes) come last, after the body of the word
    assert max(sizes[-2:]) < 3.5 and min(sizes[:-2]) > 3.5
    assert plain.label == "tiki"
    with pytest.raises(ValueError, match="font"):
        glyph_strokes("a", font="nope")
