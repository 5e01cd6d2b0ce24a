"""Synthetic cursive from the Hershey script fonts (package ``hershey-fonts``), with writer-like variation.

A word's glyph strokes are joined into pen-down strokes wherever one ends near where the next begins; small
strokes (i-dots, t-bars, x-crosses) are delayed to the end of the word, as writers add them; each "writer"
(a seeded draw) brings a slant, a width and height scale, a smooth warp along the line, a speed (point spacing)
and jitter. Output is ``Ink`` with y up, about 10 units per x-height.
"""
import numpy as np

from .ink import Ink

__all__ = ["FONTS", "synthesize", "glyph_strokes"]

FONTS = ("scripts", "scriptc", "cursive")
_JOIN = 1.5        # font units: strokes this close are one pen-down stroke
_SMALL = 3.0       # font units: strokes this small are written last (dots and bars)


def glyph_strokes(text: str, font: str = "scripts") -> list[np.ndarray]:
    """The font's strokes for ``text``, (N, 2) arrays in font units, y up, in writing order."""
    from HersheyFonts import HersheyFonts

    if font not in FONTS:
        raise ValueError(f"font: expected one of {FONTS}, got {font!r}")
    if not isinstance(text, str) or not text or not text.isprintable():
        raise ValueError(f"text: expected a non-empty printable string, got {text!r}")
    h = HersheyFonts()
    h.load_default_font(font)
    return [np.asarray(s, dtype=np.float64) * (1.0, -1.0) for s in h.strokes_for_text(text) if len(s) > 0]


def _joined(strokes: list) -> list:
    """Consecutive strokes merged where one starts within _JOIN of the previous one's end; small strokes last."""
    small = [s for s in strokes if np.ptp(s, axis=0).max() < _SMALL and len(strokes) > 1]
    body = [s for s in strokes if not any(s is t for t in small)]
    out = []
    for s in body:
        if out and np.hypot(*(out[-1][-1] - s[0])) < _JOIN:
            out[-1] = np.concatenate([out[-1], s[1:]])
        else:
            out.append(s)
    return out + small


def _densify(s: np.ndarray, spacing: float) -> np.ndarray:
    d = np.hypot(*np.diff(s, axis=0).T)
    arc = np.concatenate([[0.0], np.cumsum(d)])
    if arc[-1] == 0:
        return s[:1]
    at = np.linspace(0, arc[-1], max(2, int(arc[-1] / spacing) + 1))
    keep = np.concatenate([[True], d > 0])
    return np.stack([np.interp(at, arc[keep], s[keep, k]) for k in range(2)], axis=1)


def synthesize(text: str, seed: int = 0, font: str | None = None, variation: float = 1.0) -> Ink:
    """One handwritten-looking ``text`` from a writer drawn by ``seed`` (``variation`` 0 gives the plain font)."""
    rng = np.random.default_rng(seed)
    font = font or FONTS[int(rng.integers(len(FONTS)))]
    strokes = _joined(glyph_strokes(text, font))
    v = float(variation)
    slant = rng.normal(0.2, 0.15) * v
    sx, sy = np.exp(rng.normal(0, 0.12, 2) * v)
    spacing = 0.4 * np.exp(rng.normal(0, 0.3) * v)
    width = max(np.ptp(np.concatenate(strokes)[:, 0]), 1.0)
    phases, amps = rng.uniform(0, 2 * np.pi, 4), rng.normal(0, 0.5, 4) * v
    out = []
    for s in strokes:
        p = _densify(s, spacing)
        u = p[:, 0] / width
        warp_x = amps[0] * np.sin(2 * np.pi * u + phases[0]) + amps[1] * np.sin(4 * np.pi * u + phases[1])
        warp_y = amps[2] * np.sin(2 * np.pi * u + phases[2]) + amps[3] * np.sin(3 * np.pi * u + phases[3])
        x = (p[:, 0] + slant * p[:, 1] + warp_x) * sx
        y = (p[:, 1] + warp_y) * sy
        jitter = rng.normal(0, 0.08 * v, (len(p), 2))
        out.append(np.stack([x, y], axis=1) + jitter)
    return Ink(out, text)
