"""Jaeger's switchable flip-flops: a network with as many stable states as input channels.

At each step, with probability ``rate``, one channel (chosen uniformly) gets a spike of 0.5; otherwise all
inputs are 0. Output channel i is 0.5 from a spike on input i until a spike on another channel, and -0.5
otherwise (all outputs -0.5 before the first spike). The net must hold which channel spiked last for as
long as no spike comes. After Jaeger (2002), "Tutorial on training recurrent neural networks", GMD Report 159.
"""
import torch

from ..checks import positive_int

SPIKE, ON, OFF = 0.5, 0.5, -0.5


def flipflop(steps: int, batch: int = 1, channels: int = 20, rate: float = 0.02,
             generator: torch.Generator | None = None,
             dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """(u (steps, batch, channels), y (steps, batch, channels)); y[t] already reflects a spike at step t."""
    positive_int("steps", steps)
    positive_int("batch", batch)
    positive_int("channels", channels)
    if not 0 < rate <= 1:
        raise ValueError(f"rate: expected a probability in (0, 1], got {rate!r}")
    spikes = torch.rand(steps, batch, generator=generator, dtype=torch.float64) < rate
    which = torch.randint(channels, (steps, batch), generator=generator)
    u = torch.zeros(steps, batch, channels, dtype=dtype)
    u[spikes, which[spikes]] = SPIKE
    # the last channel to spike, up to each step (-1 before the first)
    marks = torch.where(spikes, which, -1)
    steps_index = torch.arange(steps).unsqueeze(1).expand(steps, batch)
    last_step = torch.where(spikes, steps_index, -1).cummax(0).values
    current = marks.gather(0, last_step.clamp(min=0))
    current = torch.where(last_step >= 0, current, -1)
    y = torch.full((steps, batch, channels), OFF, dtype=dtype)
    on = current >= 0
    y[on, current[on]] = ON
    return u, y
