"""The Task interface that ``fit`` trains on, and the registry the command line picks tasks from."""
from collections.abc import Callable

import torch
from torch.nn import functional as F


class Task:
    """A source of sequences with its loss, metrics and success criterion.

    Subclasses set ``name``, ``input_size``, ``output_size`` and implement ``batch``, ``loss`` and
    ``metrics``; ``solved`` says when the task's published success criterion holds.
    """
    name: str = "task"
    input_size: int
    output_size: int
    citation: str = ""
    target_batch_dim: int = 0   # the dimension of the target that indexes sequences
    unit_interval_targets: bool = False     # targets are values in [0, 1] that the loss compares with the
    #                                         outputs as they are, so logistic output units fit them

    def batch(self, size: int, generator: torch.Generator):
        """``size`` fresh sequences: (x (T, size, input_size), target), target in the task's own form."""
        raise NotImplementedError

    def loss(self, output: torch.Tensor, target) -> torch.Tensor:
        """Scalar training loss of a model's output (T, B, output_size), averaged over the batch."""
        raise NotImplementedError

    def metrics(self, output: torch.Tensor, target) -> dict[str, float]:
        """Named task metrics (e.g. accuracy) of an output; ``loss`` is added by ``fit``."""
        return {}

    def solved(self, metrics: dict[str, float]) -> bool:
        """Whether the metrics meet the task's success criterion."""
        return False


class ClassifiedAtTheEnd(Task):
    """A softmax class read at the last step: target (B,) long; cross-entropy there; a sequence is wrong when
    the argmax is not its class (metrics error_rate and accuracy)."""

    def loss(self, output, target):
        return F.cross_entropy(output[-1], target)

    def metrics(self, output, target):
        wrong = fraction(output[-1].argmax(-1) != target)
        return {"error_rate": wrong, "accuracy": 1.0 - wrong}


def fraction(mask: torch.Tensor) -> float:
    """The share of True entries, counted exactly (a float32 mean makes 20/2000 fall below 0.01)."""
    return mask.sum().item() / mask.numel()


def shard(t: torch.Tensor, rank: int, world: int, dim: int) -> torch.Tensor:
    """Rank ``rank``'s contiguous block of ``world`` equal blocks of t along ``dim``."""
    size = t.shape[dim] // world
    return t.narrow(dim, rank * size, size)


TASKS: dict[str, Callable[..., Task]] = {}


def register_task(name: str, factory: Callable[..., Task]) -> None:
    """Make a task available to ``make_task`` and the command line under ``name``."""
    TASKS[name] = factory


def make_task(name: str, **options) -> Task:
    """The registered task ``name`` built with ``options`` (e.g. length=100)."""
    if name not in TASKS:
        raise ValueError(f"task: expected one of {', '.join(sorted(TASKS))}, got {name!r}")
    return TASKS[name](**options)
