"""The benchmark's outputs: the table task x T x method (markdown), results.json and the success-rate figure."""
import json
import statistics
from pathlib import Path

from ...atomic import atomic_write

COLUMNS = ("task", "T", "method", "solved", "success", "median updates", "median sequences",
           "final error", "median wall s", "published")


def summarise(records: list[dict], published: list[dict] = ()) -> list[dict]:
    """One row per (task, length, method), in first-seen order: seeds, solved, diverged, success rate, median
    updates and sequences to success (over solved seeds; None if none), the median fraction of held-out
    sequences wrong at the last evaluation (None for tasks without one), median and total wall seconds, and the
    papers' figures for the same task variant and length, or for the variant with no length (``published``)."""
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        groups.setdefault((r["task"], r["length"], r["method"]), []).append(r)
    rows = []
    for (task, T, method), runs in groups.items():
        solved = [r for r in runs if r["solved"]]
        rows.append({
            "task": task, "length": T, "method": method, "seeds": len(runs), "solved": len(solved),
            "diverged": sum(bool(r.get("diverged")) for r in runs),
            "success_rate": len(solved) / len(runs), "budget": runs[0]["budget"],
            "median_updates_to_success": _median(r["updates_to_success"] for r in solved),
            "median_sequences_to_success": _median(r["sequences_to_success"] for r in solved),
            "median_final_error": _median(r["final"]["error_rate"] for r in runs
                                          if r.get("final", {}).get("error_rate") is not None),
            "median_wall_s": _median(r["wall_s"] for r in runs), "wall_s": round(sum(r["wall_s"] for r in runs), 2),
            "published": [p for p in published if p.get("task") == task and p.get("length") in (T, None)],
        })
    return rows


def _median(values):
    values = list(values)
    return None if not values else statistics.median(values)


def _number(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.3g}" if value < 100 else f"{value:,.0f}"
    return f"{int(value):,}"


def _error(value) -> str:
    return "-" if value is None else f"{value:.2g}"


def _published_cell(entries: list[dict]) -> str:
    return "; ".join(f"{p.get('method', '?')}: {p.get('figure')} {p.get('unit', '')}".rstrip()
                     + (f" ({p['source']})" if p.get("source") else "") for p in entries) or "-"


def markdown(rows: list[dict]) -> str:
    """The table as GitHub markdown. The papers' figures for a (task, T) appear on that group's first row."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    shown = set()
    for row in rows:
        group = (row["task"], row["length"])
        paper = "" if group in shown else _published_cell(row["published"])
        shown.add(group)
        solved = f"{row['solved']}/{row['seeds']}" + (f" ({row['diverged']} diverged)" if row["diverged"] else "")
        cells = (row["task"], str(row["length"]), row["method"], solved, f"{row['success_rate']:.0%}",
                 _number(row["median_updates_to_success"]), _number(row["median_sequences_to_success"]),
                 _error(row["median_final_error"]),
                 _number(row["median_wall_s"]), paper)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def draw(path: Path, rows: list[dict]) -> Path:
    """Success rate against T, one line per method, one panel per task."""
    from ...report.figures import new_figure, save   # matplotlib only when drawing: the CLI starts faster
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    fig, axes = new_figure(1, len(tasks), width=max(5.0, 4.2 * len(tasks)), height=3.4)
    axes = [axes] if len(tasks) == 1 else list(axes.flat)
    for ax, task in zip(axes, tasks):
        mine = [r for r in rows if r["task"] == task]
        for method in dict.fromkeys(r["method"] for r in mine):
            points = sorted((r["length"], r["success_rate"]) for r in mine if r["method"] == method)
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=method)
        lengths = [r["length"] for r in mine]
        if max(lengths) >= 10 * min(lengths):
            ax.set_xscale("log")
        ax.set(xlabel="sequence length T", ylabel="success rate over seeds", ylim=(-0.05, 1.05), title=task)
        ax.legend(fontsize=8)
    return save(fig, path)


def write_outputs(out, records: list[dict], published: list[dict] = (), *, grid: dict | None = None) -> str:
    """Write OUT/table.md, OUT/results.json (rows, cells, grid) and OUT/success.png from the grid's
    records (in grid order); return the markdown."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = summarise(records, published)
    text = markdown(rows)
    atomic_write(out / "table.md", text)
    results = {"grid": grid or {}, "rows": rows, "cells": records}
    atomic_write(out / "results.json", json.dumps(results, indent=1, sort_keys=True) + "\n")
    draw(out / "success.png", rows)
    return text

