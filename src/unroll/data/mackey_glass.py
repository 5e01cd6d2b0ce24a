"""The Mackey-Glass delay differential equation, sampled as in Jaeger (2001).

    dy/dt = 0.2 y(t - tau) / (1 + y(t - tau)^10) - 0.1 y(t)

integrated by Euler steps of ``dt`` (0.1), subsampled every ``subsample`` (10) steps (one sample per time
unit), squashed into (-1, 1) by tanh(y - 1). tau = 17 is mildly chaotic, tau = 30 more so.
H. Jaeger (2001), "The echo state approach to analysing and training recurrent neural networks",
GMD Report 148.
"""
import numpy as np
import torch

from ..checks import int_at_least, positive_int, positive_number


def mackey_glass(samples: int, tau: float = 17, *, dt: float = 0.1, subsample: int = 10, discard: int = 1000,
                 y0: float = 1.2, seed: int | None = None, squash: bool = True) -> torch.Tensor:
    """``samples`` values (samples,), float64, after dropping the first ``discard`` samples (the transient).

    The history before t = 0 is y0, plus uniform noise in [-0.1, 0.1] drawn from ``seed`` when given
    (different seeds give different stretches of the attractor)."""
    positive_int("samples", samples)
    positive_number("tau", tau)
    positive_number("dt", dt)
    positive_int("subsample", subsample)
    int_at_least("discard", discard, 0)
    delay = int(round(tau / dt))
    if delay < 1:
        raise ValueError(f"tau: expected at least one Euler step dt={dt}, got {tau!r}")
    steps = (samples + discard) * subsample
    history = np.full(delay + 1, float(y0))
    if seed is not None:
        history += np.random.default_rng(seed).uniform(-0.1, 0.1, delay + 1)
    y = np.empty(delay + 1 + steps)
    y[:delay + 1] = history
    for n in range(delay, delay + steps):          # a plain loop: each step needs the one before
        lagged = y[n - delay]
        y[n + 1] = y[n] + dt * (0.2 * lagged / (1.0 + lagged ** 10) - 0.1 * y[n])
    series = y[delay + 1::subsample][discard:discard + samples]
    return torch.from_numpy(np.tanh(series - 1.0) if squash else series.copy())
