"""The benchmark's view of the tasks: checking a name, building the task at a length T, mixing lengths."""
import inspect

import torch

from ...data.task import TASKS, Task, make_task

LENGTH_ARGUMENTS = ("length", "lag")   # the first of these a task's constructor takes receives T


def check_task(name: str) -> None:
    """A ValueError listing the known tasks unless ``name`` is one."""
    known = sorted(TASKS)
    if name not in known:
        raise ValueError(f"task: expected one of {', '.join(known)}, got {name!r}")
    _length_argument(name)


def _length_argument(name: str) -> str:
    parameters = inspect.signature(TASKS[name]).parameters
    for argument in LENGTH_ARGUMENTS:
        if argument in parameters:
            return argument
    raise ValueError(f"task: {name!r} takes no length argument ({' or '.join(LENGTH_ARGUMENTS)}), "
                     f"so the benchmark cannot set its T")


def build_task(name: str, T: int) -> Task:
    """The task ``name`` at length ``T`` (passed as its ``length`` or, for store_recall, ``lag``)."""
    check_task(name)
    return make_task(name, **{_length_argument(name): T})


class LengthMixture(Task):
    """Training batches of the task ``name`` at a length drawn per batch, uniformly from {low, ..., high - 1}
    (Pascanu et al. 2013 trained on T ~ U[50, 200) and tested at longer T). Loss and metrics are the task's."""

    def __init__(self, name: str, low: int, high: int):
        if not 1 <= low < high:
            raise ValueError(f"lengths: expected 1 <= low < high, got [{low}, {high})")
        self.low, self.high, self._task = low, high, name
        first = self._first = build_task(name, low)
        self.name = f"{name}@[{low},{high})"
        self.input_size, self.output_size = first.input_size, first.output_size
        self.target_batch_dim, self.unit_interval_targets = first.target_batch_dim, first.unit_interval_targets

    def batch(self, size, generator):
        T = self.low + int(torch.randint(self.high - self.low, (1,), generator=generator))
        return build_task(self._task, T).batch(size, generator)

    def loss(self, output, target):
        return self._first.loss(output, target)

    def metrics(self, output, target):
        return self._first.metrics(output, target)

    def solved(self, metrics):
        return self._first.solved(metrics)


def length_mixture(name: str, T: int, fractions: tuple[float, float]) -> LengthMixture:
    """Training lengths [a T, b T) for ``fractions`` (a, b), the lower end raised to the shortest length the
    task accepts."""
    low, high = (max(1, round(f * T)) for f in fractions)
    low = next(L for L in range(low, T + 1) if _accepts(name, L))
    return LengthMixture(name, low, max(high, low + 1))


def _accepts(name: str, T: int) -> bool:
    try:
        build_task(name, T)
    except ValueError:
        return False
    return True
