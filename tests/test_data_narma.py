"""NARMA-10: the recursion, the input range, reproducibility."""
import pytest
import torch

from unroll.data.narma import narma10


def test_targets_follow_the_narma10_recursion():
    u, y = narma10(300, 2, torch.Generator().manual_seed(0))
    assert u.shape == y.shape == (300, 2, 1) and u.dtype == torch.float64
    assert 0 <= float(u.min()) and float(u.max()) <= 0.5
    u, y = u[..., 0], y[..., 0]
    for t in range(9, 299):
        expected = 0.3 * y[t] + 0.05 * y[t] * y[t - 9:t + 1].sum(0) + 1.5 * u[t - 9] * u[t] + 0.1
        torch.testing.assert_close(y[t + 1], expected)
    assert 0.2 < float(y[50:].mean()) < 0.6


def test_seeded_and_checked():
    a = narma10(50, 1, torch.Generator().manual_seed(3))
    b = narma10(50, 1, torch.Generator().manual_seed(3))
    assert torch.equal(a[1], b[1])
    with pytest.raises(ValueError, match="steps"):
        narma10(0)
