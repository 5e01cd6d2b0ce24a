"""The tour: every experiment of the seed run, checked and drawn, into one report.

Sections run in the seed's order; after each one results.json is rewritten, so a killed tour keeps
what it finished. The report (index.html) embeds every figure.
"""
import importlib
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from .. import __version__
from ..report.html import write_report, write_results
from ..train.progress import RunProgress

SECTIONS = ("timer", "unrolling", "cliff", "vanishing", "memory", "remedies", "echo_state", "hessian_free", "longlag",
            "handwriting")


def run_tour(out: Path, *, quick: bool = False, only=None, seed: int = 0, time_scale: int | None = None,
             quiet: bool = False) -> list:
    """Run the sections (all, or those named in ``only``) into ``out``; returns their Section results."""
    keys = list(SECTIONS) if not only else list(only)
    unknown = [k for k in keys if k not in SECTIONS]
    if unknown:
        raise ValueError(f"only: unknown section(s) {', '.join(unknown)}; expected some of {', '.join(SECTIONS)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    meta = {"unroll": __version__, "torch": torch.__version__, "profile": "quick" if quick else "full",
            "seed": seed, "machine": f"{platform.machine()}, {platform.system()}, 1 thread",
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    progress = RunProgress(len(keys), quiet=quiet, label="tour")
    sections, t0 = [], time.perf_counter()
    try:
        for index, key in enumerate(keys):
            module = importlib.import_module(f"{__package__}.{key}")
            progress.step(index, key)
            options = {"time_scale": time_scale} if key == "timer" and time_scale else {}
            started = time.perf_counter()
            section = module.run(out, quick, seed=seed,
                                 progress=lambda f, i=index, k=key: progress.step(i + min(max(f, 0.0), 1.0), k),
                                 **options)
            section.numbers.setdefault("seconds", round(time.perf_counter() - started, 2))
            sections.append(section)
            progress.step(index + 1, key)
            progress.report(f"{section.title}: {'holds' if section.holds else 'does NOT hold'} "
                            f"({section.numbers['seconds']:.1f} s)")
            meta["seconds"] = round(time.perf_counter() - t0, 1)
            write_results(out / "results.json", sections, meta)
    finally:
        progress.close()
    write_report(out / "index.html", sections, meta)
    return sections
