"""UNIPEN reader (Guyon et al. 1994): ``.PEN_DOWN``/``.PEN_UP`` components, ``.SEGMENT`` labels, ``.INCLUDE``.

Components are numbered from 0 in file order: every ``.PEN_DOWN`` starts one; a ``.PEN_UP`` that carries points,
or follows another ``.PEN_UP``, starts a pen-up component (a ``.PEN_UP`` right after pen-down points only lifts
the pen). ``.SEGMENT`` ranges are ``a-b``, ``a``, ``a:p-b:q`` (component:point, inclusive) and comma lists of
those. ``.INCLUDE name`` is read from the data set's ``include/`` folder (the ``include_dir`` argument, or the
first ``include`` folder found walking up from the file). Points are the first two ``.COORD`` channels, X Y;
UNIPEN's y points up (as in every source of category 6, checked by drawing them) and is rescaled to x's units
when ``.X_/.Y_POINTS_PER_INCH`` (or ``_MM``) differ. A word's ``quality`` is its segment's quality field.
"""
import re
from pathlib import Path

import numpy as np

from .ink import Ink, InkDocument, format_error

__all__ = ["read_unipen", "parse_unipen", "find_include_dir"]

_NUMBER = re.compile(r"^[-+]?\d+(\.\d*)?([eE][-+]?\d+)?$")
# Keywords whose values are kept in ``meta`` (first occurrence) or that carry no ink.
_HEADER = {"VERSION", "DATA_SOURCE", "DATA_ID", "DATA_CONTACT", "DATA_INFO", "SETUP", "PAD", "COMMENT",
           "WRITER_ID", "WRITER_INFO", "STYLE", "DATE", "HAND", "SKILL", "COUNTRY", "AGE", "SEX", "HIERARCHY",
           "X_DIM", "Y_DIM", "H_LINE", "V_LINE", "X_POINTS_PER_INCH", "Y_POINTS_PER_INCH", "X_POINTS_PER_MM",
           "Y_POINTS_PER_MM", "POINTS_PER_SECOND", "POINTS_PER_GRAM", "COORD", "START_BOX", "DT", "ALPHABET",
           "ALPHABET_FREQ", "LEXICON", "LEXICON_SOURCE", "LEXICON_INFO", "LEXICON_CONTACT", "LEXICON_ID",
           "LEXICON_FREQ", "START_SET", "END_SET", "RESERVED"}
_SUPPORTED_SEGMENT = re.compile(r"^(\d+(:\d+)?)(-(\d+(:\d+)?))?$")


def find_include_dir(path) -> Path | None:
    """The first ``include`` folder beside ``path`` or beside one of its parents, or None."""
    for parent in Path(path).resolve().parents:
        candidate = parent / "include"
        if candidate.is_dir():
            return candidate
    return None


class _Reader:
    def __init__(self, include_dir):
        self.include_dir = include_dir
        self.components = []        # (pen_down: bool, points (N, k) list)
        self.segments = []          # (kind, ranges, quality, label, path, line)
        self.meta = {}
        self.coord = ["X", "Y"]
        self.pen = None             # "down", "up" or None
        self.current = None
        self.depth = 0

    def read(self, path):
        path = Path(path)
        try:
            text = path.read_text(encoding="latin-1")
        except FileNotFoundError:
            raise format_error(path, None, "file not found") from None
        self.read_text(text, path)

    def read_text(self, text, path):
        self.depth += 1
        if self.depth > 16:
            raise format_error(path, None, ".INCLUDE nested more than 16 deep (a cycle?)")
        keyword, args, start = None, [], 0
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if line.startswith("."):
                if keyword is not None:
                    self._keyword(keyword, args, path, start)
                head, *rest = line[1:].split(None, 1)
                keyword, args, start = head, rest, number
                if keyword in ("PEN_DOWN", "PEN_UP"):
                    self._keyword(keyword, args, path, start)
                    keyword = None
            elif self.current is not None and line and line[0] in "-+0123456789":
                values = line.split()
                if len(values) < 2 or not all(_NUMBER.match(v) for v in values):
                    raise format_error(path, number, f"expected a point of {len(self.coord)} numbers "
                                                     f"({' '.join(self.coord)}), got {line[:60]!r}")
                self.current.append([float(v) for v in values[:2]])
            elif keyword is not None:
                args.append(line)
            elif line:
                raise format_error(path, number, f"unexpected text outside any keyword: {line[:60]!r}")
        if keyword is not None:
            self._keyword(keyword, args, path, start)
        self.depth -= 1

    def _keyword(self, keyword, args, path, line):
        value = " ".join(" ".join(args).split())
        if keyword == "PEN_DOWN":
            self.current = []
            self.components.append((True, self.current))
            self.pen = "down"
        elif keyword == "PEN_UP":
            if self.pen == "up":
                self.current = []
                self.components.append((False, self.current))
            else:
                self.current = _PendingUp(self)
            self.pen = "up"
        elif keyword == "INCLUDE":
            self._include(value, path, line)
        elif keyword == "SEGMENT":
            self._segment(value, path, line)
        elif keyword in _HEADER:
            if keyword in ("START_BOX", "DT") or not isinstance(self.current, _PendingUp):
                self.current = None     # points may follow only pen keywords
            if keyword == "COORD":
                self.coord = value.split()
                if self.coord[:2] != ["X", "Y"]:
                    raise format_error(path, line, f".COORD {value!r}: only coordinates starting with X Y are "
                                                   "supported")
            elif keyword not in ("COMMENT", "DT", "START_BOX"):
                self.meta.setdefault(keyword, value)
        else:
            raise format_error(path, line, f"unsupported UNIPEN keyword .{keyword}")

    def _include(self, name, path, line):
        if not name:
            raise format_error(path, line, ".INCLUDE without a file name")
        include_dir = self.include_dir or find_include_dir(path)
        if include_dir is None:
            raise format_error(path, line, f".INCLUDE {name}: no include folder found walking up from the file "
                                           "(give include_dir)")
        target = Path(include_dir) / name
        if not target.is_file():
            raise format_error(path, line, f".INCLUDE {name}: {target} does not exist")
        self.read(target)

    def _segment(self, value, path, line):
        m = re.match(r'^(\S+)\s+(\S+)(?:\s+(\S+))?(?:\s+"(.*)")?\s*$', value)
        if not m:
            raise format_error(path, line, f'.SEGMENT {value!r}: expected KIND RANGES [QUALITY] ["LABEL"]')
        kind, ranges, quality, label = m.groups()
        parsed = []
        for part in ranges.split(","):
            r = _SUPPORTED_SEGMENT.match(part)
            if not r:
                raise format_error(path, line, f".SEGMENT range {part!r}: expected a, a-b, or a:p-b:q")
            first = _bound(r.group(1), 0)
            last = _bound(r.group(4) or r.group(1), None)
            parsed.append((first, last))
        self.segments.append((kind, parsed, quality, label, path, line))


class _PendingUp(list):
    """Points after a .PEN_UP that merely lifted the pen: they become a pen-up component only if any come."""

    def __init__(self, reader):
        super().__init__()
        self.reader = reader

    def append(self, point):
        if not self:
            self.reader.components.append((False, self))
        super().append(point)


def _bound(text, default_point):
    component, _, point = text.partition(":")
    return int(component), (int(point) if point else default_point)


def read_unipen(path, include_dir=None, kinds=("WORD",)) -> InkDocument:
    """Read a UNIPEN file; ``words`` holds its ``.SEGMENT`` entries of the given ``kinds`` (in file order) as
    labelled Ink of their pen-down points. Raises InkFormatError naming file and line."""
    reader = _Reader(Path(include_dir) if include_dir is not None else None)
    reader.read(path)
    return _document(reader, kinds)


def parse_unipen(text: str, name="<stdin>", include_dir=None, kinds=("WORD",)) -> InkDocument:
    """Like ``read_unipen`` for text; ``.INCLUDE`` resolves against include_dir, else walking up from the
    current folder."""
    reader = _Reader(Path(include_dir) if include_dir is not None else find_include_dir(Path.cwd() / "-"))
    reader.read_text(text, name)
    return _document(reader, kinds)


def _document(reader, kinds) -> InkDocument:
    scale_y = _y_scale(reader.meta)
    comps = [(down, np.asarray(pts, dtype=np.float64).reshape(-1, 2) * (1.0, scale_y))
             for down, pts in reader.components]
    all_ink = Ink([pts for down, pts in comps if down])
    words = []
    for kind, ranges, quality, label, spath, sline in reader.segments:
        if kind not in kinds:
            continue
        strokes = []
        for (c0, p0), (c1, p1) in ranges:
            if c1 < c0 or c1 >= len(comps):
                raise format_error(spath, sline, f".SEGMENT components {c0}-{c1}: the file has "
                                                 f"{len(comps)} components (0-{len(comps) - 1})")
            for c in range(c0, c1 + 1):
                down, pts = comps[c]
                lo = p0 if c == c0 else 0
                hi = p1 + 1 if (c == c1 and p1 is not None) else len(pts)
                if down:
                    strokes.append(pts[lo:hi])
        words.append(Ink(strokes, label, quality))
    if not reader.segments:
        words = [all_ink]
    return InkDocument(all_ink, words, reader.meta)


def _y_scale(meta) -> float:
    """Factor that puts y in x's units (tablets may resolve x and y differently)."""
    for unit in ("INCH", "MM"):
        x, y = meta.get(f"X_POINTS_PER_{unit}"), meta.get(f"Y_POINTS_PER_{unit}")
        if x and y:
            try:
                return float(x.split()[0]) / float(y.split()[0])
            except ValueError:
                pass
    return 1.0
