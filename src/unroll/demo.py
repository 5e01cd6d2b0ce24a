"""The demo: a small LSTM learns to recall one marked bit across a noisy sequence (``data.MarkedRecall``).

It is ``fit`` on the recall task with fixed settings: the loss falls and the held-out accuracy rises
from chance (50%) to near 100% in a few seconds.
"""
import torch

from .checks import positive_int
from .data import MarkedRecall
from .train import FitConfig, FitResult, build_model, fit

EVAL_SIZE = 1024


def run(steps: int = 500, seed: int = 0, *, quiet: bool = False) -> FitResult:
    """Train an LSTM(2, 16) with a linear readout by Adam for ``steps`` batches of 64 sequences of 20 steps;
    ten evaluations on ``EVAL_SIZE`` held-out sequences are printed (unless ``quiet``) and returned."""
    positive_int("steps", steps)
    torch.manual_seed(seed)
    model = build_model("lstm", MarkedRecall.input_size, MarkedRecall.output_size, hidden_size=16)
    config = FitConfig(steps=steps, batch_size=64, lr=1e-2, eval_every=max(1, steps // 10),
                       eval_size=EVAL_SIZE, stop_when_solved=False, seed=seed)
    return fit(model, MarkedRecall(length=20), config, quiet=quiet)
