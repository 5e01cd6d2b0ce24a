"""Training-step time (forward + backward) of unroll's layers against torch.nn, on CPU or CUDA.

Prints, for each thread count and shape (T, B, I, H), the median time of each variant and its ratio
to the anchor measured in the same run (torch.nn.LSTM for the LSTM rows and for the 1997 LSTM's, whose
H cells sit in H / 2 blocks of 2, torch.nn.RNN for the RNN rows). Variants run round-robin, so machine
noise hits them alike. The shape 100,1,2,4 is the 1997 adding net (Exp. 4) trained online.

    python benchmarks/engine.py [--threads 1,0] [--min-time 2] [--device cuda] [--json out.json]

On CUDA the anchors are cuDNN's kernels; unroll's layers run their plain-torch time loops there, except
``backend="torch"``, which hands the same parameters to torch's kernels (cuDNN on CUDA).
"""
import argparse
import json
import statistics
import time
from contextlib import contextmanager

import torch
from torch import nn

import unroll
from unroll.time import fused, native

SHAPES = [(100, 32, 32, 64), (100, 32, 32, 128), (1000, 1, 8, 64), (100, 64, 256, 256)]


@contextmanager
def plain_torch_loops():
    """Run the fused paths with their plain-torch time loops instead of the C++ ones."""
    original = fused._use_native
    fused._use_native = lambda t: False
    try:
        yield
    finally:
        fused._use_native = original


def variants(T, B, I, H, device):
    """name -> (anchor name, module, context) for one shape."""
    torch.manual_seed(0)
    lstm_fused = unroll.LSTM(I, H)
    blocks = max(H // 2, 1)           # the 1997 LSTM's H cells, in blocks of 2
    blocks_fused = unroll.MemoryBlocks(I, blocks, 2)
    cases = {
        "nn.LSTM": ("nn.LSTM", nn.LSTM(I, H), None),
        "LSTM fused": ("nn.LSTM", lstm_fused, None),
        "LSTM fused, torch loop": ("nn.LSTM", lstm_fused, plain_torch_loops),
        "LSTM torch backend": ("nn.LSTM", unroll.LSTM(I, H, backend="torch"), None),
        "LSTM peephole fused": ("nn.LSTM", unroll.LSTM(I, H, peephole=True), None),
        "LSTM reference loop": ("nn.LSTM", unroll.LSTM(I, H, backend="reference"), None),
        "MemoryBlocks fused": ("nn.LSTM", blocks_fused, None),
        "MemoryBlocks fused, torch loop": ("nn.LSTM", blocks_fused, plain_torch_loops),
        "MemoryBlocks reference loop": ("nn.LSTM", unroll.MemoryBlocks(I, blocks, 2, backend="reference"), None),
        "nn.RNN": ("nn.RNN", nn.RNN(I, H), None),
        "RNN fused": ("nn.RNN", unroll.RNN(I, H), None),
        "RNN torch backend": ("nn.RNN", unroll.RNN(I, H, backend="torch"), None),
    }
    if device.type != "cpu":  # the C++ loops are CPU-only: the fused path already runs the torch loop
        del cases["LSTM fused, torch loop"], cases["MemoryBlocks fused, torch loop"]
    return {name: (anchor, module.to(device), context) for name, (anchor, module, context) in cases.items()}


def training_step(module, x):
    out, _ = module(x)
    out.sum().backward()


def measure(shape, min_time, device, max_reps=200):
    """Median seconds per training step for each variant, interleaved round-robin."""
    T, B, I, H = shape
    x = torch.randn(T, B, I, device=device)
    cases = variants(*shape, device)
    times = {name: [] for name in cases}
    for _ in range(2):  # warm-up (and the C++ build, if any)
        for name, (_, module, context) in cases.items():
            _timed(module, x, context)
    start = time.perf_counter()
    reps = 0
    while reps < 5 or (time.perf_counter() - start < min_time and reps < max_reps):
        for name, (_, module, context) in cases.items():
            times[name].append(_timed(module, x, context))
        reps += 1
    return {name: statistics.median(ts) for name, ts in times.items()}, {n: a for n, (a, _, _) in cases.items()}


def _timed(module, x, context):
    with (context() if context else _nothing()):
        module.zero_grad(set_to_none=True)
        synchronize = torch.cuda.synchronize if x.is_cuda else (lambda: None)
        synchronize()
        t0 = time.perf_counter()
        training_step(module, x)
        synchronize()
        return time.perf_counter() - t0


@contextmanager
def _nothing():
    yield


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", default="1,0", help="thread counts to run; 0 = torch's default")
    parser.add_argument("--min-time", type=float, default=2.0, help="seconds of measuring per shape")
    parser.add_argument("--shapes", default=None, help="T,B,I,H;... (default: the four standard ones)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args()
    device = torch.device(args.device)
    default_threads = torch.get_num_threads()
    shapes = SHAPES if args.shapes is None else [tuple(int(v) for v in s.split(",")) for s in args.shapes.split(";")]
    print(f"torch {torch.__version__}, device {_device_name(device)}, native kernels: {native.available()}, "
          f"default threads {default_threads}")
    results = []
    for threads in (int(t) or default_threads for t in args.threads.split(",")):
        torch.set_num_threads(threads)
        print(f"\n## {threads} thread(s): median ms per training step (forward + backward)")
        print(f"{'T,B,I,H':>16}  {'variant':<30} {'ms':>9} {'ratio':>7}  vs")
        for shape in shapes:
            medians, anchors = measure(shape, args.min_time, device)
            for name, seconds in medians.items():
                anchor = anchors[name]
                ratio = seconds / medians[anchor]
                results.append({"device": args.device, "threads": threads, "shape": shape, "variant": name, "ms": seconds * 1e3,
                                "anchor": anchor, "ratio": ratio})
                print(f"{','.join(map(str, shape)):>16}  {name:<30} {seconds * 1e3:9.2f} {ratio:7.2f}  {anchor}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"torch": torch.__version__, "device": _device_name(device), "native": native.available(),
                       "results": results}, f, indent=1)


def _device_name(device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"


if __name__ == "__main__":
    main()
