"""Temporal order in the variant of Pascanu, Mikolov & Bengio 2013's released code (tempOrder.py).

Spec: shared/specs/longlag.md, "Pascanu, Mikolov & Bengio 2013" (paper + code). ``length`` is the length
L of every sequence of a batch (their generator takes it per batch; the methods that follow the paper
draw it per batch from U[T/4, T), their U[50, 200) at T = 200, with ``LengthMixture``). Unlike the 2011
variant there are no start or "answer now" symbols and the marker windows scale with L itself.
"""
import torch
from torch.nn import functional as F

from ...checks import int_at_least
from ..task import ClassifiedAtTheEnd, register_task

CITATION = ('R. Pascanu, T. Mikolov and Y. Bengio, "On the difficulty of training recurrent neural networks", '
            'ICML 2013 (the authors\' released code, tempOrder.py)')
SOLVED_BELOW = 0.01          # the paper: fewer than 1% of 10,000 fresh sequences wrong


class TemporalOrder2013(ClassifiedAtTheEnd):
    """Temporal order, 2 bits (4 classes), Pascanu et al. 2013 code variant.

    x: (L, B, 6) one-hot symbols: A (0) or B (1) at p0 ~ U{L//10 .. 2 (L//10) - 1} and at
    p1 ~ U{L//2 .. L//2 + L//10 - 1} (their int(0.1 L) and int(0.5 L) in integers), distractors
    U{2..5} elsewhere. target: (B,) long, the class v0 + 2 v1 (v = 0 for A, 1 for B). Softmax over 4
    classes read at the last step; loss = cross-entropy there (their mean over the batch); a sequence is
    wrong when the argmax is not its class. Solved (the paper): error_rate < 0.01.
    """
    name = "temporal-order-2013"
    citation = CITATION
    input_size, output_size = 6, 4
    min_length = 10

    def __init__(self, length: int = 200):
        int_at_least("length", length, self.min_length)
        self.length = length
        tenth, half = length // 10, length // 2
        self.windows = [(tenth, 2 * tenth - 1), (half, half + tenth - 1)]

    def batch(self, size, generator):
        L, rows = self.length, torch.arange(size)
        symbols = torch.randint(2, 6, (L, size), generator=generator)
        target = torch.zeros(size, dtype=torch.long)
        for weight, (first, last) in zip((1, 2), self.windows):
            where = torch.randint(first, last + 1, (size,), generator=generator)
            value = torch.randint(0, 2, (size,), generator=generator)
            symbols[where, rows] = value
            target += weight * value
        return F.one_hot(symbols, 6).float(), target

    def solved(self, metrics):
        """The paper's criterion: fewer than 1% of the evaluation sequences wrong."""
        return metrics["error_rate"] < SOLVED_BELOW


TASKS = (TemporalOrder2013,)
for _cls in TASKS:
    register_task(_cls.name, _cls)

PUBLISHED = [
    {"task": "temporal-order-2013", "length": 200, "method": "tanh RNN + SGD, clipping and Omega (Pascanu et al. 2013)",
     "figure": 1.0, "unit": "success rate over 5 seeds (trained on lengths 50-199)",
     "source": "Pascanu, Mikolov & Bengio 2013 (SGD-CR solved every task but random permutation, 5 of 5 seeds)"},
]
