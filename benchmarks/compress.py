"""Compression benchmark: unroll's online-LSTM compressor against gzip -9, bzip2 -9, xz -9e and zstd -19.

Compresses and decompresses each file with every compressor in the same run (round trips checked),
one CPU thread for unroll, and prints a Markdown table: sizes, bits per byte, size relative to
bzip2 -9 (the anchor) and KB/s both ways.

    python benchmarks/compress.py [--models small,medium,large] [--json docs/compression.json] [FILES...]

Default FILES: the Canterbury corpus text files in ../shared/data/canterbury.
"""
import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

from unroll.atomic import atomic_write
from unroll.compress.bench import bench_files, format_table

CANTERBURY = Path(__file__).resolve().parents[2] / "shared" / "data" / "canterbury"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("files", nargs="*", help="files (default: the Canterbury text files)")
    p.add_argument("--models", default="small,medium,large", help="model sizes (default: %(default)s)")
    p.add_argument("--json", help="write the rows and the machine's description here")
    args = p.parse_args()
    files = args.files or sorted(str(f) for f in CANTERBURY.glob("*.txt"))
    if not files:
        raise SystemExit(f"no files given and none found in {CANTERBURY}")
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    rows = bench_files(files, args.models.split(","), progress=lambda line: print(line, flush=True))
    wall = time.perf_counter() - t0
    machine = (f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, torch {torch.__version__}, "
               f"1 thread, load average at the end {os.getloadavg()[0]:.1f}")
    print(format_table(rows))
    print(f"\n{machine}; wall time {wall:.0f} s")
    if args.json:
        atomic_write(args.json, json.dumps({"machine": machine, "wall_s": wall, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
