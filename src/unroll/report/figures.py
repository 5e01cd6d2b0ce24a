"""Figures for the experiments: matplotlib on the Agg backend, one house style, PNG files."""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ..atomic import atomic_writer  # noqa: E402

TRUTH, MODEL = "tab:blue", "tab:orange"   # ground truth in blue, the network's output in orange
STYLE = {"figure.dpi": 110, "font.size": 10, "axes.titlesize": 11, "legend.frameon": False}


def new_figure(rows: int = 1, cols: int = 1, width: float = 7.5, height: float = 3.2, **kwargs):
    """(figure, axes) in the house style; height is per row."""
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(rows, cols, figsize=(width, height * rows), squeeze=False, **kwargs)
    for ax in axes.flat:
        ax.grid(True, alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
    return fig, (axes[0, 0] if rows == cols == 1 else axes)


def save(fig, path: Path) -> Path:
    """Write fig as PNG atomically and close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    with atomic_writer(path, "wb") as f:
        fig.savefig(f, format="png")
    plt.close(fig)
    return path
