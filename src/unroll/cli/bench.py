"""unroll bench: benchmarks that reproduce published tables; ``bench longlag`` for the long-time-lag problems."""
import argparse

from .options import add_global_options, positive_int


def add(commands) -> None:
    from ..experiments.longlag.profiles import BUDGET, BUDGETS, LENGTHS, QUICK, SEEDS

    p = commands.add_parser("bench", help="reproduce the papers' benchmark tables",
                            description="Benchmarks that put the papers' numbers beside ours.")
    group = p.add_subparsers(title="benchmarks", dest="benchmark", metavar="BENCHMARK", required=True)
    q = group.add_parser(
        "longlag", help="long-time-lag problems: tasks x lengths x methods x seeds",
        description="Train every cell of the grid tasks x lengths x methods x seeds in worker processes, "
                    "each until the task's success criterion holds on held-out sequences or the update "
                    "budget is spent. Finished cells go to OUT/store.jsonl and are skipped when rerun; "
                    "the table (success rate, median updates and sequences to success, wall time, the "
                    "papers' figures) is printed and saved as OUT/table.md, with OUT/results.json, "
                    "OUT/matrix.md and OUT/matrix.png (task x method for each T) and, for several T, "
                    "OUT/success.png (success against T).")
    q.add_argument("--tasks", type=_names, metavar="A,B", help="task variants (default: every long-lag task)")
    q.add_argument("--lengths", type=_lengths, metavar="T1,T2",
                   help=f"sequence lengths T (default: {','.join(map(str, LENGTHS))})")
    q.add_argument("--methods", type=_names, metavar="M1,M2", help="methods (default: all built ones)")
    q.add_argument("--seeds", type=positive_int, metavar="N", help=f"seeds per cell (default: {SEEDS})")
    q.add_argument("--budget", type=positive_int, metavar="N",
                   help=f"most updates per cell, for every method (default: {BUDGET:,}, "
                        + "".join(f"{m} {n:,}, " for m, n in BUDGETS.items()) + f"--quick: {QUICK['budget']})")
    q.add_argument("--budget-for", type=method_budget, action="append", metavar="METHOD=N",
                   help="most updates per cell for one method (repeatable), e.g. tanh-hf=100")
    q.add_argument("--eval-every", type=positive_int, metavar="N",
                   help="updates between success checks (default: 100, and at most a tenth of a cell's budget)")
    q.add_argument("--eval-size", type=positive_int, metavar="N", help="held-out sequences per check")
    q.add_argument("--keep-training", action="store_true", default=None,
                   help="spend the whole budget even once solved, to compare the final error with papers that "
                        "report it after a fixed number of updates (Sutskever et al. 2013, Table 5)")
    q.add_argument("--workers", type=positive_int, metavar="N", help="worker processes (default: CPUs)")
    q.add_argument("--out", metavar="DIR", default="out/longlag", help="output directory (default: %(default)s)")
    q.add_argument("--quick", action="store_true",
                   help=f"small profile: T {','.join(map(str, QUICK['lengths']))}, {QUICK['budget']} updates, "
                        f"{QUICK['seeds']} seed, methods {','.join(QUICK['methods'])}")
    q.set_defaults(run=_run_longlag)
    add_global_options(q)   # main adds them to 'bench' only; they may also follow 'longlag'


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated names, got {text!r}")
    return names


def method_budget(text: str) -> tuple[str, int]:
    """argparse type for METHOD=N: (method, N) with N a positive int; the method is checked by the grid."""
    method, sep, budget = text.partition("=")
    if not sep or not method.strip():
        raise argparse.ArgumentTypeError(f"expected METHOD=N, got {text!r}")
    return method.strip(), positive_int(budget.strip())


def _lengths(text: str) -> list[int]:
    return [positive_int(t.strip()) for t in text.split(",")]


def _run_longlag(args) -> int:
    from ..experiments.longlag import default_grid, run_longlag

    if args.device != "cpu":
        raise ValueError(f"device: the long-lag benchmark runs on the CPU, got {args.device!r}")
    grid = default_grid(args.quick, tasks=args.tasks, lengths=args.lengths, methods=args.methods,
                        seeds=args.seeds, budget=args.budget, budgets=dict(args.budget_for or ()),
                        eval_every=args.eval_every,
                        eval_size=args.eval_size, first_seed=args.seed, keep_training=args.keep_training)
    grid.check()
    table = run_longlag(args.out, grid, workers=args.workers, quiet=args.quiet)
    if not args.quiet:
        print(table, end="", flush=True)
    print(f"table: {args.out}/table.md; store: {args.out}/store.jsonl", flush=True)
    return 0
