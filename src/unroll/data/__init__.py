"""Data: task generators (each with its loss, metrics and success criterion) and readers."""
from . import longlag
from .recall import MarkedRecall
from .store_recall import StoreRecall
from .task import TASKS, Task, make_task, register_task
from .timer import Timer

__all__ = ["longlag", "MarkedRecall", "StoreRecall", "TASKS", "Task", "Timer", "make_task", "register_task"]
