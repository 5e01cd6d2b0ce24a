"""Marked recall: remember the one bit a marker flags, and say it at the last step."""
import torch
from torch.nn import functional as F

from ..checks import int_at_least
from .task import Task, register_task


class MarkedRecall(Task):
    """Every step carries a noisy random bit (+-1 plus Gaussian noise); a marker channel is 1 at one step
    in the first half. At the last step the model must output the marked bit (one logit).

    x: (length, B, 2) = [noisy bit, marker]; target: (B,) in {0., 1.}. Chance is 50%: the answer
    lies length/2 to length-1 steps back, and every later step is a distractor.
    """
    name = "recall"
    input_size, output_size = 2, 1

    def __init__(self, length: int = 20, noise: float = 0.3, solved_at: float = 0.99):
        int_at_least("length", length, 2)
        self.length, self.noise, self.solved_at = length, noise, solved_at

    def batch(self, size: int, generator: torch.Generator):
        bits = torch.randint(0, 2, (self.length, size), generator=generator)
        marked = torch.randint(0, self.length // 2, (size,), generator=generator)
        x = torch.zeros(self.length, size, 2)
        x[..., 0] = 2.0 * bits - 1 + self.noise * torch.randn(self.length, size, generator=generator)
        rows = torch.arange(size)
        x[marked, rows, 1] = 1.0
        return x, bits[marked, rows].float()

    def loss(self, output, target):
        return F.binary_cross_entropy_with_logits(output[-1, :, 0], target)

    def metrics(self, output, target):
        return {"accuracy": ((output[-1, :, 0] > 0).float() == target).float().mean().item()}

    def solved(self, metrics):
        return metrics["accuracy"] >= self.solved_at


register_task("recall", MarkedRecall)
