"""A simple JSON ink format: ``{"words": [{"label": "cat", "strokes": [[[x, y], ...], ...]}, ...]}``.

y points up. A bare ``{"strokes": [...], "label": ...}`` is read as one word. Errors name the file and the line
(for syntax) or the JSON path of the offending value.
"""
import json
from pathlib import Path

from ...atomic import atomic_write
from .ink import Ink, InkDocument, format_error

__all__ = ["read_json_ink", "parse_json_ink", "write_json_ink"]


def _word(obj, where, path) -> Ink:
    if not isinstance(obj, dict) or "strokes" not in obj:
        raise format_error(path, None, f"{where}: expected an object with 'strokes'")
    unknown = set(obj) - {"strokes", "label"}
    if unknown:
        raise format_error(path, None, f"{where}: unsupported key(s) {sorted(unknown)}")
    label = obj.get("label")
    if label is not None and not isinstance(label, str):
        raise format_error(path, None, f"{where}.label: expected a string or null, got {label!r}")
    strokes = obj["strokes"]
    if not isinstance(strokes, list):
        raise format_error(path, None, f"{where}.strokes: expected a list of strokes")
    for i, s in enumerate(strokes):
        if not isinstance(s, list) or not all(
                isinstance(p, list) and len(p) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                             for v in p) for p in s):
            raise format_error(path, None, f"{where}.strokes[{i}]: expected a list of [x, y] number pairs")
    return Ink([s for s in strokes if s], label)


def parse_json_ink(text: str, path="<json>") -> InkDocument:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise format_error(path, e.lineno, f"not valid JSON ({e.msg})") from None
    if isinstance(doc, dict) and "words" in doc:
        if not isinstance(doc["words"], list):
            raise format_error(path, None, "words: expected a list")
        words = [_word(w, f"words[{i}]", path) for i, w in enumerate(doc["words"])]
    else:
        words = [_word(doc, "(top level)", path)]
    return InkDocument(Ink([s for w in words for s in w.strokes]), words, {})


def read_json_ink(path) -> InkDocument:
    path = Path(path)
    try:
        return parse_json_ink(path.read_text(encoding="utf-8"), path)
    except FileNotFoundError:
        raise format_error(path, None, "file not found") from None


def write_json_ink(words: list, path) -> None:
    """Write a list of Ink as ``{"words": [...]}`` atomically."""
    doc = {"words": [{"label": w.label, "strokes": [s.round(4).tolist() for s in w.strokes]} for w in words]}
    atomic_write(path, json.dumps(doc) + "\n")
