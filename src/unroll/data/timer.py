"""Jaeger's timer: a trigger spike starts a pulse whose length the level input sets."""
import math

import torch

from ..checks import int_at_least, positive_int
from .task import Task, register_task

PULSE = 0.5          # the target's value during a pulse
THRESHOLD = 0.25     # an output above this counts as "in a pulse" (half the pulse height)
LEVELS = 10          # u2 takes the levels 0.1, 0.2, ..., 1.0


class Timer(Task):
    """Two inputs: u1 is 1 at the step of a trigger and 0 elsewhere; u2 is the level in {0.1, ..., 1.0}
    drawn at each trigger and held until the next (0 before the first). The target is 0.5 for
    round(time_scale * u2) steps from each trigger (the trigger step included) and 0 elsewhere.

    A new trigger comes only after the previous pulse has ended, after a quiet gap drawn uniformly from
    [gap[0], gap[1]] * time_scale steps (at least 1); the first trigger comes after such a gap from the
    start. A pulse may run past the end of the sequence.

    x: (length, B, 2) = [u1, u2]; target: (length, B, 1), per step (so truncated BPTT applies).
    Solved when the NRMSE is below ``solved_at``: 0.25 is the NRMSE of pulses of the right height whose
    ends are off by about 2% of their length (see ``metrics``).
    Jaeger (2002), "Tutorial on training recurrent neural networks", GMD Report 159.
    """
    name = "timer"
    input_size, output_size = 2, 1
    target_batch_dim = 1
    citation = 'H. Jaeger, "Tutorial on training recurrent neural networks", GMD Report 159, 2002'

    def __init__(self, length: int | None = None, time_scale: int = 1000,
                 gap: tuple[float, float] = (0.1, 0.5), solved_at: float = 0.25):
        positive_int("time_scale", time_scale)
        if length is None:
            length = 4 * time_scale
        int_at_least("length", length, 2)
        if len(gap) != 2 or not 0 <= gap[0] <= gap[1]:
            raise ValueError(f"gap: expected (low, high) with 0 <= low <= high, got {gap!r}")
        self.length, self.time_scale, self.solved_at = length, time_scale, solved_at
        self.gap = (max(1, round(gap[0] * time_scale)), max(1, round(gap[1] * time_scale)))

    def durations(self, levels: torch.Tensor) -> torch.Tensor:
        """Pulse length in steps of each level index k in 1..10 (u2 = k/10): round(time_scale * k / 10), >= 1."""
        return torch.clamp(torch.round(levels * self.time_scale / LEVELS).long(), min=1)

    def batch(self, size: int, generator: torch.Generator):
        T = self.length
        most = T // (1 + self.gap[0]) + 1          # more triggers than can fit in T steps
        levels = torch.randint(1, LEVELS + 1, (most, size), generator=generator)
        gaps = torch.randint(self.gap[0], self.gap[1] + 1, (most, size), generator=generator)
        durations = self.durations(levels)
        # trigger k comes `gap k` steps after pulse k-1 ends (after the start, for k = 0)
        spacing = gaps + torch.cat((torch.zeros(1, size, dtype=torch.long), durations[:-1]))
        triggers = spacing.cumsum(0)                               # (most, B) step of each trigger
        u1 = torch.zeros(T + 1, size)                              # row T catches triggers past the end
        u1.scatter_(0, triggers.clamp(max=T), 1.0)
        u1 = u1[:T]
        seen = u1.cumsum(0).long()                                 # triggers so far, (T, B)
        last = (seen - 1).clamp(min=0)                             # index of the latest trigger
        u2 = torch.where(seen > 0, levels.gather(0, last) / LEVELS, 0.0)
        ends = (triggers + durations).gather(0, last)
        steps = torch.arange(T).unsqueeze(1)
        target = torch.where((seen > 0) & (steps < ends), PULSE, 0.0)
        return torch.stack((u1, u2), dim=2), target.unsqueeze(2)

    def loss(self, output, target):
        return torch.mean((output - target) ** 2)

    def metrics(self, output, target):
        """nrmse: RMSE / std of the target; for pulses of the right height whose ends are off by e
        steps, nrmse^2 = e / (pulse length x (1 - p)), p (about 0.65) the fraction of steps in a pulse.
        duration_error: mean |output pulse length - target pulse length| in steps, over the pulses that
        end inside the sequence, an output pulse's length being the number of steps from its trigger to
        the next (or to the end) where the output exceeds 0.25; relative_duration_error: the same
        divided by each target length."""
        rmse = torch.sqrt(torch.mean((output - target) ** 2))
        nrmse = (rmse / target.std()).item() if target.std() > 0 else math.nan
        made, wanted = pulse_lengths(output[..., 0], target[..., 0])
        error = (made - wanted).abs()
        return {"nrmse": nrmse,
                "duration_error": error.mean().item() if len(error) else math.nan,
                "relative_duration_error": (error / wanted).mean().item() if len(error) else math.nan}

    def solved(self, metrics):
        return metrics["nrmse"] < self.solved_at


def pulse_lengths(output: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(output lengths, target lengths), float (P,), of the P target pulses that end inside the sequence.

    output, target: (T, B). A target pulse starts where the target rises above 0.25 and lasts while it
    stays there; its window runs to the next pulse's start (or the end). An output pulse's length is the
    number of steps of that window where the output exceeds 0.25.
    """
    above = target > THRESHOLD
    rising = above & ~torch.cat((torch.zeros_like(above[:1]), above[:-1]))
    column, start = rising.t().nonzero().unbind(1)             # pulses in order, sequence by sequence
    same = torch.cat((column[1:] == column[:-1], torch.zeros(1, dtype=torch.bool)))
    stop = torch.where(same, start.roll(-1), target.shape[0])   # the next pulse's start, or the end
    made = _count_between(output > THRESHOLD, start, stop, column)
    wanted = _count_between(above, start, stop, column)
    ended = start + wanted < stop
    return made[ended], wanted[ended]


def _count_between(flags: torch.Tensor, start, stop, column) -> torch.Tensor:
    """For each i, how many of flags[start[i]:stop[i], column[i]] are true, as floats."""
    counts = torch.cat((torch.zeros_like(flags[:1], dtype=torch.float), flags.float().cumsum(0)))
    return counts[stop, column] - counts[start, column]


register_task("timer", Timer)
