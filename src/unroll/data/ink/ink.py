"""Ink as readers give it: pen-down strokes of (x, y) points, optionally labelled, grouped into documents."""
from dataclasses import dataclass, field

import numpy as np


class InkFormatError(ValueError):
    """A malformed or unsupported ink file; the message is one line, ``<file>:<line>: <what is wrong>``."""


def format_error(path, line, what) -> InkFormatError:
    where = f"{path}:{line}" if line is not None else f"{path}"
    return InkFormatError(" ".join(f"{where}: {what}".split()))


@dataclass
class Ink:
    """One piece of handwriting: ``strokes`` is a list of (N_i, 2) float64 arrays of (x, y) pen-down points,
    y pointing up; ``label`` is its transcription (None when unknown); ``quality`` a reader's quality mark."""
    strokes: list
    label: str | None = None
    quality: str | None = None

    def __post_init__(self):
        strokes = []
        for i, s in enumerate(self.strokes):
            a = np.asarray(s, dtype=np.float64)
            if a.ndim != 2 or a.shape[1] != 2:
                raise ValueError(f"strokes[{i}]: expected an (N, 2) array of (x, y) points, got shape {a.shape}")
            if not np.isfinite(a).all():
                raise ValueError(f"strokes[{i}]: contains NaN or inf")
            if len(a):
                strokes.append(a)
        self.strokes = strokes

    @property
    def num_points(self) -> int:
        return sum(len(s) for s in self.strokes)

    def points(self) -> np.ndarray:
        """All points, (N, 2)."""
        return np.concatenate(self.strokes) if self.strokes else np.zeros((0, 2))


@dataclass
class InkDocument:
    """What a file holds: ``words`` (labelled segments in file order; for files without segments, one
    unlabelled Ink of everything), the file's ``ink`` (all strokes) and its ``meta`` (header values)."""
    ink: Ink
    words: list = field(default_factory=list)
    meta: dict = field(default_factory=dict)
