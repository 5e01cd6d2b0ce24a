"""The long-time-lag problems, each variant a Task named after its source (see shared/specs/longlag.md).

``LONGLAG_TASKS``: the registered variant names; ``PUBLISHED``: the papers' figures the benchmark
table puts beside ours (each a dict: task, length, method, figure, unit, source).
"""
from . import arjovsky2016, hochreiter1997, martens2011, pascanu2013

_MODULES = (hochreiter1997, martens2011, pascanu2013, arjovsky2016)
LONGLAG_TASKS = tuple(task.name for module in _MODULES for task in module.TASKS)
PUBLISHED = tuple(entry for module in _MODULES for entry in module.PUBLISHED)

__all__ = ["LONGLAG_TASKS", "PUBLISHED"]
