"""Building the C++ extension: a failed build is recorded once and falls back at once; stale locks go.

These run with or without a compiler (the build is replaced by stubs)."""
import os
import time
import warnings

import pytest
from torch.utils import cpp_extension

from unroll.time import native

COMPILER_OUTPUT = ("Error building extension 'unroll_native': [1/2] c++ -std=c++17 -c recurrence.cpp\n"
                   "recurrence.cpp:61:15: error: 'bit_cast' is not a member of 'std'\n"
                   "ninja: build stopped: subcommand failed.")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fresh cache directory and a fresh record of this process's build attempt."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("UNROLL_NATIVE", raising=False)
    monkeypatch.setattr(native, "_state", {})
    return tmp_path


def _failing_build(*args, **kwargs):
    raise RuntimeError(COMPILER_OUTPUT)


def test_a_failed_build_is_recorded_and_not_tried_again(cache, monkeypatch):
    monkeypatch.setattr(cpp_extension, "load", _failing_build)
    with pytest.warns(RuntimeWarning) as caught:
        assert not native.available()
    (message,) = [str(w.message) for w in caught]
    record = native._build_directory() / native.FAILED
    assert "'bit_cast' is not a member of 'std'" in message and str(record) in message
    assert len(message.splitlines()) == 1                       # one line, the full output is in the record
    assert COMPILER_OUTPUT in record.read_text()

    def no_build(*args, **kwargs):
        raise AssertionError("a recorded failure was compiled again")
    monkeypatch.setattr(cpp_extension, "load", no_build)
    monkeypatch.setattr(native, "_state", {})                   # as a new process
    with pytest.warns(RuntimeWarning, match="the build failed before"):
        assert not native.available()


def test_build_tries_again_and_a_success_clears_the_record(cache, monkeypatch, capsys):
    monkeypatch.setattr(cpp_extension, "load", _failing_build)
    with pytest.raises(RuntimeError, match="bit_cast"):
        native._compile()
    record = native._build_directory() / native.FAILED
    assert record.exists()
    monkeypatch.setattr(cpp_extension, "load", lambda *args, **kwargs: None)   # the compiler was fixed
    assert native.build() == record.parent and not record.exists()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert native.available()


def test_the_summary_is_the_first_compiler_error():
    assert native._summary(COMPILER_OUTPUT) == "recurrence.cpp:61:15: error: 'bit_cast' is not a member of 'std'"
    assert native._summary("ninja not found\nmore") == "ninja not found"
    assert native._summary("") == "(no output)"


def test_a_killed_builds_stale_lock_is_removed_and_a_fresh_one_kept(tmp_path):
    lock = tmp_path / "lock"
    lock.touch()
    native._remove_stale_lock(tmp_path)
    assert lock.exists()                                     # another process may be building right now
    old = time.time() - native.STALE_LOCK_S - 1
    os.utime(lock, (old, old))
    native._remove_stale_lock(tmp_path)
    assert not lock.exists()
    native._remove_stale_lock(tmp_path)                      # no lock: nothing to do
