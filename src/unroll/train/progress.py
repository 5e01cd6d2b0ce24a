"""What a run shows while it trains: a live progress bar on a terminal, plain lines otherwise."""
import sys
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


class RunProgress:
    """Progress of ``total`` steps with loss, a metric and sequences/s.

    On a terminal: a rich progress bar. Otherwise (a pipe, a log file): one line per evaluation.
    ``quiet``: nothing at all.
    """

    def __init__(self, total: int, start: int = 0, quiet: bool = False, label: str = "training"):
        self.quiet = quiet
        self.console = Console(file=sys.stdout)
        self.live = not quiet and self.console.is_terminal
        self.bar = None
        if self.live:
            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("{task.fields[status]}"), TimeRemainingColumn(),
                                console=self.console, transient=False)
            self.task = self.bar.add_task(label, total=total, completed=start, status="")
            self.bar.start()
        self.t0 = time.perf_counter()

    def step(self, step: int, status: str = "") -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=step, status=status)

    def report(self, line: str) -> None:
        """An evaluation's line: printed above a live bar, or alone when not on a terminal."""
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.console.print(line, highlight=False)
        else:
            print(line, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
