"""Data: task generators (each with its loss, metrics and success criterion) and readers."""
from .recall import MarkedRecall
from .task import TASKS, Task, make_task, register_task

__all__ = ["MarkedRecall", "TASKS", "Task", "make_task", "register_task"]
