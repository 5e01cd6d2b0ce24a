"""Metrics of a run: one JSON line per evaluation, and TensorBoard scalars when it is installed."""
import json
from pathlib import Path

from ..atomic import atomic_write


class MetricsLog:
    """Appends records to ``directory/metrics.jsonl``; mirrors numbers to TensorBoard if available."""

    def __init__(self, directory: Path | None, history: list[dict]):
        self.path = None if directory is None else Path(directory) / "metrics.jsonl"
        self.board = None
        if self.path is not None:
            # a resumed run starts from its checkpoint's history: lines written after it are dropped
            atomic_write(self.path, "".join(json.dumps(r) + "\n" for r in history))
            self.board = _tensorboard(Path(directory) / "tensorboard")

    def write(self, record: dict) -> None:
        if self.path is None:
            return
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
        if self.board is not None:
            for key, value in record.items():
                if key != "step" and isinstance(value, (int, float)):
                    self.board.add_scalar(key, value, record["step"])
            self.board.flush()

    def close(self) -> None:
        if self.board is not None:
            self.board.close()


def _tensorboard(directory: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is an optional extra
        return None
    return SummaryWriter(str(directory))
