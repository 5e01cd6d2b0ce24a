"""Atomic file writes: a reader sees the old file or the complete new one, never a part, even after a crash.

The data goes to a uniquely named temporary file beside the target (``<name>.<random>.tmp``), is flushed and
fsynced, renamed onto the target with ``os.replace``, and the directory is fsynced so the rename survives a power
loss. On any exception (KeyboardInterrupt included) the temporary file is removed and the target is untouched.
"""
import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write", "atomic_writer", "fsync_directory"]

_UMASK = os.umask(0o022)
os.umask(_UMASK)


def fsync_directory(directory) -> None:
    """Flush a directory's entries (renames, deletions) to disk; a no-op where the OS cannot open directories."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_writer(path, mode: str = "wb"):
    """Context manager giving a file object (``mode`` "wb" or "w", UTF-8) whose content replaces ``path`` atomically
    when the ``with`` block ends without an exception; on an exception nothing at ``path`` changes."""
    if mode not in ("wb", "w"):
        raise ValueError(f"mode: expected 'wb' or 'w', got {mode!r}")
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    replaced = False
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the usual permissions of a new file
        with os.fdopen(fd, mode, **({"encoding": "utf-8"} if mode == "w" else {})) as f:
            fd = None  # owned by f now
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        replaced = True
    finally:
        if fd is not None:
            os.close(fd)
        if not replaced:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    fsync_directory(path.parent)


def atomic_write(path, data: bytes | str) -> None:
    """Write ``data`` (bytes, or str as UTF-8) to ``path`` atomically: the old file or the new one, never a part."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    elif not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data: expected bytes or str, got {type(data).__name__}")
    with atomic_writer(path, "wb") as f:
        f.write(data)
