"""Rendering ink: each word's pen-down strokes, with its label (if any) as the title."""
import math

from .figures import new_figure, save


def draw_ink(words: list, path, columns: int = 3, titles: list | None = None) -> None:
    """Draw a list of Ink (at most 60) in a grid to ``path`` (PNG), titled by ``titles`` (default: labels)."""
    if not words:
        raise ValueError("words: expected at least one word to draw")
    words = words[:60]
    cols = min(columns, len(words))
    rows = math.ceil(len(words) / cols)
    fig, axes = new_figure(rows, cols, width=3.2 * cols, height=1.8)
    for ax in axes.flat[len(words):]:
        ax.set_visible(False)
    titles = titles or [ink.label if ink.label is not None else "(unlabelled)" for ink in words]
    for ax, ink, title in zip(axes.flat, words, titles):
        for s in ink.strokes:
            ax.plot(s[:, 0], s[:, 1], "k-", lw=1.2)
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_title(title)
        ax.set_xlabel("x (file units)")
        ax.set_ylabel("y (up)")
    save(fig, path)
