"""Mackey-Glass (Jaeger 2001 protocol): Euler 0.1, subsample 10, tanh(y - 1)."""
import numpy as np
import pytest
import torch

from unroll.data.mackey_glass import mackey_glass


def test_samples_follow_the_euler_recursion_subsampled_and_squashed():
    raw = mackey_glass(50, tau=17, discard=0, squash=False).numpy()
    y = np.full(171 + 500, 1.2)
    for n in range(170, 170 + 500 - 1):
        y[n + 1] = y[n] + 0.1 * (0.2 * y[n - 170] / (1 + y[n - 170] ** 10) - 0.1 * y[n])
    np.testing.assert_allclose(raw, y[171::10][:50], rtol=1e-12)
    torch.testing.assert_close(mackey_glass(50, discard=0), torch.tanh(torch.from_numpy(raw) - 1))


def test_tau_17_is_on_its_attractor_in_the_squashed_range_and_seeds_differ():
    s = mackey_glass(2000, seed=0)
    assert s.dtype == torch.float64 and s.shape == (2000,)
    assert -0.7 < float(s.min()) < -0.3 and 0.2 < float(s.max()) < 0.45      # y in about [0.4, 1.4]
    assert 0.15 < float(s.std()) < 0.3
    assert not torch.equal(s, mackey_glass(2000, seed=1)) and torch.equal(s, mackey_glass(2000, seed=0))


@pytest.mark.parametrize("kwargs, match", [(dict(samples=0), "samples"), (dict(tau=-1), "tau"),
                                           (dict(discard=-1), "discard"), (dict(subsample=0), "subsample")])
def test_bad_arguments_are_named(kwargs, match):
    args = {"samples": 10, **kwargs}
    with pytest.raises(ValueError, match=match):
        mackey_glass(**args)
