"""Checkpoints: round trips, pruning, commit marker, corruption reported in one line, and atomicity under SIGKILL."""
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest
import torch

from unroll.train.checkpoint import (CheckpointError, latest_checkpoint, list_checkpoints, load_checkpoint,
                                     save_checkpoint)

torch.set_num_threads(1)


def _tensors():
    g = torch.Generator().manual_seed(0)
    base = torch.randn(4, 6, generator=g)
    return {
        "w": base,
        "w_t": base.t(),  # a non-contiguous view sharing base's storage
        "f64": torch.randn(3, dtype=torch.float64, generator=g),
        "i64": torch.arange(-5, 5, dtype=torch.int64),
        "mask": torch.tensor([True, False, True]),
        "scalar": torch.tensor(2.5),
        "empty": torch.zeros(0, 3),
    }


def _one_line_error(path, match):
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert "\n" not in message
    assert match in message, message
    return message


def test_round_trip_tensors_and_nested_meta(tmp_path):
    tensors = _tensors()
    meta = {"epoch": 3, "lr": 1e-3, "loss": float("nan"), "ok": True, "none": None,
            "history": [{"step": 1, "loss": [0.5, 0.25]}], "model": {"kind": "lstm", "sizes": [2, 8]}}
    path = save_checkpoint(tmp_path / "run", 7, tensors, meta)
    assert path == tmp_path / "run" / "ckpt-00000007.json"
    doc = json.loads(path.read_text())
    assert doc["format"] == "unroll-checkpoint" and doc["version"] == 1 and doc["step"] == 7
    assert doc["tensors_file"] == "ckpt-00000007.safetensors"
    for given in (path, path.with_suffix(".safetensors"), tmp_path / "run", str(path)):
        loaded, loaded_meta = load_checkpoint(given)
        assert loaded.keys() == tensors.keys()
        for k, t in tensors.items():
            assert loaded[k].dtype == t.dtype and loaded[k].shape == t.shape and torch.equal(loaded[k], t), k
        assert loaded_meta["history"] == meta["history"] and loaded_meta["model"] == meta["model"]
        assert loaded_meta["loss"] != loaded_meta["loss"]  # NaN survives
    assert not list((tmp_path / "run").glob("*.tmp"))


def test_meta_and_arguments_are_checked(tmp_path):
    t = {"w": torch.ones(2)}
    with pytest.raises(TypeError, match=r"meta\['opt'\]\['betas'\]\[1\]: Tensor is not JSON-serialisable"):
        save_checkpoint(tmp_path, 1, t, {"opt": {"betas": [0.9, torch.tensor(0.99)]}})
    with pytest.raises(TypeError, match=r"meta\['losses'\]: JSON keys must be str, got int"):
        save_checkpoint(tmp_path, 1, t, {"losses": {1: 0.5}})
    with pytest.raises(ValueError, match="keep_last: expected an int >= 1, got 0"):
        save_checkpoint(tmp_path, 1, t, {}, keep_last=0)
    with pytest.raises(ValueError, match="step: expected an int >= 0"):
        save_checkpoint(tmp_path, -1, t, {})
    with pytest.raises(TypeError, match="tensors: expected str -> torch.Tensor"):
        save_checkpoint(tmp_path, 1, {"w": [1.0]}, {})
    assert list(tmp_path.iterdir()) == []


def test_keep_last_prunes_oldest_and_latest_is_highest_step(tmp_path):
    for step in (5, 1, 30, 12, 200):
        save_checkpoint(tmp_path, step, {"step": torch.tensor(step)}, {"step": step}, keep_last=3)
    assert [p.name for p in list_checkpoints(tmp_path)] == [
        "ckpt-00000012.json", "ckpt-00000030.json", "ckpt-00000200.json"]
    assert len(list(tmp_path.glob("*.safetensors"))) == 3
    assert latest_checkpoint(tmp_path).name == "ckpt-00000200.json"
    assert load_checkpoint(tmp_path)[1] == {"step": 200}
    # Rewinding to an earlier step keeps the checkpoint just written.
    path = save_checkpoint(tmp_path, 20, {"step": torch.tensor(20)}, {"step": 20}, keep_last=2)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["ckpt-00000020.json", "ckpt-00000200.json"]
    assert load_checkpoint(path)[1] == {"step": 20}
    # Re-saving a step replaces it.
    save_checkpoint(tmp_path, 200, {"step": torch.tensor(-1)}, {"step": "again"}, keep_last=2)
    assert load_checkpoint(tmp_path)[1] == {"step": "again"}
    assert latest_checkpoint(tmp_path / "missing") is None and list_checkpoints(tmp_path / "missing") == []


def test_orphans_and_temp_files_are_ignored_then_cleaned(tmp_path):
    save_checkpoint(tmp_path, 1, {"a": torch.ones(3)}, {})
    (tmp_path / "ckpt-00000009.safetensors").write_bytes(b"half written, no JSON")
    stray = tmp_path / "ckpt-00000009.json.abc123.tmp"
    stray.write_bytes(b'{"form')
    os.utime(stray, (time.time() - 10, time.time() - 10))
    (tmp_path / "notes.txt").write_text("not ours")
    assert [p.name for p in list_checkpoints(tmp_path)] == ["ckpt-00000001.json"]
    assert latest_checkpoint(tmp_path).name == "ckpt-00000001.json"
    _one_line_error(tmp_path / "ckpt-00000009.safetensors", "no ckpt-00000009.json beside it")
    save_checkpoint(tmp_path, 2, {"a": torch.ones(3)}, {})
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "ckpt-00000001.json", "ckpt-00000001.safetensors", "ckpt-00000002.json", "ckpt-00000002.safetensors",
        "notes.txt"]


@pytest.fixture
def saved(tmp_path):
    path = save_checkpoint(tmp_path, 3, {"w": torch.arange(64, dtype=torch.float32)}, {"epoch": 1})
    return path, path.with_suffix(".safetensors")


def test_truncated_json(saved):
    path, _ = saved
    path.write_bytes(path.read_bytes()[:40])
    assert _one_line_error(path, "not valid JSON (truncated or corrupted?)").startswith(str(path))


def test_json_of_another_program(saved):
    path, _ = saved
    path.write_text('{"hello": 1}')
    assert _one_line_error(path, "not an unroll checkpoint").startswith(str(path))
    path.write_text("[1, 2]")
    _one_line_error(path, "not an unroll checkpoint")


def test_wrong_version(saved):
    path, _ = saved
    doc = json.loads(path.read_text())
    doc["version"] = 2
    path.write_text(json.dumps(doc))
    assert _one_line_error(path, "checkpoint format version 2, this unroll reads 1").startswith(str(path))


def test_missing_tensor_file(saved):
    path, tensors_path = saved
    tensors_path.unlink()
    assert _one_line_error(path, "tensor file missing").startswith(str(tensors_path))


def test_flipped_byte_fails_checksum(saved):
    path, tensors_path = saved
    data = bytearray(tensors_path.read_bytes())
    data[-7] ^= 0x01
    tensors_path.write_bytes(bytes(data))
    assert _one_line_error(path, "tensor data corrupted (checksum mismatch)").startswith(str(tensors_path))


def test_truncated_tensor_file_with_matching_checksum_fails_in_parser(saved):
    import hashlib
    path, tensors_path = saved
    data = tensors_path.read_bytes()[:-10]
    tensors_path.write_bytes(data)
    doc = json.loads(path.read_text())
    doc["sha256"] = hashlib.sha256(data).hexdigest()
    path.write_text(json.dumps(doc))
    message = _one_line_error(path, "tensor data unreadable by safetensors")
    assert message.startswith(str(tensors_path))


def test_pickle_file_is_refused_not_unpickled(tmp_path, monkeypatch):
    import pickle

    for name, save in (("model.pt", lambda obj, p: torch.save(obj, p)),
                       ("legacy.pt", lambda obj, p: torch.save(obj, p, _use_new_zipfile_serialization=False)),
                       ("raw.pkl", lambda obj, p: p.write_bytes(pickle.dumps(obj)))):
        p = tmp_path / name
        save({"w": torch.ones(2)}, p)
        monkeypatch.setattr(pickle, "loads", lambda *a, **k: pytest.fail("unpickled"))
        monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("torch.load called"))
        assert _one_line_error(p, "not an unroll checkpoint").startswith(str(p))
        monkeypatch.undo()


def test_empty_directory_and_missing_file(tmp_path):
    assert _one_line_error(tmp_path, "no checkpoints in this directory").startswith(str(tmp_path))
    _one_line_error(tmp_path / "nope.json", "checkpoint file missing")


_WRITER = r"""
import os, sys, torch
torch.set_num_threads(1)
from unroll.train.checkpoint import save_checkpoint, latest_checkpoint, load_checkpoint
directory = sys.argv[1]
for line in sys.stdin:  # each line: fork a writer that resumes from the latest checkpoint; the test SIGKILLs it
    pid = os.fork()
    if pid == 0:
        latest = latest_checkpoint(directory)
        step = 0 if latest is None else load_checkpoint(latest)[1]["step"] + 1
        big = torch.randn(3, 1 << 18, generator=torch.Generator().manual_seed(0))  # 3 MB
        while True:
            save_checkpoint(directory, step, {"big": big + step, "step": torch.tensor(step)},
                            {"step": step, "log": [step] * 8}, keep_last=2)
            step += 1
    print(pid, flush=True)
    os.waitpid(pid, 0)
    print("reaped", flush=True)
"""


def _check_directory(directory):
    """Every committed checkpoint loads and agrees with its own name; returns the latest step (-1 if none)."""
    paths = list_checkpoints(directory)
    assert len(paths) <= 3  # keep_last=2, plus one if killed between the commit and the pruning
    steps = []
    for path in paths:
        tensors, meta = load_checkpoint(path)
        step = meta["step"]
        assert path.name == f"ckpt-{step:08d}.json" and tensors["step"].item() == step
        assert torch.equal(tensors["big"][:, :4], _BIG_HEAD + step) and meta["log"] == [step] * 8
        steps.append(step)
    assert steps == sorted(steps)
    if not steps:
        return -1
    assert load_checkpoint(directory)[1]["step"] == steps[-1]
    return steps[-1]


def _committed_step(directory) -> int:
    """The newest committed step by its marker's name (-1 if none); loads nothing."""
    path = latest_checkpoint(directory)
    return -1 if path is None else int(path.stem.split("-")[1])


_BIG_HEAD = torch.randn(3, 1 << 18, generator=torch.Generator().manual_seed(0))[:, :4]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork and SIGKILL")
def test_checkpoints_survive_sigkill_at_random_moments(tmp_path):
    """16 writers, each SIGKILLed a random 0-0.1 s after it committed its first checkpoint (so every writer
    gets work done however loaded the machine is); after every kill all committed checkpoints load."""
    rng = random.Random(0)
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    last, pid = -1, None
    try:
        for _ in range(16):
            proc.stdin.write("go\n")
            proc.stdin.flush()
            pid = int(proc.stdout.readline())
            deadline = time.monotonic() + 60
            while _committed_step(tmp_path) <= last and time.monotonic() < deadline:
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 0.1))
            os.kill(pid, signal.SIGKILL)
            assert proc.stdout.readline() == "reaped\n"
            pid = None
            step = _check_directory(tmp_path)
            assert step >= last
            last = step
    finally:
        if pid is not None:  # not reaped yet, so the pid is still the writer's
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.stdin.close()
        proc.wait(timeout=10)
    assert last >= 15  # every writer committed at least one checkpoint before its kill
    save_checkpoint(tmp_path, last + 1, {"step": torch.tensor(0)}, {"step": last + 1}, keep_last=2)
    names = sorted(p.name for p in tmp_path.iterdir())  # the next save cleans what the kills left
    assert names == [f"ckpt-{s:08d}.{ext}" for s in (last, last + 1) for ext in ("json", "safetensors")]
