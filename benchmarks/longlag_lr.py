"""Learning-rate search for one long-lag method on one task and length: the cell of ``unroll bench longlag``
trained once per learning rate and seed (the other settings the method's), in parallel worker processes.

Sutskever et al. 2013 chose each cell's learning rate from {1e-3, ..., 1e-6}; this is how the rate of
``tanh-nesterov-esn`` was chosen (docs/longlag.md).

    python benchmarks/longlag_lr.py --method tanh-nesterov-esn --task adding-2011 --length 80 \\
        --lrs 1e-3,3e-4,1e-4,1e-5 --budget 50000 --eval-every 2500 --keep-training --json out/lr.json

Ctrl-C or SIGTERM stops the workers with the script.
"""
import argparse
import itertools
import json
import signal
import sys
from contextlib import closing

from unroll.atomic import atomic_write
from unroll.experiments.longlag.runner import run_cells


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", required=True)
    parser.add_argument("--task", required=True)
    parser.add_argument("--length", type=int, required=True)
    parser.add_argument("--lrs", required=True, help="comma-separated learning rates")
    parser.add_argument("--budget", type=int, default=10_000)
    parser.add_argument("--eval-every", type=int, default=500)
    parser.add_argument("--eval-size", type=int, default=1000)
    parser.add_argument("--seeds", default="0", help="comma-separated seeds")
    parser.add_argument("--keep-training", action="store_true", help="spend the whole budget even once solved")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", help="also write the records to this JSON file")
    args = parser.parse_args(argv)
    cells = [{"task": args.task, "length": args.length, "method": args.method, "seed": int(seed),
              "budget": args.budget, "eval_every": args.eval_every, "eval_size": args.eval_size,
              "keep_training": args.keep_training, "options": {"lr": float(lr)}}
             for lr, seed in itertools.product(args.lrs.split(","), args.seeds.split(","))]
    with closing(run_cells(cells, args.workers)) as finished:
        records = sorted(finished, key=lambda r: (r["options"]["lr"], r["seed"]))
    print(f"{args.method} on {args.task} at T = {args.length}, {args.budget} updates at most")
    print(f"{'lr':>8} {'seed':>5} {'updates':>8} {'solved at':>10} {'error rate':>11} {'eval loss':>10} {'wall s':>8}")
    for r in records:
        final = r["final"]
        print(f"{r['options']['lr']:>8.2g} {r['seed']:>5} {r['updates'] or 0:>8} "
              f"{str(r['updates_to_success'] or '-'):>10} {final.get('error_rate', float('nan')):>11.4f} "
              f"{final.get('eval_loss', float('nan')):>10.5f} {r['wall_s']:>8.0f}")
    if args.json:
        atomic_write(args.json, json.dumps(records, indent=1))
    return records


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("longlag_lr: interrupted (its workers stopped)")
