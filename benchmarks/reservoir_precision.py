"""Which parts of a reservoir fit can run in float32 at equal error: the wall-time benchmark's NARMA-10 fit
(10,000 steps, washout 100, ridge 1e-6, 10 incoming weights per unit) with the states and the X^T X
products each in float32 or float64, and float32 products of states shifted by their mean. The solve is
float64 throughout (``Ridge``); equal training NRMSE digits mean equal error.

    python benchmarks/reservoir_precision.py [--units 1000,5000]
"""
import argparse

import torch

from reservoir import INCOMING, WALL_TIME  # the wall-time benchmark beside this script
from unroll.data.narma import narma10
from unroll.reservoir import Reservoir, Ridge, nrmse

WASHOUT = WALL_TIME["washout"]


def training_nrmse(states: torch.Tensor, y: torch.Tensor, products: torch.dtype) -> float:
    """NRMSE on the training sequence of the ridge readout fitted with X^T X computed in ``products``."""
    readout = Ridge(WALL_TIME["ridge"], dtype=products).fit(states, y, washout=WASHOUT)
    return nrmse(readout(states).reshape(-1)[WASHOUT:].double(), y.reshape(-1)[WASHOUT:])


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", default="1000,5000", help="comma-separated reservoir sizes")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    u, y = narma10(WALL_TIME["steps"], 1, torch.Generator().manual_seed(1))
    rows = []
    print(f"{'N':>6}  {'states':<8} {'X^T X':<22} {'train NRMSE':>12}")
    for units in map(int, args.units.split(",")):
        states = {dtype: Reservoir(1, units, connectivity=INCOMING / units, dtype=dtype, seed=0,
                                   **WALL_TIME["options"])(u.to(dtype))[0] for dtype in (torch.float64, torch.float32)}
        mean = states[torch.float64][WASHOUT:].mean((0, 1))
        cases = [("float64", "float64", states[torch.float64], torch.float64),
                 ("float32", "float64", states[torch.float32].double(), torch.float64),
                 ("float64", "float32", states[torch.float64], torch.float32),
                 ("float64", "float32, mean shifted", states[torch.float64] - mean, torch.float32),
                 ("float32", "float32", states[torch.float32], torch.float32)]
        for state_type, product_type, x, products in cases:
            error = training_nrmse(x, y, products)
            rows.append({"units": units, "states": state_type, "products": product_type, "train_nrmse": error})
            print(f"{units:>6}  {state_type:<8} {product_type:<22} {error:>12.7f}", flush=True)
    return rows


if __name__ == "__main__":
    main()
