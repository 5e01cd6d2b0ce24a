"""Compress and decompress: the model's probabilities drive the range coder, block by block.

A block of n bytes is split into B = min(streams, ceil(n / min_stream)) contiguous streams coded in
lockstep (stream b holds bytes [b*L, (b+1)*L), L = ceil(n / B)); at step t every stream still running
codes its t-th byte. The decoder makes exactly the encoder's calls on the model in the same order.
"""
import io
import zlib

import numpy as np
import torch

from .coder import RangeDecoder, RangeEncoder
from .config import PRESETS, ModelConfig
from .container import (CorruptInputError, read_header, read_record, write_block, write_end,
                        write_header)
from .fingerprint import environment, fingerprint
from .predictor import PRECISION, Predictor

_REPORT_EVERY = 64   # lockstep steps between progress reports


def resolve_model(model) -> ModelConfig:
    """A preset name ('small', 'medium', 'large') or a ModelConfig -> the ModelConfig."""
    if isinstance(model, ModelConfig):
        return model
    if model not in PRESETS:
        raise ValueError(f"model: expected one of {', '.join(PRESETS)} or a ModelConfig, got {model!r}")
    return PRESETS[model]


def _layout(n: int, config: ModelConfig) -> tuple[int, int, np.ndarray]:
    """-> (B streams, L steps, (B,) stream lengths) for a block of n bytes."""
    streams = min(config.streams, -(-n // config.min_stream))
    steps = -(-n // streams)
    lengths = np.clip(n - np.arange(streams) * steps, 0, steps)
    return streams, steps, lengths


class _Progress:
    """Calls ``report(bytes done, bits so far)`` every few steps (bits: the ideal code length)."""

    def __init__(self, report):
        self.report, self.done, self.bits = report, 0, 0.0

    def add(self, q: np.ndarray, y: np.ndarray, active: np.ndarray, step: int) -> None:
        if self.report is None:
            return
        self.done += len(y)
        self.bits -= float(np.log2(q[active, y] / PRECISION).sum()) if len(y) else 0.0
        if step % _REPORT_EVERY == 0:
            self.report(self.done, self.bits)


def _encode_block(model: Predictor, raw: bytes, progress: _Progress) -> bytes:
    B, L, lengths = _layout(len(raw), model.config)
    padded = np.zeros(B * L, dtype=np.int64)
    padded[:len(raw)] = np.frombuffer(raw, dtype=np.uint8)
    streams = padded.reshape(B, L)
    model.new_streams(B)
    coder = RangeEncoder()
    for t in range(L):
        q = model.probabilities()
        y = streams[:, t]
        active = np.flatnonzero(lengths > t)
        coder.encode(y[active], q[active])
        model.update(y)
        progress.add(q, y[active], active, t)
    return coder.finish()


def _decode_block(model: Predictor, payload: bytes, n: int, progress: _Progress) -> bytes:
    B, L, lengths = _layout(n, model.config)
    streams = np.zeros((B, L), dtype=np.int64)
    model.new_streams(B)
    coder = RangeDecoder(payload)
    for t in range(L):
        q = model.probabilities()
        active = np.flatnonzero(lengths > t)
        y = np.zeros(B, dtype=np.int64)
        y[active] = coder.decode(q[active])
        streams[:, t] = y
        model.update(y)
        progress.add(q, y[active], active, t)
    return streams.astype(np.uint8).tobytes()[:n]


def _read_block(src, size: int) -> bytes:
    parts, left = [], size
    while left:
        part = src.read(left)
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _one_thread(fn):
    def wrapped(*args, **kwargs):
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return fn(*args, **kwargs)
        finally:
            torch.set_num_threads(threads)
    wrapped.__doc__, wrapped.__name__ = fn.__doc__, fn.__name__
    return wrapped


@_one_thread
def compress_stream(src, dst, model="medium", progress=None) -> None:
    """Read bytes from the binary file ``src`` to its end, write the compressed form to ``dst``.
    ``progress(bytes done, bits so far)`` is called now and then when given."""
    config = resolve_model(model)
    write_header(dst, config, fingerprint(config))
    predictor = Predictor(config, config.streams)
    report = _Progress(progress)
    length, crc = 0, 0
    while raw := _read_block(src, config.block):
        write_block(dst, raw, _encode_block(predictor, raw, report))
        length, crc = length + len(raw), zlib.crc32(raw, crc)
    write_end(dst, length, crc)


@_one_thread
def decompress_stream(src, dst, progress=None) -> None:
    """Read a compressed stream from ``src``, write the original bytes to ``dst`` block by block (each
    block only after its CRC-32 checked). Raises CorruptInputError (a ValueError) on any damage."""
    config, recorded = read_header(src)
    here = fingerprint(config)
    if recorded != here:
        raise CorruptInputError(f"compressed input: made in another numeric environment (fingerprint {recorded}; "
                                f"here {here}: {environment()}); decompress it where it was made")
    predictor = Predictor(config, config.streams)
    report = _Progress(progress)
    length, crc, index = 0, 0, 1
    while True:
        kind, n, check, payload = read_record(src, config.block, index)
        if kind == "end":
            if (n, check) != (length, crc):
                raise CorruptInputError(f"compressed input: end record says {n} bytes, CRC {check:08x}; "
                                        f"decoded {length} bytes, CRC {crc:08x}")
            return
        try:
            raw = _decode_block(predictor, payload, n, report)
        except ValueError as e:
            raise CorruptInputError(f"compressed input: block {index} is corrupt ({e})") from None
        if zlib.crc32(raw) != check:
            raise CorruptInputError(f"compressed input: block {index} decodes wrongly (CRC-32 mismatch)")
        dst.write(raw)
        length, crc, index = length + n, zlib.crc32(raw, crc), index + 1


def compress(data: bytes, model="medium") -> bytes:
    """bytes -> compressed bytes (see ``compress_stream``)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data: expected bytes, got {type(data).__name__}")
    out = io.BytesIO()
    compress_stream(io.BytesIO(bytes(data)), out, model)
    return out.getvalue()


def decompress(blob: bytes) -> bytes:
    """compressed bytes -> the original bytes (see ``decompress_stream``)."""
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        raise TypeError(f"blob: expected bytes, got {type(blob).__name__}")
    out = io.BytesIO()
    decompress_stream(io.BytesIO(bytes(blob)), out)
    return out.getvalue()
