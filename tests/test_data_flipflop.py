"""Switchable flip-flops: output i is high from a spike on input i until a spike elsewhere."""
import pytest
import torch

from unroll.data.flipflop import flipflop


def test_output_holds_the_last_channel_that_spiked():
    u, y = flipflop(500, 3, channels=5, rate=0.05, generator=torch.Generator().manual_seed(0))
    assert u.shape == y.shape == (500, 3, 5)
    for b in range(3):
        current = -1
        for t in range(500):
            spiked = (u[t, b] > 0).nonzero().flatten()
            assert len(spiked) <= 1
            if len(spiked):
                current = int(spiked[0])
            expected = torch.full((5,), -0.5, dtype=torch.float64)
            if current >= 0:
                expected[current] = 0.5
            assert torch.equal(y[t, b], expected)
    assert 0.02 < float((u > 0).any(2).double().mean()) < 0.08


def test_bad_rate_is_named():
    with pytest.raises(ValueError, match="rate"):
        flipflop(10, rate=0.0)
