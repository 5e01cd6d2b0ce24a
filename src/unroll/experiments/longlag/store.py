"""The benchmark's store: one JSON line per finished cell, appended durably, read back to skip finished cells.

A cell is (task, length, method, seed, budget, keep_training). Each line is written whole, flushed and fsynced before
the next cell is recorded, so a killed run loses only the cells in flight. A truncated last line (a kill
in the middle of a write) is cut off and reported when the store is opened; any other unreadable line
is an error.
"""
import json
import os
from pathlib import Path

KEY = ("task", "length", "method", "seed", "budget")


def cell_key(record: dict) -> tuple:
    """The identity of a cell: its (task, length, method, seed, budget, keep_training)."""
    return tuple(record[k] for k in KEY) + (bool(record.get("keep_training")),)


class Store:
    """The JSON-lines file at ``path``: ``records`` (finished cells, in order), ``dropped`` (bytes of a
    truncated last line that was cut off when opening, 0 if none), ``append(record)``."""

    def __init__(self, path):
        self.path = Path(path)
        self.records: list[dict] = []
        self.dropped = 0
        if self.path.exists():
            self._read()

    def _read(self) -> None:
        data = self.path.read_bytes()
        complete = data.rfind(b"\n") + 1      # everything after the last newline is a partial write
        lines = data[:complete].decode("utf-8").splitlines()
        tail = data[complete:]
        if lines and not tail:                 # the last line may be complete but cut inside (no JSON)
            try:
                json.loads(lines[-1])
            except json.JSONDecodeError:
                tail = (lines.pop() + "\n").encode("utf-8")
                complete -= len(tail)
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                cell_key(record)
            except (json.JSONDecodeError, KeyError, TypeError):
                raise ValueError(f"store: {self.path} line {number} is not a finished cell "
                                 f"(expected a JSON object with {', '.join(KEY)}): {line[:60]!r}") from None
            self.records.append(record)
        if tail:
            self.dropped = len(tail)
            with open(self.path, "r+b") as f:   # cut the partial line so appends start on a fresh one
                f.truncate(complete)
                f.flush()
                os.fsync(f.fileno())

    def finished(self) -> set[tuple]:
        return {cell_key(r) for r in self.records}

    def append(self, record: dict) -> None:
        """Write ``record`` as one line, flushed and fsynced."""
        cell_key(record)
        line = json.dumps(record, sort_keys=True, allow_nan=False) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        self.records.append(record)
