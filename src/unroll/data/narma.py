"""NARMA-10: a nonlinear autoregressive moving-average system with a ten-step memory (Atiya & Parlos 2000).

    y[t+1] = 0.3 y[t] + 0.05 y[t] (y[t] + ... + y[t-9]) + 1.5 u[t-9] u[t] + 0.1,   u[t] ~ U[0, 0.5]

The task: from u (the input) predict y; y[t] depends on the inputs up to t - 1.
"""
import torch

from ..checks import positive_int

ORDER = 10


def narma10(steps: int, batch: int = 1, generator: torch.Generator | None = None,
            dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """(u (steps, batch, 1), y (steps, batch, 1)); the first ORDER values of y are 0 (no past yet)."""
    positive_int("steps", steps)
    positive_int("batch", batch)
    u = torch.rand(steps, batch, generator=generator, dtype=torch.float64) * 0.5
    y = torch.zeros(steps, batch, dtype=torch.float64)
    for t in range(ORDER - 1, steps - 1):
        window = y[t - ORDER + 1:t + 1].sum(0)
        y[t + 1] = 0.3 * y[t] + 0.05 * y[t] * window + 1.5 * u[t - ORDER + 1] * u[t] + 0.1
    return u.unsqueeze(2).to(dtype), y.unsqueeze(2).to(dtype)
