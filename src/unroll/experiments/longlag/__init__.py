"""The long-time-lag benchmark: the papers' problems x lengths x methods x seeds, with the papers' numbers beside ours.

``run_longlag(out, grid)`` runs the grid (resuming from OUT/store.jsonl) and writes OUT/table.md,
OUT/matrix.md, OUT/results.json, OUT/matrix.png and (for several lengths) OUT/success.png. Pieces:
``methods`` (the methods), ``tasks`` (building a task at a length), ``store`` (the durable JSON-lines
store), ``runner`` (parallel cells), ``table`` (the outputs), ``profiles`` (the full and quick grids),
``section`` (the tour's section).
"""
from dataclasses import asdict
from pathlib import Path

from ...data.longlag import PUBLISHED
from .methods import METHODS, get_method
from .profiles import BUDGET, BUDGETS, LENGTHS, QUICK, SEEDS, default_grid
from .runner import Grid, run_grid
from .section import run
from .table import summarise, write_outputs
from .tasks import build_task

__all__ = ["BUDGET", "BUDGETS", "Grid", "LENGTHS", "METHODS", "QUICK", "SEEDS", "build_task", "default_grid",
           "get_method", "run", "run_grid", "run_longlag", "summarise", "write_outputs"]


def run_longlag(out, grid: Grid, *, workers: int | None = None, quiet: bool = False) -> str:
    """Run ``grid`` into OUT/store.jsonl (skipping finished cells) and write the outputs; return the table."""
    out = Path(out)
    records = run_grid(grid, out / "store.jsonl", workers=workers, quiet=quiet)
    return write_outputs(out, records, PUBLISHED, grid=asdict(grid))
