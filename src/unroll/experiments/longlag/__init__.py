"""The long-time-lag benchmark: the papers' problems x lengths x methods x seeds, with the papers' numbers beside ours.

``run_longlag(out, grid)`` runs the grid (resuming from OUT/store.jsonl) and writes OUT/table.md,
OUT/results.json and OUT/success.png. Pieces: ``methods`` (the methods), ``tasks`` (building a task at a
length), ``store`` (the durable JSON-lines store), ``runner`` (parallel cells),
``table`` (the outputs).
"""
from dataclasses import asdict, replace
from pathlib import Path

from ...data.longlag import LONGLAG_TASKS, PUBLISHED
from .methods import METHODS, MISSING, get_method
from .runner import Grid, run_grid
from .table import summarise, write_outputs
from .tasks import build_task

LENGTHS = (50, 100, 200, 500, 1000)
SEEDS, BUDGET = 5, 10_000
# the quick profile: an LSTM solves 2-bit temporal order at these lengths in ~150 updates, a tanh RNN does not
QUICK = {"tasks": ("temporal-order-2bit-1997",), "lengths": (12, 20), "methods": ("tanh-sgd-clip", "lstm-adam"),
         "seeds": 1, "budget": 300, "eval_every": 20, "eval_size": 200}

__all__ = ["BUDGET", "Grid", "LENGTHS", "METHODS", "MISSING", "QUICK", "SEEDS", "build_task", "default_grid",
           "get_method", "run_grid", "run_longlag", "summarise", "write_outputs"]


def default_grid(quick: bool = False, **given) -> Grid:
    """The full (or ``quick``) profile's grid with the ``given`` fields (those not None) replacing its own."""
    if quick:
        grid = Grid(**QUICK)
    else:
        grid = Grid(tasks=LONGLAG_TASKS, lengths=LENGTHS, methods=tuple(METHODS), seeds=SEEDS,
                    budget=BUDGET)
    return replace(grid, **{k: tuple(v) if isinstance(v, list) else v for k, v in given.items() if v is not None})


def run_longlag(out, grid: Grid, *, workers: int | None = None, quiet: bool = False) -> str:
    """Run ``grid`` into OUT/store.jsonl (skipping finished cells) and write the outputs; return the table."""
    out = Path(out)
    records = run_grid(grid, out / "store.jsonl", workers=workers, quiet=quiet)
    return write_outputs(out, records, PUBLISHED, grid=asdict(grid))
