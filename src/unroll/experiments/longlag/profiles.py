"""The benchmark's grids: the full profile (every task, length and built method) and the quick one."""
from dataclasses import replace

from ...data.longlag import LONGLAG_TASKS
from .methods import METHODS
from .runner import Grid

LENGTHS = (50, 100, 200, 500, 1000)
SEEDS, BUDGET = 5, 10_000
# an HF update (up to 40 CG steps of curvature products on 100 sequences, the gradient on 1000) took 1.2 s at
# T = 50 and 930 s at T = 1000 here, a first-order one 1-300 ms (benchmarks/longlag_cost.py, docs/longlag.md)
BUDGETS = {"tanh-hf": 100}
# the quick profile: an LSTM solves 2-bit temporal order at these lengths in ~150 updates, a tanh RNN does not
QUICK = {"tasks": ("temporal-order-2bit-1997",), "lengths": (12, 20), "methods": ("tanh-sgd-clip", "lstm-adam"),
         "seeds": 1, "budget": 300, "eval_every": 20, "eval_size": 200}


def default_grid(quick: bool = False, **given) -> Grid:
    """The full (or ``quick``) profile's grid with the ``given`` fields (those not None) replacing its own.
    A given ``budget`` applies to every method (the profile's own ``budgets`` are dropped); given
    ``budgets`` then set single methods."""
    if quick:
        grid = Grid(**QUICK)
    else:
        grid = Grid(tasks=LONGLAG_TASKS, lengths=LENGTHS, methods=tuple(METHODS), seeds=SEEDS,
                    budget=BUDGET, budgets=BUDGETS)
    given = {k: tuple(v) if isinstance(v, list) else v for k, v in given.items() if v is not None}
    budgets = {**({} if "budget" in given else grid.budgets), **given.pop("budgets", {})}
    return replace(grid, **given, budgets=budgets)
