"""Store and recall: keep a real value from a write cue to a read cue ``lag`` steps later."""
import torch

from ..checks import positive_int
from .task import Task, register_task


class StoreRecall(Task):
    """Three inputs per step: a value, a write cue and a read cue. The value channel carries a fresh
    uniform(-1, 1) distractor at every step, except at the write step, drawn uniformly from the first
    ``write_window`` steps, where it carries the value to store (also uniform(-1, 1)) and the write
    cue is 1. The read cue is 1 exactly ``lag`` steps later; there the model must output the stored
    value. No other step has a target.

    x: (lag + write_window, B, 3) = [value, write cue, read cue]; target: (T, B, 2) = [stored value
    at the read step (0 elsewhere), 1 at the read step (0 elsewhere)], per step (target_batch_dim 1).
    Loss: the squared error at the read step, averaged over sequences (predicting 0 scores 1/3).
    Solved: at least ``solved_at`` of the sequences recalled within ``tolerance``.
    After the LSTM memory example of Hochreiter & Schmidhuber (1997).
    """
    name = "store_recall"
    input_size, output_size = 3, 1
    target_batch_dim = 1
    citation = 'S. Hochreiter and J. Schmidhuber, "Long short-term memory", Neural Computation 9(8), 1997'

    def __init__(self, lag: int = 100, write_window: int = 10, tolerance: float = 0.1,
                 solved_at: float = 0.95):
        positive_int("lag", lag)
        positive_int("write_window", write_window)
        if not tolerance > 0:
            raise ValueError(f"tolerance: expected a positive number, got {tolerance!r}")
        if not 0 < solved_at <= 1:
            raise ValueError(f"solved_at: expected a fraction in (0, 1], got {solved_at!r}")
        self.lag, self.write_window = lag, write_window
        self.tolerance, self.solved_at = tolerance, solved_at

    @property
    def length(self) -> int:
        return self.lag + self.write_window

    def batch(self, size: int, generator: torch.Generator):
        T, rows = self.length, torch.arange(size)
        write = torch.randint(0, self.write_window, (size,), generator=generator)
        read = write + self.lag
        stored = torch.rand(size, generator=generator) * 2 - 1
        x = torch.zeros(T, size, 3)
        x[..., 0] = torch.rand(T, size, generator=generator) * 2 - 1
        x[write, rows, 0] = stored
        x[write, rows, 1] = 1.0
        x[read, rows, 2] = 1.0
        target = torch.zeros(T, size, 2)
        target[read, rows, 0] = stored
        target[read, rows, 1] = 1.0
        return x, target

    def loss(self, output, target):
        value, at_read = target.unbind(-1)
        return ((output[..., 0] - value) ** 2 * at_read).sum() / target.shape[1]

    def recall_errors(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Output minus stored value at each sequence's read step, (B,)."""
        value, at_read = target.unbind(-1)
        return ((output[..., 0] - value) * at_read).sum(0)

    def metrics(self, output, target):
        errors = self.recall_errors(output, target).abs()
        return {"mean_abs_error": errors.mean().item(),
                "within_tolerance": (errors < self.tolerance).float().mean().item()}

    def solved(self, metrics):
        return metrics["within_tolerance"] >= self.solved_at


register_task("store_recall", StoreRecall)
