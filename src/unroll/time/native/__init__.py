"""C++ time loops of the fused LSTM and fully recurrent paths, of the 1997 LSTM's forward and of the sparse
reservoir (CPU, float32 and float64).

The same functions as ``unroll.time.lstm_recurrence``, ``unroll.time.rnn_recurrence``,
``unroll.time.memory_blocks_recurrence.forward`` and the numpy loop of ``unroll.reservoir.Reservoir``, compiled
on first use with ``torch.utils.cpp_extension`` into a per-user cache directory
(``$XDG_CACHE_HOME/unroll``, default ``~/.cache/unroll``) and called through ``torch.ops``.
Callers check ``available()`` and pass CPU tensors of one floating dtype. ``UNROLL_NATIVE=0`` in
the environment turns the extension off. A failed build is recorded in that directory (``build-failed.txt``, with
the compiler's output), so later processes fall back at once instead of compiling again; ``build()``
(``make setup``) always tries again.
"""
import hashlib
import os
import platform
import shutil
import sys
import threading
import time
import warnings
from pathlib import Path

import torch

from ...atomic import atomic_write

_NAME = "unroll_native"
_SOURCES = [Path(__file__).with_name("recurrence.cpp")]
_CFLAGS = ["-O3", "-march=native", "-ffp-contract=fast", "-fno-math-errno", "-fopenmp-simd"]

STALE_LOCK_S = 600
FAILED = "build-failed.txt"
_lock = threading.Lock()
_state: dict = {}  # "ok": bool once tried; "reason": why the build failed


def _build_directory() -> Path:
    """The cache directory for this source, compiler flags, CPU, torch and Python."""
    key = hashlib.sha256()
    for source in _SOURCES:
        key.update(source.read_bytes())
    key.update(" ".join(_CFLAGS).encode())
    key.update(os.environ.get("CXX", "c++").encode())
    key.update(f"{torch.__version__} {sys.version}".encode())
    key.update(_cpu_flags().encode())  # -march=native code runs only on a CPU like this one
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "unroll" / f"native-{key.hexdigest()[:16]}"


def _cpu_flags() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next((line for line in f if line.startswith(("flags", "Features"))), "")
    except OSError:
        return platform.processor()


def _compile(retry_failed: bool = False) -> Path:
    from torch.utils import cpp_extension

    if shutil.which("ninja") is None:
        # the ninja wheel's binary sits next to this interpreter's scripts, maybe not on PATH
        try:
            import ninja
            os.environ["PATH"] = ninja.BIN_DIR + os.pathsep + os.environ.get("PATH", "")
        except ImportError:
            pass
    directory = _build_directory()
    library = directory / f"{_NAME}.so"
    if library.exists():   # the directory's key names this source, these flags, this CPU, torch and Python
        try:
            torch.ops.load_library(str(library))
            return directory
        except OSError:    # a half-written library from a killed build: build it again
            pass
    failed = directory / FAILED
    if failed.exists() and not retry_failed:
        raise RuntimeError(f"{_summary(failed.read_text())} (the build failed before: {failed}; "
                           "`make setup` or native.build() tries again)")
    os.makedirs(directory, exist_ok=True)
    _remove_stale_lock(directory)
    try:
        cpp_extension.load(name=_NAME, sources=[str(s) for s in _SOURCES], extra_cflags=_CFLAGS,
                           build_directory=str(directory), is_python_module=False, verbose=False)
    except Exception as error:
        atomic_write(failed, f"{type(error).__name__}: {error}\n")
        raise RuntimeError(f"{_summary(str(error))} (compiler output: {failed})") from error
    failed.unlink(missing_ok=True)
    return directory


def _summary(log: str) -> str:
    """The line of a build log that says what went wrong: its first compiler error, else its first line."""
    lines = log.strip().splitlines() or ["(no output)"]
    return next((line.strip() for line in lines if "error:" in line), lines[0])[:300]


def _remove_stale_lock(directory: Path) -> None:
    """cpp_extension waits for ever on the lock file of a build that was killed; a build takes a minute or
    two, so a lock older than STALE_LOCK_S is left over from one and is removed."""
    lock = directory / "lock"
    try:
        if time.time() - lock.stat().st_mtime > STALE_LOCK_S:
            lock.unlink()
    except FileNotFoundError:
        pass


def _load() -> bool:
    with _lock:
        if "ok" not in _state:
            try:
                _compile()
                _state["ok"] = True
            except Exception as error:  # any failure means: use the torch loops
                _state["ok"] = False
                _state["reason"] = f"{type(error).__name__}: {error}"
                warnings.warn(f"unroll.time.native: C++ extension unavailable, using the torch "
                              f"loops ({_state['reason']})", RuntimeWarning, stacklevel=3)
        return _state["ok"]


def available() -> bool:
    """True when the extension is compiled and loaded (compiling it on the first call); False
    under ``UNROLL_NATIVE=0`` or when the build failed (with one warning naming why)."""
    if os.environ.get("UNROLL_NATIVE") == "0":
        return False
    return _state["ok"] if "ok" in _state else _load()


def build() -> Path:
    """Compile and load the extension now, print and return its directory; raises on failure."""
    with _lock:
        directory = _compile(retry_failed=True)
        _state["ok"] = True
    print(f"unroll native extension built in {directory}")
    return directory


def _clip(cell_clip):
    return None if cell_clip is None else float(cell_clip)


def lstm_forward(xproj, h0, c0, w_hh, peephole, mask, cell_clip):
    """As ``lstm_recurrence.forward``: returns hs, cs (T, B, H) and gates (T, B, 4H)."""
    return torch.ops.unroll_native.lstm_forward(xproj, h0, c0, w_hh, peephole, mask,
                                                _clip(cell_clip))


def lstm_backward(grad_hs, grad_cs, h0, c0, hs, cs, gates, w_hh, peephole, mask, cell_clip):
    """As ``lstm_recurrence.backward``: returns d_preact (T, B, 4H), dL/dh0 and dL/dc0 (B, H)."""
    return torch.ops.unroll_native.lstm_backward(grad_hs, grad_cs, h0, c0, hs, cs, gates, w_hh,
                                                 peephole, mask, _clip(cell_clip))


def rnn_forward(xproj, h0, w_hh, activation_codes, mask):
    """As ``rnn_recurrence.forward`` with activation_codes (N,) int64, indices into
    ``cells.activations.NAMES``: returns hs (T, B, N)."""
    return torch.ops.unroll_native.rnn_forward(xproj, h0, w_hh, activation_codes, mask)


def rnn_backward(grad_hs, h0, hs, w_hh, activation_codes, mask):
    """As ``rnn_recurrence.backward``: returns d_preact (T, B, N) and dL/dh0 (B, N)."""
    return torch.ops.unroll_native.rnn_backward(grad_hs, h0, hs, w_hh, activation_codes, mask)


def memory_blocks_forward(xproj, s0, c0, w_hh, cells_per_block, mask):
    """As ``memory_blocks_recurrence.forward``: returns ss (T, B, U), cs and gs (T, B, N)."""
    return torch.ops.unroll_native.memory_blocks_forward(xproj, s0, c0, w_hh, cells_per_block, mask)


def reservoir_forward_(drive, x0, crow, col, values, leak):
    """The leaky reservoir's loop in place on drive (T, B, N) from x0 (B, N): W in CSR (crow (N+1,), col and
    values (nnz,)), leak (N,); drive becomes the states."""
    torch.ops.unroll_native.reservoir_forward(drive, x0, crow, col, values, leak)
