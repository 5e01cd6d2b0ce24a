"""atomic_write / atomic_writer: the target holds the old or the new content, and no temp file is left behind."""
import os

import pytest
import torch

from unroll import atomic
from unroll.atomic import atomic_write, atomic_writer

torch.set_num_threads(1)


def test_atomic_write_bytes_and_str_leave_no_temp_files(tmp_path):
    target = tmp_path / "out.bin"
    atomic_write(target, b"\x00\x01old")
    assert target.read_bytes() == b"\x00\x01old"
    atomic_write(target, "névé\n")
    assert target.read_bytes() == "névé\n".encode("utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]
    assert target.stat().st_mode & 0o777 == 0o666 & ~atomic._UMASK


def test_atomic_write_of_wrong_type_changes_nothing(tmp_path):
    target = tmp_path / "out.txt"
    atomic_write(target, "old")
    with pytest.raises(TypeError, match="data: expected bytes or str, got int"):
        atomic_write(target, 42)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_exception_inside_atomic_writer_keeps_old_file(tmp_path, exc):
    target = tmp_path / "big.bin"
    atomic_write(target, b"old")
    with pytest.raises(exc):
        with atomic_writer(target) as f:
            f.write(b"x" * 100_000)
            raise exc("interrupted half way")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.bin"]


def test_failing_fsync_or_replace_keeps_old_file(tmp_path, monkeypatch):
    target = tmp_path / "t.json"
    atomic_write(target, "{}")
    for name in ("fsync", "replace"):
        with monkeypatch.context() as m:
            def boom(*args, **kwargs):
                raise OSError(28, "No space left on device")
            m.setattr(os, name, boom)
            with pytest.raises(OSError, match="No space left"):
                atomic_write(target, '{"new": 1}')
        assert target.read_text() == "{}"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["t.json"]


def test_atomic_writer_text_mode_and_new_file(tmp_path):
    target = tmp_path / "new.txt"
    with atomic_writer(target, "w") as f:
        for i in range(3):
            f.write(f"line {i}\n")
    assert target.read_text(encoding="utf-8") == "line 0\nline 1\nline 2\n"
    with pytest.raises(ValueError, match="mode: expected 'wb' or 'w'"):
        with atomic_writer(target, "a"):
            pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.txt"]
