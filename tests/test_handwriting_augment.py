"""Training-time distortion: the features it returns are those of the distorted ink itself."""
import numpy as np
import torch

from unroll.data.ink import Ink
from unroll.data.ink.hershey import synthesize
from unroll.data.ink.preprocess import features, normalize, resample
from unroll.handwriting.augment import distort, distortions


def _words():
    return [resample(normalize(synthesize(word, seed=i)), 0.35) for i, word in enumerate(("minimum", "tiled", "quay"))]


def _padded(inks):
    feats = [torch.from_numpy(features(ink)).double() for ink in inks]
    x = torch.zeros(max(len(f) for f in feats), len(feats), 8, dtype=torch.float64)
    for b, f in enumerate(feats):
        x[:len(f), b] = f
    return x, [len(f) for f in feats]


def test_distort_gives_the_features_of_the_sheared_and_scaled_points():
    inks = _words()
    x, lengths = _padded(inks)
    moves = distortions(len(inks), torch.Generator().manual_seed(3))
    got = distort(x, moves)
    sx, sy, k = moves.T
    assert (sx != 1).all() and (k != 0).all()
    for b, ink in enumerate(inks):
        a, c, d = float(sx[b]), float(k[b]), float(sy[b])
        mapped = Ink([np.stack([a * s[:, 0] + c * s[:, 1], d * s[:, 1]], 1) for s in ink.strokes])
        expected = torch.from_numpy(features(mapped)).double()
        torch.testing.assert_close(got[:lengths[b], b], expected, rtol=1e-5, atol=1e-5)


def test_no_distortion_leaves_the_features_unchanged_and_draws_are_seeded_and_in_range():
    x, lengths = _padded(_words())
    same = distort(x, distortions(len(lengths), width=0, height=0, shear=0))
    for b, n in enumerate(lengths):
        torch.testing.assert_close(same[:n, b], x[:n, b], rtol=1e-6, atol=1e-6)
    a = distortions(1000, torch.Generator().manual_seed(5))
    assert torch.equal(a, distortions(1000, torch.Generator().manual_seed(5)))
    assert not torch.equal(a, distortions(1000, torch.Generator().manual_seed(6)))
    low, high = a.min(0).values, a.max(0).values
    assert (low >= torch.tensor([0.85, 0.9, -0.25])).all() and (high <= torch.tensor([1.15, 1.1, 0.25])).all()
    assert (low < torch.tensor([0.86, 0.91, -0.24])).all() and (high > torch.tensor([1.14, 1.09, 0.24])).all()
