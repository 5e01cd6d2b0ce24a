"""What the full long-lag grid costs on this machine: each method's time per update and per evaluation at
each length, measured on one task, and the grid's worst case (every cell unsolved, so it spends its whole
budget) projected from them.

    python benchmarks/longlag_cost.py --task adding-2011 --json out/longlag-cost.json
    python benchmarks/longlag_cost.py --measured out/longlag-cost.json --budget-for tanh-hf=10000  # re-project

Each (method, T) trains a fresh cell of ``unroll bench longlag`` (its own model, batch and optimiser) for
``--updates`` updates, three times (the median is kept; Hessian-free once), and times the evaluation the
runner makes every ``--eval-every`` updates (a forward pass over ``--eval-size`` held-out sequences).
One torch thread, one process. The projection takes every task to cost what ``--task`` costs.
"""
import argparse
import itertools
import json
import statistics
import time

import torch

from unroll.atomic import atomic_write
from unroll.cli.bench import method_budget
from unroll.data.longlag import LONGLAG_TASKS
from unroll.experiments.longlag import BUDGET, BUDGETS, LENGTHS, METHODS, SEEDS, get_method
from unroll.experiments.longlag.runner import prepare_cell
from unroll.train import fit

SLOW_METHODS = {"tanh-hf": 1}            # updates timed per run where one update takes seconds
BATCH_OF_ONE_UPDATES = 200               # online methods (batch 1): more updates for a stable median


def time_updates(cell: dict) -> float:
    """Seconds per update of ``cell``, from the wall time ``fit`` records before its last evaluation."""
    model, train_task, eval_task, config = prepare_cell(cell)
    result = fit(model, train_task, config, quiet=True, eval_task=eval_task)
    return result.history[-1]["wall_s"] / result.steps


def time_evaluation(cell: dict, repeats: int = 3) -> float:
    """Seconds for one evaluation: the forward pass over the cell's held-out sequences (median of repeats)."""
    model, _, eval_task, config = prepare_cell(cell)
    x, _ = eval_task.batch(config.eval_size, torch.Generator().manual_seed(0))
    seconds = []
    with torch.no_grad():
        for _ in range(repeats):
            started = time.perf_counter()
            model(x)
            seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def measure(method: str, T: int, args) -> dict:
    """One row: median seconds per update and per evaluation."""
    batch = METHODS[method].fit.get("batch_size")
    updates = SLOW_METHODS.get(method, BATCH_OF_ONE_UPDATES if batch == 1 else args.updates)
    runs = 1 if method in SLOW_METHODS else args.repeats
    cell = {"task": args.task, "length": T, "method": method, "seed": 0, "budget": updates, "eval_every": updates,
            "eval_size": args.eval_size, "keep_training": True}
    update_s = statistics.median(time_updates(cell) for _ in range(runs))
    return {"method": method, "length": T, "updates_timed": updates, "runs": runs, "update_s": update_s,
            "eval_s": time_evaluation(cell)}


def worst_cell_s(row: dict, budget: int, eval_every: int) -> float:
    """Seconds of a cell that spends its whole budget: the updates and an evaluation every ``eval_every``."""
    return budget * row["update_s"] + (budget // eval_every) * row["eval_s"]


def project(rows: list[dict], budgets: dict, args) -> dict:
    """The grid's worst case from one task's rows: each method's core-hours over the lengths for one task and
    seed, times every task and seed; printed, and returned for the JSON."""
    hours = {}
    for row in rows:
        hours[row["method"]] = hours.get(row["method"], 0.0) + row["worst_cell_s"] / 3600
    for method, h in hours.items():
        print(f"{method:<26} every length, one task, one seed: {h:8.2f} core-hours")
    tasks, lengths = len(LONGLAG_TASKS), len({r["length"] for r in rows})
    heaviest = max(hours, key=hours.get)
    per_task_seed = sum(hours.values())
    total, without = (h * tasks * args.seeds for h in (per_task_seed, per_task_seed - hours[heaviest]))
    print(f"\none task, one seed, every method and length: {per_task_seed:.1f} core-hours")
    print(f"the grid ({tasks} tasks x {lengths} lengths x {len(hours)} methods x {args.seeds} seeds): "
          f"{total:,.0f} core-hours, {total / 24:,.1f} core-days; without {heaviest} (the heaviest): "
          f"{without:,.0f} core-hours, {without / 24:,.1f} core-days")
    return {"task": args.task, "tasks": tasks, "seeds": args.seeds, "budget": args.budget,
            "budgets": budgets, "eval_every": args.eval_every, "eval_size": args.eval_size,
            "core_hours_per_method": hours, "grid_core_hours": total, "heaviest_method": heaviest,
            "grid_core_hours_without_heaviest": without}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="adding-2011", help="the task timed (default: %(default)s)")
    parser.add_argument("--lengths", default=",".join(map(str, LENGTHS)))
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--updates", type=int, default=20, help="updates timed per run (minibatch methods)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--budget", type=int, default=BUDGET, help="the grid's updates per cell")
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--eval-size", type=int, default=1000)
    parser.add_argument("--seeds", type=int, default=SEEDS, help="the grid's seeds per cell")
    parser.add_argument("--budget-for", type=method_budget, action="append", metavar="METHOD=N",
                        help="one method's own budget (default: the grid's, "
                             + ", ".join(f"{m}={n}" for m, n in BUDGETS.items()) + ")")
    parser.add_argument("--measured", help="project from this earlier --json instead of timing again")
    parser.add_argument("--json", help="also write the rows and the projection here")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    budgets = BUDGETS if args.budget_for is None else dict(args.budget_for)
    try:
        for method in budgets:
            get_method(method)
    except ValueError as error:
        parser.error(f"--budget-for: {error}")
    if args.measured:
        with open(args.measured) as f:
            measured = json.load(f)
        args.task = measured["projection"]["task"]
        measured_rows = {(r["method"], r["length"]): r for r in measured["rows"]}
        lengths = list(dict.fromkeys(T for _, T in measured_rows))
        methods = list(dict.fromkeys(m for m, _ in measured_rows))
    else:
        lengths = [int(T) for T in args.lengths.split(",")]
        methods = args.methods.split(",")
    print(f"timed on {args.task}; worst cell = {args.budget:,} updates "
          + "".join(f"({m}: {n:,}) " for m, n in budgets.items())
          + f"+ an evaluation on {args.eval_size:,} sequences every {args.eval_every}", flush=True)
    print(f"{'method':<26}{'T':>6}{'ms/update':>12}{'eval s':>9}{'worst cell h':>14}", flush=True)
    rows = []
    for method, T in itertools.product(methods, lengths):
        row = measured_rows[method, T] if args.measured else measure(method, T, args)
        row = {**row, "worst_cell_s": worst_cell_s(row, budgets.get(method, args.budget), args.eval_every)}
        rows.append(row)
        print(f"{method:<26}{T:>6}{1000 * row['update_s']:>12.2f}{row['eval_s']:>9.3f}"
              f"{row['worst_cell_s'] / 3600:>14.2f}", flush=True)
    projection = project(rows, budgets, args)
    if args.json:
        atomic_write(args.json, json.dumps({"rows": rows, "projection": projection}, indent=1))
    return {"rows": rows, "projection": projection}


if __name__ == "__main__":
    main()
