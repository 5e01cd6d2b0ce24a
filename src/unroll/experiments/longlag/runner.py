"""Run the benchmark's grid (tasks x lengths x methods x seeds) in worker processes, one store line per cell.

Every cell trains a fresh model with ``fit``, evaluated on a held-out set every ``eval_every`` updates, for
at most ``budget`` updates (stopping once the task's ``solved()`` holds, unless ``keep_training``); it
records whether and after how many updates and sequences the criterion first held, and the last
evaluation. Cells already in the store are skipped.
"""
import itertools
import math
import os
import platform
import sys
import time
from contextlib import closing
from dataclasses import dataclass, field
from multiprocessing import get_context

import torch

from ...checks import positive_int
from ...gradients import NonFiniteGradientError
from ...data.task import Task
from ...train import FitConfig, fit
from ...train.fit import task_metrics
from ...train.progress import RunProgress
from .methods import get_method
from .store import Store, cell_key
from .tasks import build_task, check_task, length_mixture

@dataclass(frozen=True)
class Grid:
    """What to run: names, lengths, the number of seeds (seeds first_seed, first_seed + 1, ...), the update
    budget per cell (``budgets``: method -> its own, for methods whose updates are far dearer), and the
    evaluation (every ``eval_every`` updates, and at least ten times per cell, on ``eval_size`` held-out
    sequences).
    keep_training: spend the whole budget even after the criterion holds, for papers that report the error
    after a fixed number of updates (Sutskever et al. 2013, Table 5)."""
    tasks: tuple
    lengths: tuple
    methods: tuple
    seeds: int
    budget: int
    eval_every: int = 100
    eval_size: int = 1000
    first_seed: int = 0
    keep_training: bool = False
    budgets: dict = field(default_factory=dict)

    def check(self) -> None:
        """ValueErrors for unknown or missing names and bad sizes, before anything runs."""
        for task in self.tasks:
            check_task(task)
        for method in self.methods:
            get_method(method)
        for name in ("seeds", "budget", "eval_every", "eval_size"):
            positive_int(name, getattr(self, name))
        for method, budget in self.budgets.items():
            get_method(method)
            positive_int(f"budget for {method}", budget)
        for name in ("tasks", "lengths", "methods"):
            if not getattr(self, name):
                raise ValueError(f"{name}: expected at least one, got none")
        if any(isinstance(T, bool) or not isinstance(T, int) or T < 1 for T in self.lengths):
            raise ValueError(f"lengths: expected positive ints, got {list(self.lengths)}")
        for task, T in itertools.product(self.tasks, self.lengths):
            try:
                build_task(task, T)
            except ValueError as e:
                raise ValueError(f"lengths: task {task!r} cannot be built at T={T}: {e}") from None

    def cells(self) -> list[dict]:
        seeds = range(self.first_seed, self.first_seed + self.seeds)
        budgets = {m: self.budgets.get(m, self.budget) for m in self.methods}
        return [{"task": t, "length": T, "method": m, "seed": s, "budget": budgets[m],
                 "eval_every": min(self.eval_every, max(1, budgets[m] // 10)), "eval_size": self.eval_size,
                 "keep_training": self.keep_training}
                for t, T, m, s in itertools.product(self.tasks, self.lengths, self.methods, seeds)]


def prepare_cell(cell: dict) -> tuple[torch.nn.Module, Task, Task, FitConfig]:
    """A cell's fresh model, the task it trains on, the task it is evaluated on, and its FitConfig.
    ``cell["options"]`` (optional) overrides the method's fit options (e.g. {"lr": 1e-4})."""
    task, method = build_task(cell["task"], cell["length"]), get_method(cell["method"])
    config = method.config(cell["task"], steps=cell["budget"], seed=cell["seed"], eval_every=cell["eval_every"],
                           eval_size=cell["eval_size"], stop_when_solved=not cell.get("keep_training"),
                           overrides=cell.get("options"))
    model = method.build(task, cell["seed"])
    train_task = task
    if method.train_lengths:
        train_task = length_mixture(cell["task"], cell["length"], method.train_lengths)
    return model, train_task, task, config


def run_cell(cell: dict) -> dict:
    """Train one cell and return its store record (``prepare_cell``; cells with ``options``, e.g. a
    learning-rate search, do not belong in a store)."""
    torch.set_num_threads(1)
    started = time.perf_counter()
    model, train_task, task, config = prepare_cell(cell)
    divergence = None
    try:
        result = fit(model, train_task, config, quiet=True, eval_task=task)
    except NonFiniteGradientError as error:
        result, divergence = None, str(error)
    last = result.history[-1] if result and result.history else {}
    solved_at = next((r["step"] for r in result.history if task.solved(r)), None) if result else None
    return {**cell, "solved": solved_at is not None, "diverged": result is None, "divergence": divergence,
            "updates": result.steps if result else None,
            "updates_to_success": solved_at,
            "sequences_to_success": None if solved_at is None else solved_at * config.batch_size,
            "batch_size": config.batch_size, "hidden": model.readout.in_features,
            "final": {k: _finite(v) for k, v in _final(last).items()},
            "wall_s": round(time.perf_counter() - started, 3), "machine": _machine()}


def _machine() -> dict:
    """Where a cell ran: a resumed grid may mix machines, whose rounding differs (docs/longlag.md)."""
    return {"host": platform.node(), "cpus": os.cpu_count(), "python": platform.python_version(),
            "torch": torch.__version__}


def _final(last: dict) -> dict:
    """The last evaluation's losses and task metrics (empty when training diverged)."""
    if not last:
        return {}
    return {"train_loss": last["train_loss"], "eval_loss": last["eval_loss"], **task_metrics(last)}


def _finite(value):
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else None
    return value


def _start_worker() -> None:
    torch.set_num_threads(1)


def run_cells(cells: list[dict], workers: int):
    """Yield each cell's record (``run_cell``) as it finishes, in ``workers`` spawned processes (one torch
    thread each; 1 runs them here). Close the generator (``contextlib.closing``) to stop early: the
    workers are killed, the cells in flight lost."""
    if workers == 1 or len(cells) <= 1:
        threads = torch.get_num_threads()
        try:
            for cell in cells:
                yield run_cell(cell)
        finally:
            torch.set_num_threads(threads)
    elif cells:
        with get_context("spawn").Pool(min(workers, len(cells)), initializer=_start_worker) as pool:
            yield from pool.imap_unordered(run_cell, cells)


def run_grid(grid: Grid, store_path, *, workers: int | None = None, quiet: bool = False,
             progress=None) -> list[dict]:
    """Run every cell of ``grid`` not yet in the store at ``store_path`` and return the grid's records.

    workers: processes (spawned; one torch thread each); 1 runs the cells in this process.
    progress: called with the fraction of cells finished after each one.
    """
    grid.check()
    workers = workers or os.cpu_count() or 1
    store = Store(store_path)
    if store.dropped and not quiet:
        print(f"store: ignored a truncated last line ({store.dropped} bytes) in {store.path}",
              file=sys.stderr, flush=True)
    cells = grid.cells()
    done = store.finished()
    todo = [c for c in cells if cell_key(c) not in done]
    bar = RunProgress(len(cells), len(cells) - len(todo), quiet, label="cells")
    count = len(cells) - len(todo)

    def finish(record):
        nonlocal count
        store.append(record)
        count += 1
        bar.step(count)
        bar.report(_line(record, count, len(cells)))
        if progress:
            progress(count / len(cells))

    try:
        with closing(run_cells(todo, workers)) as records:
            for record in records:
                finish(record)
    finally:
        bar.close()
    by_key = {cell_key(r): r for r in store.records}
    return [by_key[cell_key(c)] for c in cells]


def _line(record: dict, count: int, total: int) -> str:
    if record["solved"]:
        outcome = f"solved after {record['updates_to_success']} updates"
    elif record["diverged"]:
        outcome = f"diverged ({record['divergence']})"
    else:
        outcome = f"not solved in {record['updates']} updates"
    return (f"[{count}/{total}] {record['task']} T={record['length']} {record['method']} seed {record['seed']}: "
            f"{outcome} ({record['wall_s']:.1f} s)")
