"""Echo state networks: the classic benchmarks, and wall time against ReservoirPy 0.4.2 in the same run.

Tasks (unroll.reservoir; ReservoirPy given the very same W, W_in and bias where it runs the same model):
Mackey-Glass tau = 17 closed-loop NRMSE84 over 20 runs (the tour's recipe, Jaeger 2001: 2.8e-4);
NARMA-10 test NRMSE; Jaeger's 20 switchable flip-flops, closed-loop test MSE (Jaeger 2002: 6e-6 to
5e-5); the timer of the tour's section 1. Wall time: run a reservoir of N = 100, 1,000, 5,000 units
over 10,000 steps of NARMA-10 and fit a ridge readout, medians of round-robin repeats, ratio to
ReservoirPy, with each variant's training NRMSE (equal error means equal numbers). Every BLAS runs on
one thread.

    python benchmarks/reservoir.py [--quick] [--reps 3] [--json docs/reservoir.json]
    python benchmarks/reservoir.py --wall-time-only --device cuda      # adds unroll on the GPU to the table
"""
import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse  # noqa: E402
import torch  # noqa: E402

from unroll.data.flipflop import flipflop  # noqa: E402
from unroll.data.narma import narma10  # noqa: E402
from unroll.data.timer import Timer  # noqa: E402
from unroll.experiments.echo_state import HORIZON, mackey_glass_run, nrmse_at  # noqa: E402
from unroll.reservoir import ESN, Reservoir, Ridge, nrmse  # noqa: E402

try:
    import reservoirpy
    from reservoirpy.nodes import Reservoir as RpyReservoir
    from reservoirpy.nodes import Ridge as RpyRidge
except ImportError:  # the comparison rows are left out
    reservoirpy = None

F64 = torch.float64
INCOMING = 10          # recurrent weights per unit in the wall-time reservoirs (connectivity 10 / N)
WALL_TIME = {"steps": 10_000, "washout": 100, "ridge": 1e-6,      # the wall-time fit, on NARMA-10
             "options": {"spectral_radius": 0.9, "input_scaling": 0.5, "bias_scaling": 0.1}}
NARMA = {"units": 400, "spectral_radius": 0.9, "input_scaling": 0.5, "bias_scaling": 0.1, "ridge": 1e-8,
         "train": 5000, "test": 2000, "washout": 200}
FLIPFLOP = {"units": 200, "channels": 20, "rate": 0.02, "spectral_radius": 0.3, "input_scaling": 20.0,
            "feedback_scaling": 0.05, "noise": 1e-3, "ridge": 1e-6, "train": 6000, "test": 3000, "washout": 200}
TIMER = {"units": 400, "time_scale": 100, "leak": 0.1, "spectral_radius": 0.95, "ridge": 1e-4,
         "train_sequences": 128, "test_sequences": 256}


def reservoir_pair(units: int, connectivity: float, seed: int, **options):
    """(unroll Reservoir in float64, the ReservoirPy Reservoir with the same weights or None)."""
    ours = Reservoir(1, units, connectivity=connectivity, dtype=F64, seed=seed, **options)
    if reservoirpy is None:
        return ours, None
    w = ours.weight.to_dense().numpy()
    w = scipy.sparse.csr_matrix(w) if ours.sparse else w
    theirs = RpyReservoir(W=w, Win=ours.weight_in.numpy(), bias=ours.bias.numpy(), lr=options.get("leak", 1.0))
    return ours, theirs


def mackey_glass(runs: int) -> dict:
    results = [mackey_glass_run(seed) for seed in range(runs)]
    return {"nrmse84": nrmse_at(results, HORIZON), "runs": runs, "jaeger_2001": 2.8e-4}


def narma() -> dict:
    c = NARMA
    gen = torch.Generator().manual_seed(0)
    u, y = narma10(c["train"] + c["test"], 1, gen)
    ours, theirs = reservoir_pair(c["units"], INCOMING / c["units"], 0, spectral_radius=c["spectral_radius"],
                                  input_scaling=c["input_scaling"], bias_scaling=c["bias_scaling"])
    states, _ = ours(u)
    train, test = slice(0, c["train"]), slice(c["train"], None)
    readout = Ridge(c["ridge"]).fit(states[train], y[train], washout=c["washout"])
    result = {"units": c["units"], "test_nrmse": nrmse(readout(states[test]), y[test])}
    if theirs is not None:
        s = theirs.run(u[:, 0].numpy())
        r = RpyRidge(ridge=c["ridge"]).fit(s[train], y[train, 0].numpy(), warmup=c["washout"])
        result["reservoirpy_test_nrmse"] = nrmse(torch.from_numpy(r.run(s[test])), y[test, 0])
    return result


def flip_flops() -> dict:
    c = FLIPFLOP
    gen = torch.Generator().manual_seed(0)
    u, y = flipflop(c["train"], 1, c["channels"], c["rate"], gen)
    u_test, y_test = flipflop(c["test"], 1, c["channels"], c["rate"], gen)
    reservoir = Reservoir(c["channels"], c["units"], spectral_radius=c["spectral_radius"],
                          input_scaling=c["input_scaling"], feedback_size=c["channels"],
                          feedback_scaling=c["feedback_scaling"], connectivity=INCOMING / c["units"],
                          bias_scaling=0.2, dtype=F64)
    esn = ESN(reservoir, Ridge(c["ridge"]), input_to_readout=True, noise=c["noise"], output="tanh")
    last = esn.fit(u, y, washout=c["washout"])
    closed, _ = esn.generate(c["test"], last, y[-1], u_test)
    forced = esn.predict(u_test, y_test, last, y[-1])
    return {"closed_loop_test_mse": float(((closed - y_test) ** 2).mean()),
            "teacher_forced_test_mse": float(((forced - y_test) ** 2).mean()), "jaeger_2002": [6e-6, 5e-5]}


def timer() -> dict:
    c = TIMER
    task = Timer(length=4 * c["time_scale"], time_scale=c["time_scale"])
    gen = torch.Generator().manual_seed(0)
    x, y = (t.double() for t in task.batch(c["train_sequences"], gen))
    x_test, y_test = task.batch(c["test_sequences"], gen)
    reservoir = Reservoir(2, c["units"], spectral_radius=c["spectral_radius"], leak=c["leak"],
                          connectivity=INCOMING / c["units"], bias_scaling=0.2, dtype=F64)
    esn = ESN(reservoir, Ridge(c["ridge"]), input_to_readout=True)
    states, _ = reservoir(x)
    esn.readout.fit(esn.features(states, x), y)
    test_states, _ = reservoir(x_test.double())
    output = esn.output(esn.features(test_states, x_test.double())).float()
    return {**{k: round(v, 4) for k, v in task.metrics(output, y_test).items()}, "criterion_nrmse": task.solved_at,
            "time_scale": c["time_scale"], "units": c["units"]}


def wall_time(sizes, reps: int, steps: int = WALL_TIME["steps"], washout: int = WALL_TIME["washout"],
              device: str = "cpu") -> list[dict]:
    """Median seconds to run N units over ``steps`` steps and fit the readout, per variant, round-robin
    (with ``device`` "cuda" also unroll in float64 on the GPU, synchronised before the clock stops)."""
    u, y = narma10(steps, 1, torch.Generator().manual_seed(1))
    rows = []
    options = WALL_TIME["options"]
    for units in sizes:
        ours64, theirs = reservoir_pair(units, INCOMING / units, 0, **options)
        ours32 = Reservoir(1, units, connectivity=INCOMING / units, seed=0, **options)
        variants = {"unroll float64": lambda: _ours(ours64, u, y, washout, F64),
                    "unroll float32": lambda: _ours(ours32, u.float(), y.float(), washout, torch.float32)}
        if device != "cpu":
            on_gpu = Reservoir(1, units, connectivity=INCOMING / units, dtype=F64, seed=0, **options).to(device)
            variants[f"unroll float64 {device}"] = lambda: _ours(on_gpu, u.to(device), y.to(device), washout, F64)
            variants[f"unroll float64 {device}"]()      # warm-up: CUDA context, cuBLAS and cuSPARSE handles
        if theirs is not None:
            variants = {"ReservoirPy 0.4.2": lambda: _theirs(theirs, u, y, washout), **variants}
        times, errors = {name: [] for name in variants}, {}
        for _ in range(reps):
            for name, job in variants.items():
                start = time.perf_counter()
                prediction = job()
                if device != "cpu":
                    torch.cuda.synchronize()
                times[name].append(time.perf_counter() - start)
                errors[name] = nrmse(torch.as_tensor(prediction).cpu().reshape(-1)[washout:].double(),
                                     y.reshape(-1)[washout:])
        anchor = statistics.median(times["ReservoirPy 0.4.2"]) if theirs is not None else None
        for name in variants:
            seconds = statistics.median(times[name])
            rows.append({"units": units, "variant": name, "seconds": seconds, "reps": reps,
                         "speedup_vs_reservoirpy": (anchor / seconds) if anchor else None,
                         "train_nrmse": errors[name], "sparse": ours64.sparse})
            speed = f"{anchor / seconds:.2f}" if anchor else "-"
            print(f"{units:>6}  {name:<22} {seconds:>9.3f} {speed:>9} {errors[name]:>12.6f}", flush=True)
    return rows


def _ours(reservoir, u, y, washout, dtype):
    states, _ = reservoir(u)
    readout = Ridge(WALL_TIME["ridge"], dtype=dtype).fit(states, y, washout=washout)
    return readout(states)


def _theirs(reservoir, u, y, washout):
    if hasattr(reservoir, "state"):      # initialised by an earlier run: start from zeros again
        reservoir.reset()
    states = reservoir.run(u[:, 0].numpy())
    readout = RpyRidge(ridge=WALL_TIME["ridge"]).fit(states, y[:, 0].numpy(), warmup=washout)
    return readout.run(states)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 Mackey-Glass runs, sizes 100 and 1000, 1 repeat")
    parser.add_argument("--reps", type=int, default=3, help="round-robin repeats of each wall-time variant")
    parser.add_argument("--json", help="also write the numbers to this JSON file")
    parser.add_argument("--device", default="cpu", help="also time unroll on this device (e.g. cuda)")
    parser.add_argument("--wall-time-only", action="store_true", help="skip the task benchmarks")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    started = time.perf_counter()
    print(f"torch {torch.__version__}, numpy {np.__version__}, reservoirpy "
          f"{getattr(reservoirpy, '__version__', 'absent')}, {platform.machine()}, 1 thread")
    results = {} if args.wall_time_only else tasks(args.quick)
    sizes = (100, 1000) if args.quick else (100, 1000, 5000)
    print("\nrun N units over 10,000 NARMA-10 steps + fit the ridge readout: median seconds")
    print(f"{'N':>6}  {'variant':<22} {'seconds':>9} {'x faster':>9} {'train NRMSE':>12}")
    results["wall_time"] = wall_time(sizes, 1 if args.quick else args.reps, device=args.device)
    results["seconds"] = round(time.perf_counter() - started, 1)
    print(f"\nwall time {results['seconds']} s")
    if args.json:
        from unroll.atomic import atomic_write
        atomic_write(args.json, json.dumps(results, indent=1, default=float))
    return results


def tasks(quick: bool) -> dict:
    """The task benchmarks (Mackey-Glass, NARMA-10, flip-flops, timer), printed as they finish."""
    results = {"mackey_glass": mackey_glass(3 if quick else 20)}
    print(f"\nMackey-Glass tau 17, 400 units, 3000 training steps: NRMSE84 = {results['mackey_glass']['nrmse84']:.2e} "
          f"over {results['mackey_glass']['runs']} runs (Jaeger 2001: 2.8e-4)")
    results["narma10"] = narma()
    print(f"NARMA-10, {NARMA['units']} units: test NRMSE {results['narma10']['test_nrmse']:.4f}"
          + (f" (ReservoirPy, same weights: {results['narma10']['reservoirpy_test_nrmse']:.4f})"
             if "reservoirpy_test_nrmse" in results["narma10"] else ""))
    flips = results["flipflop"] = flip_flops()
    print(f"20 flip-flops, {FLIPFLOP['units']} units: closed-loop test MSE {flips['closed_loop_test_mse']:.2e}, "
          f"teacher-forced {flips['teacher_forced_test_mse']:.2e} (Jaeger 2002: 6e-6 to 5e-5)")
    timed = results["timer"] = timer()
    print(f"timer (x {TIMER['time_scale']}), {TIMER['units']} units: test NRMSE {timed['nrmse']:.3f} "
          f"(criterion {timed['criterion_nrmse']}), duration error {timed['duration_error']:.1f} steps")
    return results


if __name__ == "__main__":
    main()
