"""The compressor: bit-exact round trips, the container's checks, the model's parts, the CLI."""
import dataclasses
import io
import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

from unroll.compress import PRESETS, CorruptInputError, ModelConfig, compress, decompress
from unroll.compress.container import MAGIC, read_header
from unroll.compress.contexts import ContextCounts
from unroll.compress.lstm import OnlineLSTM
from unroll.compress.mixer import Mixer
from unroll.compress.predictor import PRECISION, Predictor

TINY = ModelConfig(hidden=16, embedding=8, streams=8, min_stream=32, truncation=4, orders=(0, 1, 2, 3),
                   table_bits=10, block=1024)
ALICE = Path(__file__).resolve().parents[2] / "shared" / "data" / "canterbury" / "alice29.txt"
TEXT = (b"It was the best of times, it was the worst of times, it was the age of wisdom, it was the age "
        b"of foolishness, it was the epoch of belief, it was the epoch of incredulity. ") * 6


def _random(n, seed=0):
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


@pytest.mark.parametrize("data", [b"", b"x", bytes(range(256)), _random(700), TEXT, _random(2600, 1)],
                         ids=["empty", "one-byte", "all-256", "random", "text", "three-blocks"])
def test_round_trip_is_bit_exact(data):
    assert decompress(compress(data, TINY)) == data


def test_round_trip_with_the_default_model():
    data = TEXT[:400]
    blob = compress(data)
    assert decompress(blob) == data
    assert read_header(io.BytesIO(blob))[0] == PRESETS["medium"]


@pytest.mark.skipif(not ALICE.exists(), reason="../shared/data/canterbury is absent")
def test_text_compresses_better_than_gzip():
    data = ALICE.read_bytes()[:6000]
    blob = compress(data, dataclasses.replace(PRESETS["small"], min_stream=1000, table_bits=12))
    assert decompress(blob) == data
    assert len(blob) < len(zlib.compress(data, 9))


def test_repetitive_text_learns_to_cost_little():
    blob = compress(TEXT * 3, TINY)
    assert 8 * len(blob) / len(TEXT * 3) < 1.5


def test_random_bytes_expand_by_little():
    data = _random(4000, 2)
    assert len(compress(data, TINY)) < 1.06 * len(data) + 400


def test_round_trip_across_processes(tmp_path):
    source = tmp_path / "text.txt"
    source.write_bytes(TEXT[:300])
    run = [sys.executable, "-m", "unroll.cli"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    subprocess.run(run + ["compress", str(source), "--model", "small", "--quiet"], check=True, env=env)
    packed = (tmp_path / "text.txt.unr").read_bytes()
    back = subprocess.run(run + ["decompress", "-", "--quiet"], input=packed, stdout=subprocess.PIPE,
                          check=True, env=env).stdout   # stdin to stdout
    assert back == source.read_bytes()


def test_separate_models_agree_step_by_step():
    """Two predictors fed the same bytes give identical quantised probabilities (what decoding relies on)."""
    a, b = Predictor(TINY, 3), Predictor(TINY, 3)
    rng = np.random.default_rng(5)
    for _ in range(30):
        qa, qb = a.probabilities(), b.probabilities()
        assert np.array_equal(qa, qb)
        assert (qa >= 1).all() and (qa.sum(1) == PRECISION).all()
        y = rng.integers(0, 256, 3)
        a.update(y)
        b.update(y)


# --- the container rejects what it must --------------------------------------------------------------

BLOB = compress(TEXT[:200], TINY)


def _reseal(record: bytes) -> bytes:
    return record + struct.pack("<I", zlib.crc32(record))


def _header_end(blob: bytes) -> int:
    """End of a header with a custom configuration (JSON)."""
    return len(MAGIC) + 4 + struct.unpack("<H", blob[len(MAGIC) + 2:len(MAGIC) + 4])[0] + 8 + 4


@pytest.mark.parametrize("blob, message", [
    (b"", "magic"), (b"PK\x03\x04 not ours", "magic"), (BLOB[:-1], "truncated"), (BLOB[:30], "truncated"),
    (BLOB + b"\0", "after the end"), (BLOB[:len(MAGIC)] + b"\x07" + BLOB[len(MAGIC) + 1:], "version 7"),
    (BLOB[:20] + bytes([BLOB[20] ^ 1]) + BLOB[21:], "corrupt"),
])
def test_damaged_input_is_one_line_error(blob, message):
    with pytest.raises(CorruptInputError, match=message) as e:
        decompress(blob)
    assert "\n" not in str(e.value)


def test_payload_damage_behind_valid_checksums_is_caught():
    """Flip a payload bit and fix the payload's own CRC: decoding runs, the raw CRC-32 catches it."""
    start = _header_end(BLOB)
    tag, fields = BLOB[start:start + 1], BLOB[start + 1:start + 17]
    raw_len, payload_len, raw_crc, _ = struct.unpack("<IIII", fields)
    payload = bytearray(BLOB[start + 21:start + 21 + payload_len])
    payload[len(payload) // 2] ^= 0x10
    record = _reseal(tag + struct.pack("<IIII", raw_len, payload_len, raw_crc, zlib.crc32(bytes(payload))))
    blob = BLOB[:start] + record + bytes(payload) + BLOB[start + 21 + payload_len:]
    with pytest.raises(CorruptInputError, match="block 1"):
        decompress(blob)


def test_another_numeric_environment_is_refused():
    end = _header_end(BLOB)
    blob = _reseal(BLOB[:end - 12] + bytes(8)) + BLOB[end:]
    with pytest.raises(CorruptInputError, match="another numeric environment"):
        decompress(blob)


@pytest.mark.parametrize("change", [{"hidden": 0}, {"streams": 10_000}, {"orders": (9,)}, {"table_bits": 40},
                                    {"table_bits": 24, "orders": (3, 4, 5)}])
def test_out_of_range_configuration_is_refused(change):
    with pytest.raises(ValueError, match="model configuration"):
        ModelConfig(**{**TINY.to_dict(), "orders": TINY.orders, **change})


def test_bad_arguments():
    with pytest.raises(TypeError, match="data"):
        compress("text")
    with pytest.raises(ValueError, match="model"):
        compress(b"x", "huge")


# --- the model's parts ---------------------------------------------------------------------------------

def test_mixer_update_is_the_gradient_of_the_code_length():
    torch.manual_seed(0)
    mixer = Mixer(3, contexts=4, lr=0.1, dtype=torch.float64)
    mixer.own.uniform_(0, 0.5)
    mixer.shared.uniform_(0, 0.5)
    logp = torch.log_softmax(torch.randn(5, 3, 256, dtype=torch.float64), dim=2)
    buckets = torch.tensor([[0, 1, 2], [0, 1, 2], [3, 3, 3], [1, 0, 5], [11, 0, 0]])
    select = torch.tensor([0, 3, 3, 1, 0])
    y = torch.tensor([3, 200, 7, 3, 0])
    own, shared = mixer.own.clone().requires_grad_(True), mixer.shared.clone().requires_grad_(True)
    w = own[buckets + mixer.offset] + shared[select]
    mixed = torch.log_softmax(torch.bmm(w[:, None, :], logp)[:, 0], dim=1)
    grads = torch.autograd.grad(-mixed.gather(1, y[:, None]).sum(), [own, shared])
    before = mixer.own.clone(), mixer.shared.clone()
    torch.testing.assert_close(mixer.mix(logp, buckets, select), mixed.detach())
    mixer.learn(y)
    torch.testing.assert_close(mixer.own - before[0], -0.1 * grads[0])
    torch.testing.assert_close(mixer.shared - before[1], -0.1 * grads[1])


def test_context_counts_learn_a_deterministic_context():
    counts = ContextCounts(batch=1, orders=(0, 2), table_bits=12)
    for byte in b"abcabcabcabcabcabcabc":
        logp, totals = counts.predict()
        counts.update(torch.tensor([byte]))
    logp, _ = counts.predict()   # context "bc": next is "a"
    torch.testing.assert_close(logp.exp().sum(2), torch.ones(1, 2))
    assert logp[0, 1].exp()[ord("a")] > 0.8   # PPM-C: 6 of 6, one distinct byte: (6 + 1/256) / 7
    assert logp[0, 1].exp()[ord("a")] > logp[0, 0].exp()[ord("a")]


def test_counts_halve_instead_of_wrapping():
    """64 streams counting the same byte in the same context: each step adds 64 or halves first."""
    counts = ContextCounts(batch=64, orders=(0,), table_bits=8)
    before = 0
    for _ in range(40):
        counts.predict()
        counts.update(torch.full((64,), 7))
        now = int(counts.table[0, 7])
        assert now in (before + 64, before // 2 + 64)
        before = now


def test_lstm_hand_derived_bptt_matches_autograd():
    """float64: the window's gradients equal autograd's through a reference forward (2 layers)."""
    H, B, T = 5, 3, 6
    lstm = OnlineLSTM(B, H, 2, 4, T, 0.01, 0.99, torch.Generator().manual_seed(1), dtype=torch.float64)
    with torch.no_grad():
        for p in lstm.parameters():
            p.normal_(0, 0.5)
    xs = torch.randint(0, 256, (T + 2, B), generator=torch.Generator().manual_seed(2))
    lstm.step(xs[0])
    lstm._window = []                                  # the window starts from a non-zero state
    state = [(h.clone(), c.clone()) for h, c in lstm.state]
    for t in range(1, T + 1):
        lstm.step(xs[t - 1])
        lstm._targets.append(xs[t])
    hand = lstm.gradients()
    names = [n for n, _ in lstm.named_parameters()]
    P = {n: p.detach().clone().requires_grad_(True) for n, p in lstm.named_parameters()}
    loss = 0
    for t in range(1, T + 1):
        e = P["embed"][xs[t - 1]]
        below, outs, new = e, [], []
        for layer in range(2):
            h, c = state[layer]
            a = torch.cat((below, h) if layer == 0 else (e, below, h), 1) @ P[f"weights.{layer}"] + P[f"biases.{layer}"]
            write, keep, read = (torch.sigmoid(a[:, k * H:(k + 1) * H]) for k in range(3))
            c = keep * c + write * torch.tanh(a[:, 3 * H:])
            h = read * torch.tanh(c)
            new.append((h, c))
            outs.append(h)
            below = h
        state = new
        logp = torch.log_softmax(torch.cat((*outs, e), 1) @ P["out_weight"] + P["out_bias"], 1)
        loss = loss - logp.gather(1, xs[t][:, None]).sum() / B
    auto = torch.autograd.grad(loss, [P[n] for n in names])
    for name, a, h in zip(names, auto, hand):
        torch.testing.assert_close(h, a, rtol=1e-10, atol=1e-12, msg=name)


def test_lstm_learns_a_periodic_sequence():
    model = Predictor(ModelConfig(hidden=32, embedding=8, streams=2, truncation=8, orders=(0,), lr=0.01), 2)
    pattern = [1, 5, 9, 5, 2, 7] * 250
    losses, last = [], torch.zeros(2, dtype=torch.int64)
    for byte in pattern:
        logp = model.lstm.step(last)
        losses.append(-float(logp[0, byte]))
        last = torch.tensor([byte, byte])
        model.lstm.learn(last)
    assert np.mean(losses[-60:]) < 0.1 * np.mean(losses[:60])


# --- the command line --------------------------------------------------------------------------------

def test_cli_round_trip_and_errors(tmp_path, capsys):
    from unroll.cli import main

    source = tmp_path / "a.txt"
    source.write_bytes(TEXT[:150])
    assert main(["compress", str(source), "--model", "small", "--quiet"]) == 0
    assert main(["compress", str(source), "--model", "small", "--quiet"]) == 2   # exists
    assert "exists" in capsys.readouterr().err
    source.unlink()
    assert main(["decompress", str(source) + ".unr", "--quiet"]) == 0
    assert source.read_bytes() == TEXT[:150]
    bad = tmp_path / "bad.unr"
    bad.write_bytes(b"nothing of ours")
    assert main(["decompress", str(bad), "-o", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("unroll: error: compressed input:") and err.count("\n") == 1
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.suffix == ".tmp"]


def test_cli_bench_table(tmp_path, capsys):
    from unroll.cli import main

    source = tmp_path / "b.txt"
    source.write_bytes(TEXT[:200])
    assert main(["compress", "--bench", str(source), "--model", "small", "--quiet",
                 "--json", str(tmp_path / "b.json")]) == 0
    table = capsys.readouterr().out
    for method in ("gzip -9", "bzip2 -9", "xz -9e", "zstd -19", "unroll small"):
        assert f"| b.txt | {method} |" in table
    rows = json.loads((tmp_path / "b.json").read_text())
    assert {r["method"] for r in rows} >= {"bzip2 -9", "unroll small"}
    assert all(r["compressed"] is None or r["compressed"] > 0 for r in rows)
