"""The momentum schedules of Sutskever, Martens, Dahl & Hinton (2013): section 3 (deep nets) and 4 (RNNs)."""
import math


def sutskever_momentum(step: int, mu_max: float) -> float:
    """mu_t = min(1 - 2^(-1 - log2(floor(t / 250) + 1)), mu_max) for update t = 0, 1, 2, ...

    It starts at 0.5 and rises towards 1 (0.75 from t = 250, 0.833 from t = 500, ...), capped at mu_max.
    """
    if step < 0:
        raise ValueError(f"step: expected an int >= 0, got {step!r}")
    return min(1 - 2 ** (-1 - math.log2(step // 250 + 1)), mu_max)


def rnn_momentum(step: int, mu_max: float, warmup: int, ramp: bool = False) -> float:
    """Section 4 (RNNs): momentum 0.9 for the first ``warmup`` updates (the paper: 1000; for every mu_max of
    Table 5, 0 included), then mu_max, or with ``ramp`` the slowly rising schedule of ``sutskever_momentum``
    capped at mu_max (the schedule the paper's abstract credits for training its RNNs; it is 0.9 at update
    1000 and reaches 0.995 at 25,000)."""
    if step < 0:
        raise ValueError(f"step: expected an int >= 0, got {step!r}")
    if step < warmup:
        return 0.9
    return sutskever_momentum(step, mu_max) if ramp else mu_max


def scheduled_momentum(step: int, mu_max: float, schedule: bool, warmup: int, cooldown: int = 0,
                       steps: int = 0) -> float | None:
    """The momentum of update ``step`` of ``steps`` under a FitConfig's schedule: ``warmup`` updates at 0.9,
    then mu_max or, with ``schedule``, the rising schedule, and the last ``cooldown`` updates at 0.9 again
    (the paper's deep autoencoders: the last 1000, to settle into the minimum found); None when none is on
    (the optimiser keeps its own)."""
    if cooldown and step >= steps - cooldown:
        return min(0.9, mu_max)
    if warmup:
        return rnn_momentum(step, mu_max, warmup, ramp=schedule)
    if schedule:
        return sutskever_momentum(step, mu_max)
    return None
