"""unroll compress / decompress: lossless compression with the online LSTM byte model."""
import contextlib
import os
import sys
import time

SUFFIX = ".unr"
MODELS = ("small", "medium", "large")


def add(commands) -> None:
    p = commands.add_parser(
        "compress", help="compress a file with an online LSTM byte model (or --bench against gzip, bzip2, xz, zstd)",
        description="Compress IN ('-': stdin) to OUT (default IN.unr; '-': stdout). The model learns the data "
                    "while coding it, so nothing but the model configuration is stored. With --bench, compress "
                    "and decompress each of FILES and print a table against gzip -9, bzip2 -9, xz -9e and "
                    "zstd -19 measured in the same run.")
    p.add_argument("inputs", nargs="+", metavar="IN", help="input file, '-' for stdin (with --bench: FILES...)")
    p.add_argument("-o", "--output", metavar="OUT", help="output file, '-' for stdout (default: IN.unr)")
    p.add_argument("--model", choices=MODELS, default="medium", help="model size (default: %(default)s)")
    p.add_argument("-f", "--force", action="store_true", help="overwrite OUT if it exists")
    p.add_argument("--bench", action="store_true", help="benchmark FILES against the classic compressors")
    p.add_argument("--json", metavar="FILE", help="with --bench: also write the results as JSON")
    p.set_defaults(run=_run_compress)
    d = commands.add_parser(
        "decompress", help="decompress a file made by 'unroll compress'",
        description="Decompress IN ('-': stdin) to OUT (default: IN without .unr; '-': stdout). Damaged, "
                    "foreign or version-mismatched input fails with one line and exit status 2; a file is "
                    "written only once every check has passed.")
    d.add_argument("input", metavar="IN", help="compressed file, '-' for stdin")
    d.add_argument("-o", "--output", metavar="OUT", help="output file, '-' for stdout")
    d.add_argument("-f", "--force", action="store_true", help="overwrite OUT if it exists")
    d.set_defaults(run=_run_decompress)


def _check_cpu(args) -> None:
    if args.device != "cpu":
        raise ValueError(f"device: compression runs on the CPU (bit-exact floats), got {args.device!r}")


def _run_compress(args) -> int:
    from ..compress import compress_stream

    _check_cpu(args)
    if args.bench:
        return _run_bench(args)
    if args.json is not None:
        raise ValueError("json: only meaningful with --bench")
    if len(args.inputs) != 1:
        raise ValueError(f"IN: expected one input file (several only with --bench), got {len(args.inputs)}")
    source = args.inputs[0]
    target = args.output or ("-" if source == "-" else source + SUFFIX)
    _code(source, target, args, lambda src, dst, report: compress_stream(src, dst, args.model, report), True)
    return 0


def _run_decompress(args) -> int:
    from ..compress import decompress_stream

    _check_cpu(args)
    source = args.input
    if args.output:
        target = args.output
    elif source == "-":
        target = "-"
    elif source.endswith(SUFFIX) and len(source) > len(SUFFIX):
        target = source[:-len(SUFFIX)]
    else:
        raise ValueError(f"output: IN does not end in {SUFFIX}; name the output with -o, got IN {source!r}")
    _code(source, target, args, decompress_stream, False)
    return 0


def _code(source: str, target: str, args, work, compressing: bool) -> None:
    """Run ``work(src, dst, report)`` from ``source`` to ``target``; a file target is written atomically.
    Unless --quiet, a progress bar while it runs (on a terminal) and a summary line after (files)."""
    from ..atomic import atomic_writer

    if target != "-" and os.path.exists(target) and not args.force:
        raise ValueError(f"output: {target} exists (use --force to overwrite)")
    total = os.path.getsize(source) if source != "-" and os.path.isfile(source) else None
    t0 = time.perf_counter()
    with contextlib.ExitStack() as stack:
        src = sys.stdin.buffer if source == "-" else stack.enter_context(open(source, "rb"))
        dst = sys.stdout.buffer if target == "-" else stack.enter_context(atomic_writer(target, "wb"))
        bar = stack.enter_context(_ProgressBar(total, quiet=args.quiet))
        work(src, dst, bar.report)
        dst.flush()
        read, written = src.tell() if src.seekable() else None, dst.tell() if dst.seekable() else None
    if not args.quiet and read is not None and written is not None:
        raw, packed = (read, written) if compressing else (written, read)
        print(f"{source} -> {target}: {read} -> {written} bytes, {8 * packed / max(raw, 1):.3f} bits/byte, "
              f"{raw / (time.perf_counter() - t0) / 1000:.1f} KB/s", file=sys.stderr)


class _ProgressBar:
    """A progress bar on stderr (when it is a terminal): bytes coded, KB/s and running bits per byte."""

    def __init__(self, total, quiet: bool):
        self.total, self.bar = total, None
        if not quiet and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("coding"), BarColumn(), DownloadColumn(),
                                TextColumn("{task.fields[status]}"), TimeRemainingColumn(),
                                console=Console(file=sys.stderr), transient=True)
            self.task = self.bar.add_task("coding", total=total, status="")
        self.t0 = time.perf_counter()

    def __enter__(self):
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()

    def report(self, done: int, bits: float) -> None:
        if self.bar is not None:
            rate = done / max(time.perf_counter() - self.t0, 1e-9) / 1000
            self.bar.update(self.task, completed=done,
                            status=f"{rate:.1f} KB/s  {bits / max(done, 1):.3f} bits/byte")


def _run_bench(args) -> int:
    from ..atomic import atomic_write
    from ..compress.bench import bench_files, format_table

    if args.output is not None:
        raise ValueError("output: --bench writes no compressed file; leave out -o")
    results = bench_files(args.inputs, [args.model], progress=None if args.quiet else print)
    print(format_table(results))
    if args.json is not None:
        import json
        atomic_write(args.json, json.dumps(results, indent=1) + "\n")
    return 0
