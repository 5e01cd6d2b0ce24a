"""Training checkpoints: tensors in a safetensors file, metadata in a JSON file written last as the commit marker.

The checkpoint of step N is ``ckpt-0000000N.safetensors`` plus ``ckpt-0000000N.json``; it exists iff its JSON
exists. Both files are written atomically (temp file, fsync, rename), so a kill at any moment leaves every committed
checkpoint readable, plus at worst stray files that the next save removes. One writer per directory.
"""
import hashlib
import json
import re
import time
from pathlib import Path

import safetensors.torch
import torch

from ..atomic import atomic_write, fsync_directory
from ..checks import int_at_least

__all__ = ["CheckpointError", "save_checkpoint", "list_checkpoints", "latest_checkpoint", "load_checkpoint"]

FORMAT, VERSION = "unroll-checkpoint", 1
_JSON = re.compile(r"ckpt-(\d+)\.json")
_TENSORS = re.compile(r"ckpt-(\d+)\.safetensors")


class CheckpointError(ValueError):
    """A checkpoint that cannot be read; the message is one line, ``<file>: <what is wrong>``."""


def _error(path, what) -> CheckpointError:
    return CheckpointError(" ".join(f"{path}: {what}".split()))


def _check_json(value, where, parents=()):
    """Raise TypeError naming the key path of the first value JSON cannot hold unchanged."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return
    if id(value) in parents:
        raise ValueError(f"{where}: circular reference")
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"{where}: JSON keys must be str, got {type(k).__name__} key {k!r}")
            _check_json(v, f"{where}[{k!r}]", parents + (id(value),))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_json(v, f"{where}[{i}]", parents + (id(value),))
    else:
        raise TypeError(f"{where}: {type(value).__name__} is not JSON-serialisable (use str, int, float, bool, "
                        "None, list or dict; e.g. .item() or .tolist() for tensors)")


def save_checkpoint(directory, step: int, tensors: dict[str, torch.Tensor], meta: dict,
                    keep_last: int = 3) -> Path:
    """Write the checkpoint of ``step`` into ``directory`` and return its JSON path; then keep only the newest
    ``keep_last`` checkpoints by step (always including this one) and remove stray temp and orphan tensor files."""
    int_at_least("step", step, 0)
    int_at_least("keep_last", keep_last, 1)
    if not isinstance(tensors, dict):
        raise TypeError(f"tensors: expected a dict of str to torch.Tensor, got {type(tensors).__name__}")
    for name, t in tensors.items():
        if not isinstance(name, str) or not isinstance(t, torch.Tensor):
            raise TypeError(f"tensors: expected str -> torch.Tensor, got {type(name).__name__} {name!r} -> "
                            f"{type(t).__name__}")
    if not isinstance(meta, dict):
        raise TypeError(f"meta: expected a dict, got {type(meta).__name__}")
    _check_json(meta, "meta")

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    started = time.time()
    stem = f"ckpt-{step:08d}"
    json_path, tensors_path = directory / f"{stem}.json", directory / f"{stem}.safetensors"
    # Contiguous CPU copies: safetensors refuses views that share storage.
    blob = safetensors.torch.save({k: t.detach().cpu().clone(memory_format=torch.contiguous_format)
                                   for k, t in tensors.items()})
    doc = {"format": FORMAT, "version": VERSION, "step": step, "tensors_file": tensors_path.name,
           "sha256": hashlib.sha256(blob).hexdigest(), "meta": meta}
    text = json.dumps(doc, sort_keys=True, indent=1) + "\n"
    if json_path.exists():  # re-saving a step: uncommit the old one before its tensors change
        json_path.unlink()
        fsync_directory(directory)
    atomic_write(tensors_path, blob)
    atomic_write(json_path, text)  # the commit
    _prune(directory, json_path, keep_last, started)
    return json_path


def _prune(directory: Path, current: Path, keep_last: int, started: float) -> None:
    others = [p for p in list_checkpoints(directory) if p != current]
    doomed = others[:max(0, len(others) - (keep_last - 1))]
    for p in doomed:  # JSON first: a kill in between leaves an orphan, never a JSON without its tensors
        p.unlink(missing_ok=True)
        p.with_suffix(".safetensors").unlink(missing_ok=True)
    committed = {p.stem for p in list_checkpoints(directory)}
    for p in directory.iterdir():
        try:
            if _TENSORS.fullmatch(p.name) and p.stem not in committed:
                p.unlink()  # orphan: killed between the two writes, or while pruning
            elif p.name.startswith("ckpt-") and p.name.endswith(".tmp") and p.stat().st_mtime < started:
                p.unlink()  # left by a killed writer
        except OSError:
            pass


def list_checkpoints(directory) -> list[Path]:
    """JSON paths of the committed checkpoints in ``directory``, oldest step first ([] if it does not exist)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [(int(m[1]), p) for p in directory.iterdir() if (m := _JSON.fullmatch(p.name)) and p.is_file()]
    return [p for _, p in sorted(found)]


def latest_checkpoint(directory) -> Path | None:
    """JSON path of the committed checkpoint with the highest step in ``directory``, or None."""
    found = list_checkpoints(directory)
    return found[-1] if found else None


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise _error(path, f"{what} missing") from None
    except OSError as e:
        raise _error(path, f"cannot read {what} ({e.strerror or e})") from None


def load_checkpoint(path) -> tuple[dict[str, torch.Tensor], dict]:
    """(tensors, meta) of a checkpoint given by its .json, its .safetensors, or a directory (its latest checkpoint).

    Checks format, version and the tensors' sha256; reads only JSON and safetensors (never a pickle).
    Raises CheckpointError with a one-line message starting with the offending file."""
    path = Path(path)
    if path.is_dir():
        latest = latest_checkpoint(path)
        if latest is None:
            raise _error(path, "no checkpoints in this directory (no ckpt-*.json)")
        path = latest
    elif path.suffix == ".safetensors":
        if not path.with_suffix(".json").is_file():
            raise _error(path, f"no {path.with_suffix('.json').name} beside it (checkpoint not committed, "
                               "or not an unroll checkpoint)")
        path = path.with_suffix(".json")
    raw = _read(path, "checkpoint file")
    if raw[:1] == b"\x80" or raw[:4] == b"PK\x03\x04":
        raise _error(path, "not an unroll checkpoint (looks like a torch.save/pickle file; unroll never "
                           "unpickles files)")
    try:
        doc = json.loads(raw)
    except ValueError:
        raise _error(path, "not valid JSON (truncated or corrupted?)") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise _error(path, "not an unroll checkpoint")
    if type(doc.get("version")) is not int or doc["version"] != VERSION:
        raise _error(path, f"checkpoint format version {doc.get('version')!r}, this unroll reads {VERSION}")
    for key, kind in (("tensors_file", str), ("sha256", str), ("meta", dict)):
        if not isinstance(doc.get(key), kind):
            raise _error(path, f"malformed checkpoint: {key!r} missing or not a {kind.__name__}")
    name = doc["tensors_file"]
    if Path(name).name != name or name in ("", ".", ".."):
        raise _error(path, f"malformed checkpoint: tensors_file {name!r} is not a plain file name")
    tensors_path = path.parent / name
    blob = _read(tensors_path, "tensor file")
    if hashlib.sha256(blob).hexdigest() != doc["sha256"]:
        raise _error(tensors_path, "tensor data corrupted (checksum mismatch)")
    try:
        tensors = safetensors.torch.load(blob)
    except Exception as e:  # safetensors raises its own error types
        raise _error(tensors_path, f"tensor data unreadable by safetensors ({type(e).__name__}: {e})") from None
    return tensors, doc["meta"]
