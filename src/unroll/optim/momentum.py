"""The momentum schedule of Sutskever, Martens, Dahl & Hinton (2013), section 3."""
import math


def sutskever_momentum(step: int, mu_max: float) -> float:
    """mu_t = min(1 - 2^(-1 - log2(floor(t / 250) + 1)), mu_max) for update t = 0, 1, 2, ...

    It starts at 0.5 and rises towards 1 (0.75 from t = 250, 0.833 from t = 500, ...), capped at mu_max.
    """
    if step < 0:
        raise ValueError(f"step: expected an int >= 0, got {step!r}")
    return min(1 - 2 ** (-1 - math.log2(step // 250 + 1)), mu_max)
