"""The tour's report: one self-contained HTML page (figures embedded as PNG data) and results.json."""
import base64
import html
import json
from pathlib import Path

from ..atomic import atomic_write

_CSS = """
body { font-family: system-ui, -apple-system, Segoe UI, sans-serif; max-width: 960px; margin: 2em auto;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2em; } .meta { color: #666; font-size: 0.9em; }
section { border-top: 1px solid #ddd; margin-top: 2em; padding-top: 0.5em; }
.claim { background: #f6f8fa; border-left: 4px solid #888; padding: 0.5em 0.8em; }
.holds { color: #1a7f37; font-weight: 600; } .fails { color: #cf222e; font-weight: 600; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.6em 0; }
td, th { border: 1px solid #ddd; padding: 0.2em 0.6em; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; } code { background: #f6f8fa; padding: 0.1em 0.3em; }
.notes { color: #555; font-size: 0.92em; }
"""


def write_results(path: Path, sections, meta: dict) -> None:
    """Every number of the run as JSON: meta plus one entry per section."""
    payload = {"meta": meta, "sections": {s.key: {
        "title": s.title, "claim": s.claim, "holds": s.holds, "numbers": s.numbers,
        "figures": [Path(f).name for f in s.figures], "command": s.command, "notes": s.notes}
        for s in sections}}
    atomic_write(path, json.dumps(payload, indent=1, default=float) + "\n")


def write_report(path: Path, sections, meta: dict) -> None:
    """index.html: a summary table, then per section its claim, verdict, figures, numbers and command."""
    rows = "".join(f"<tr><td><a href='#{s.key}'>{_e(s.title)}</a></td><td>{_verdict(s.holds)}</td></tr>"
                   for s in sections)
    body = [f"<h1>unroll tour</h1><p class='meta'>{_e(_meta_line(meta))}</p>",
            f"<table><tr><th>section</th><th>its claim</th></tr>{rows}</table>"]
    for s in sections:
        body.append(f"<section id='{s.key}'><h2>{_e(s.title)}</h2>"
                    f"<p class='claim'>{_e(s.claim)} &mdash; {_verdict(s.holds)}</p>")
        body.extend(f"<img alt='{_e(Path(f).name)}' src='data:image/png;base64,{_png(f)}'>" for f in s.figures)
        body.append(_numbers_table(s.numbers))
        if s.notes:
            body.append(f"<p class='notes'>{_e(s.notes)}</p>")
        body.append(f"<p>Reproduce: <code>{_e(s.command)}</code></p></section>")
    page = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>unroll tour</title>"
            f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>\n")
    atomic_write(path, page)


def _e(text) -> str:
    return html.escape(str(text))


def _verdict(holds: bool) -> str:
    return "<span class='holds'>holds</span>" if holds else "<span class='fails'>does not hold</span>"


def _meta_line(meta: dict) -> str:
    return " · ".join(f"{k}: {v}" for k, v in meta.items())


def _png(path) -> str:
    return base64.b64encode(Path(path).read_bytes()).decode()


def _numbers_table(numbers: dict) -> str:
    rows = "".join(f"<tr><td>{_e(k)}</td><td class='num'>{_e(_fmt(v))}</td></tr>"
                   for k, v in _flatten(numbers))
    return f"<table><tr><th>quantity</th><th>value</th></tr>{rows}</table>" if rows else ""


def _flatten(numbers: dict, prefix: str = ""):
    for key, value in numbers.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _flatten(value, name + " / ")
        else:
            yield name, value


def _fmt(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_fmt(v) for v in value)
    return str(value)
