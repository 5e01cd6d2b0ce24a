"""The benchmark's outputs: the table task x T x method (markdown), the task x method matrix per length
(markdown and a heat map), results.json and the success-rate figure."""
import itertools
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


def _by_length(rows: list[dict]):
    """(T, tasks, methods, {(task, method): row}) per length, in first-seen order."""
    for T in dict.fromkeys(r["length"] for r in rows):
        mine = [r for r in rows if r["length"] == T]
        yield (T, list(dict.fromkeys(r["task"] for r in mine)), list(dict.fromkeys(r["method"] for r in mine)),
               {(r["task"], r["method"]): r for r in mine})


def _outcome(row: dict) -> str:
    """'solved/seeds, median updates to success', or 'error E' (the median final share wrong) if none."""
    if row["solved"]:
        return f"{row['solved']}/{row['seeds']}, {_number(row['median_updates_to_success'])}"
    return f"0/{row['seeds']}, error {_error(row['median_final_error'])}"


def matrix(rows: list[dict]) -> str:
    """Per length T, a task x method markdown table of each cell's outcome (``_outcome``)."""
    parts = []
    for T, tasks, methods, cell in _by_length(rows):
        lines = [f"T = {T}: seeds solved / seeds, median updates to success; where none solved it, the median "
                 f"share of held-out sequences wrong at the end", "",
                 "| task | " + " | ".join(methods) + " |", "|" + "---|" * (len(methods) + 1)]
        for task in tasks:
            lines.append(f"| {task} | " + " | ".join(_outcome(cell[task, m]) if (task, m) in cell else ""
                                                      for m in methods) + " |")
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


SOLVED_COLOUR = "#1b7837"


def draw_matrix(path: Path, rows: list[dict]) -> Path:
    """Per length, a heat map task x method: a cell every seed solved in green, labelled with the median
    updates to success; any other shaded by the median final share wrong and labelled with it (or, where
    some seeds solved it, with 'solved/seeds' and their median updates)."""
    import numpy as np
    from matplotlib.patches import Patch, Rectangle
    from ...report.figures import new_figure, save
    panels = list(_by_length(rows))
    widest = max(len(methods) for _, _, methods, _ in panels)
    tallest = max(len(tasks) for _, tasks, _, _ in panels)
    fig, axes = new_figure(len(panels), 1, width=2.0 + 0.95 * widest, height=1.8 + 0.32 * tallest)
    for ax, (T, tasks, methods, cell) in zip(np.atleast_1d(axes).flat, panels):
        shades = np.full((len(tasks), len(methods)), np.nan)
        for (i, task), (j, method) in itertools.product(enumerate(tasks), enumerate(methods)):
            row = cell.get((task, method))
            if row is None:
                continue
            if row["solved"] == row["seeds"]:
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, color=SOLVED_COLOUR, zorder=2))
                ax.text(j, i, _updates(row["median_updates_to_success"]), ha="center", va="center", fontsize=7,
                        color="white", fontweight="bold", zorder=3)
                continue
            shade = row["median_final_error"]
            if shade is not None:
                shades[i, j] = shade
            label = _error(shade) if not row["solved"] else \
                f"{row['solved']}/{row['seeds']}: {_updates(row['median_updates_to_success'])}"
            ax.text(j, i, label, ha="center", va="center", fontsize=7,
                    color="white" if shade is not None and shade > 0.5 else "black")
        image = ax.imshow(shades, cmap="viridis_r", vmin=0, vmax=1, aspect="auto")
        ax.grid(False)
        ax.set_xticks(range(len(methods)), methods, rotation=35, ha="right", fontsize=8)
        ax.set_yticks(range(len(tasks)), tasks, fontsize=8)
        ax.set(xlabel="method", ylabel="task", title=f"T = {T}: which method solves which task")
        ax.legend(handles=[Patch(color=SOLVED_COLOUR, label="solved in every seed: median updates to success")],
                  loc="lower center", bbox_to_anchor=(0.5, 1.04), fontsize=8, frameon=False)
        fig.colorbar(image, ax=ax, label="share of held-out sequences wrong at the end\n(median over seeds)")
    return save(fig, path)


def _updates(value) -> str:
    return f"{value / 1000:.3g}k" if value >= 1000 else f"{value:.0f}"


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
    """Write OUT/table.md, OUT/matrix.md, OUT/results.json (rows, cells, grid), OUT/matrix.png and, for a
    grid of several lengths, OUT/success.png from the grid's records (in grid order); return the table's
    markdown."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = summarise(records, published)
    text = markdown(rows)
    atomic_write(out / "table.md", text)
    atomic_write(out / "matrix.md", matrix(rows))
    results = {"grid": grid or {}, "rows": rows, "cells": records}
    atomic_write(out / "results.json", json.dumps(results, indent=1, sort_keys=True) + "\n")
    draw_matrix(out / "matrix.png", rows)
    if len({r["length"] for r in rows}) > 1:
        draw(out / "success.png", rows)
    else:                                  # success against T needs two T; drop one left by an earlier grid
        (out / "success.png").unlink(missing_ok=True)
    return text

