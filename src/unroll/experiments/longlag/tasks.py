"""The benchmark's view of the tasks: checking a name and building the task at a length T."""
import inspect

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
