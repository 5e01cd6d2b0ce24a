"""The reservoir's time loop on a GPU: eager torch against CUDA-graph replay (unroll.reservoir.Reservoir).

Times the loop alone (the drive computed beforehand, no readout) over 10,000 steps of one sequence in
float64, for 100, 1,000 and 5,000 units with 10 incoming weights each, W stored sparse (CSR) and dense;
medians of 5 after one untimed run, with the ratio of the eager loop to the graphed one.

    python benchmarks/reservoir_gpu_loop.py [--device cuda] [--json out/reservoir-gpu-loop.json]
"""
import argparse
import json
import statistics
import time

import torch

from reservoir import INCOMING, WALL_TIME  # the wall-time benchmark beside this script
from unroll.reservoir import Reservoir

STEPS = WALL_TIME["steps"]


def seconds(loop, reservoir, u, reps: int = 5) -> float:
    """Median seconds of ``loop(drive, x)`` over fresh drives (one untimed run first)."""
    times = []
    for _ in range(reps + 1):
        drive = reservoir.drive(u)
        torch.cuda.synchronize()
        start = time.perf_counter()
        loop(drive, reservoir.initial_state(1))
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--json", help="also write the numbers to this JSON file")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        raise SystemExit("reservoir_gpu_loop: needs a CUDA device")
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name(args.device)}; {STEPS:,} steps, float64, B = 1")
    print(f"{'N':>6} {'W':>7} {'eager s':>9} {'graphed s':>10} {'x faster':>9}")
    rows = []
    for units in (100, 1000, 5000):
        for sparse in (True, False):
            reservoir = Reservoir(1, units, connectivity=INCOMING / units, sparse=sparse, dtype=torch.float64).to(args.device)
            u = torch.rand(STEPS, 1, 1, dtype=torch.float64, device=args.device)
            eager = seconds(lambda d, x: reservoir._run_torch(d, x, reservoir._loop_leak()), reservoir, u)
            graphed = seconds(reservoir._run_graphed, reservoir, u)
            rows.append({"units": units, "sparse": sparse, "eager_seconds": eager, "graphed_seconds": graphed})
            print(f"{units:>6} {'CSR' if sparse else 'dense':>7} {eager:>9.3f} {graphed:>10.3f} {eager / graphed:>9.2f}")
    if args.json:
        from unroll.atomic import atomic_write
        atomic_write(args.json, json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__":
    main()
