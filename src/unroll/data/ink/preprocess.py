"""Normalise ink and turn it into network inputs.

``normalize``: slant removal (shear by the dominant near-vertical stroke angle), vertical centring on the
median y and scaling so the core (10th-90th percentile of y) is one unit high; ``resample``: points at equal
arc-length spacing along each stroke; ``features``: per point (dx, dy, pen_up, cos, sin, dcos, dsin, y).
"""
import numpy as np

from .ink import Ink

__all__ = ["normalize", "resample", "features", "ink_to_features", "NUM_FEATURES", "FEATURE_NAMES"]

FEATURE_NAMES = ("dx", "dy", "pen_up", "cos", "sin", "dcos", "dsin", "y")
NUM_FEATURES = len(FEATURE_NAMES)


def _slant(strokes) -> float:
    """tan of the writing's slant: the |dy|-weighted mean of dx/dy over segments within 45 degrees of vertical
    (one pass; a strong slant is reduced to about a third, not removed)."""
    num = den = 0.0
    for s in strokes:
        d = np.diff(s, axis=0)
        steep = np.abs(d[:, 1]) > np.abs(d[:, 0])
        num += float((d[steep, 0] * np.sign(d[steep, 1])).sum())
        den += float(np.abs(d[steep, 1]).sum())
    return num / den if den > 0 else 0.0


def normalize(ink: Ink) -> Ink:
    """Ink deslanted, centred on its median y and scaled to a core height of one unit (x and y alike)."""
    if not ink.strokes:
        return Ink([], ink.label)
    shear = _slant(ink.strokes)
    pts = ink.points()
    y = pts[:, 1]
    core = float(np.percentile(y, 90) - np.percentile(y, 10))
    span = float(max(np.ptp(pts[:, 0]), np.ptp(y)))
    scale = core if core > 1e-3 * max(span, 1e-12) else (span or 1.0)
    x0, y0 = float(pts[:, 0].min()), float(np.median(y))
    out = []
    for s in ink.strokes:
        x = s[:, 0] - shear * (s[:, 1] - y0)
        out.append(np.stack([(x - x0) / scale, (s[:, 1] - y0) / scale], axis=1))
    return Ink(out, ink.label)


def resample(ink: Ink, spacing: float) -> Ink:
    """Points every ``spacing`` units of arc length along each stroke (first and last points kept)."""
    out = []
    for s in ink.strokes:
        d = np.hypot(*np.diff(s, axis=0).T)
        arc = np.concatenate([[0.0], np.cumsum(d)])
        total = arc[-1]
        if total < spacing:
            out.append(s[[0, -1]] if total > 0 else s[:1])
            continue
        n = int(np.ceil(total / spacing)) + 1
        at = np.linspace(0.0, total, n)
        keep = np.concatenate([[True], d > 0])
        out.append(np.stack([np.interp(at, arc[keep], s[keep, k]) for k in range(2)], axis=1))
    return Ink(out, ink.label)


def features(ink: Ink) -> np.ndarray:
    """(T, 8) float32: dx, dy from the previous point, pen_up (1 where a stroke starts after a lift), the
    direction (cos, sin) of the move, its change (dcos, dsin) and the height y, all in core-height units."""
    if not ink.strokes:
        return np.zeros((0, NUM_FEATURES), np.float32)
    pts = ink.points()
    starts = np.zeros(len(pts), bool)
    starts[np.cumsum([0] + [len(s) for s in ink.strokes[:-1]])] = True
    d = np.diff(pts, axis=0, prepend=pts[:1])
    length = np.hypot(d[:, 0], d[:, 1])
    safe = np.where(length > 0, length, 1.0)
    cos, sin = np.where(length > 0, d[:, 0] / safe, 1.0), np.where(length > 0, d[:, 1] / safe, 0.0)
    dcos = cos * np.roll(cos, 1) + sin * np.roll(sin, 1)
    dsin = sin * np.roll(cos, 1) - cos * np.roll(sin, 1)
    dcos[0], dsin[0] = 1.0, 0.0
    pen_up = starts.astype(np.float64)
    pen_up[0] = 0.0
    return np.stack([d[:, 0], d[:, 1], pen_up, cos, sin, dcos, dsin, pts[:, 1]], axis=1).astype(np.float32)


def ink_to_features(ink: Ink, spacing: float = 0.2) -> np.ndarray:
    """normalize -> resample -> features: (T, 8) float32."""
    return features(resample(normalize(ink), spacing))
