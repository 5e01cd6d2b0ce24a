"""Benchmark: unroll's compressor against gzip -9, bzip2 -9, xz -9e and zstd -19 on the same files."""
import os
import shutil
import subprocess
import time

from .codec import compress, decompress

CLASSIC = {"gzip -9": ["gzip", "-9"], "bzip2 -9": ["bzip2", "-9"], "xz -9e": ["xz", "-9e"],
           "zstd -19": ["zstd", "-19", "-q"]}


def _timed(fn, *args):
    """-> (fn(*args), wall seconds, this process's CPU seconds)."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn(*args)
    return out, time.perf_counter() - t0, time.process_time() - c0


def _pipe(command: list, data: bytes) -> bytes:
    return subprocess.run(command, input=data, stdout=subprocess.PIPE, check=True).stdout


def _rate(n: int, seconds):
    return None if not seconds else n / seconds / 1000


def _row(file: str, method: str, n: int, size, t_in=None, t_out=None, cpu=(None, None), note: str = "") -> dict:
    return {"file": os.path.basename(file), "method": method, "bytes": n, "compressed": size,
            "bits_per_byte": None if size is None or not n else 8 * size / n,
            "compress_kb_s": _rate(n, t_in), "decompress_kb_s": _rate(n, t_out),
            "compress_cpu_kb_s": _rate(n, cpu[0]), "decompress_cpu_kb_s": _rate(n, cpu[1]), "note": note}


def bench_files(files, models=("medium",), progress=None) -> list[dict]:
    """Compress and decompress every file with each classic compressor found on PATH and with unroll at
    each model size; check every round trip. -> one dict a (file, method): sizes, bits per byte, KB/s."""
    rows = []
    for file in files:
        with open(file, "rb") as f:
            data = f.read()
        for name, command in CLASSIC.items():
            if shutil.which(command[0]) is None:
                rows.append(_row(file, name, len(data), None, note=f"{command[0]} not found"))
                continue
            packed, t_in, _ = _timed(_pipe, command + ["-c"], data)
            back, t_out, _ = _timed(_pipe, command + ["-d", "-c"], packed)
            if back != data:
                raise RuntimeError(f"{name} failed to round-trip {file}")
            rows.append(_row(file, name, len(data), len(packed), t_in, t_out))
        for model in models:
            packed, t_in, cpu_in = _timed(compress, data, model)
            back, t_out, cpu_out = _timed(decompress, packed)
            if back != data:
                raise RuntimeError(f"unroll {model} failed to round-trip {file}")
            row = _row(file, f"unroll {model}", len(data), len(packed), t_in, t_out, (cpu_in, cpu_out))
            rows.append(row)
            if progress is not None:
                progress(f"{row['file']}: unroll {model} {row['bits_per_byte']:.3f} bits/byte, "
                         f"{row['compress_kb_s']:.2f} KB/s in, {row['decompress_kb_s']:.2f} KB/s out "
                         f"(CPU time: {row['compress_cpu_kb_s']:.2f}, {row['decompress_cpu_kb_s']:.2f})")
    return rows


def format_table(rows: list[dict], anchor: str = "bzip2 -9") -> str:
    """A Markdown table; 'vs anchor' is the size over the anchor's size on the same file; KB/s are of
    wall time, and for unroll also of its process's CPU time (in parentheses)."""
    sizes = {(r["file"], r["method"]): r["compressed"] for r in rows}
    lines = ["| file | method | bytes | compressed | bits/byte | vs " + anchor + " | compress KB/s | "
             "decompress KB/s |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    def num(x, fmt):
        return "-" if x is None else format(x, fmt)

    def cpu(x):
        return "" if x is None else f" ({x:.1f})"
    for r in rows:
        base = sizes.get((r["file"], anchor))
        ratio = None if not base or r["compressed"] is None else r["compressed"] / base
        lines.append(f"| {r['file']} | {r['method']} | {r['bytes']} | {num(r['compressed'], 'd')} | "
                     f"{num(r['bits_per_byte'], '.3f')} | {num(ratio, '.3f')} | "
                     f"{num(r['compress_kb_s'], '.1f')}{cpu(r.get('compress_cpu_kb_s'))} | "
                     f"{num(r['decompress_kb_s'], '.1f')}{cpu(r.get('decompress_cpu_kb_s'))} |"
                     + (f" {r['note']}" if r["note"] else ""))
    return "\n".join(lines)
