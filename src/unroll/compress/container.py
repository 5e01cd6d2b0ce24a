"""The compressed file format (version 1), records read and written one at a time.

    header : MAGIC (7 bytes) | version u8 | preset u8 (1 small, 2 medium, 3 large; 0 other) |
             [other: n u16 | n bytes of JSON, the configuration] | numeric fingerprint (8 bytes) | crc u32
    block  : b"B" | raw length u32 | payload length u32 | CRC-32 of the raw bytes u32 |
             CRC-32 of the payload u32 | crc u32 | payload (range code, 32-bit words)
    end    : b"E" | original length u64 | CRC-32 of the whole original u32 | crc u32, then end of file

Integers little-endian; each ``crc`` is the CRC-32 of the record's bytes before it. Any mismatch raises
``CorruptInputError`` (a ValueError) with one line saying what is wrong.
"""
import json
import struct
import zlib

from .config import PRESETS, ModelConfig

MAGIC = b"\x89UNROLL"
VERSION = 1
_BLOCK = struct.Struct("<IIII")
_END = struct.Struct("<QI")
_CRC = struct.Struct("<I")


class CorruptInputError(ValueError):
    """Compressed input that is corrupt, truncated, foreign, or from another format version or machine."""


def _fail(what: str):
    raise CorruptInputError(f"compressed input: {what}")


def _read(src, n: int, what: str) -> bytes:
    data = src.read(n)
    if len(data) != n:
        _fail(f"truncated ({what} ends after {len(data)} of {n} bytes)")
    return data


def _sealed(record: bytes) -> bytes:
    return record + _CRC.pack(zlib.crc32(record))


def _check_seal(src, record: bytes, what: str) -> None:
    if _CRC.unpack(_read(src, 4, what))[0] != zlib.crc32(record):
        _fail(f"{what} is corrupt (checksum mismatch)")


def write_header(dst, config: ModelConfig, fingerprint: str) -> None:
    """``fingerprint``: 16 hex digits."""
    names = list(PRESETS)
    preset = names.index(next(n for n, c in PRESETS.items() if c == config)) + 1 if config in PRESETS.values() else 0
    record = MAGIC + bytes([VERSION, preset])
    if not preset:
        meta = json.dumps(config.to_dict(), separators=(",", ":")).encode()
        record += struct.pack("<H", len(meta)) + meta
    dst.write(_sealed(record + bytes.fromhex(fingerprint)))


def read_header(src) -> tuple[ModelConfig, str]:
    """-> (config, fingerprint as 16 hex digits) of a compressed stream positioned at its start."""
    start = src.read(len(MAGIC) + 1)
    if len(start) < len(MAGIC) + 1 or start[:len(MAGIC)] != MAGIC:
        _fail("not an unroll compressed file (magic bytes missing)")
    if start[-1] != VERSION:
        _fail(f"format version {start[-1]} is not supported (this unroll reads version {VERSION})")
    record = start + _read(src, 1, "header")
    preset = record[-1]
    if not preset:
        size = _read(src, 2, "header")
        record += size + _read(src, struct.unpack("<H", size)[0], "header")
    fingerprint = _read(src, 8, "header")
    _check_seal(src, record + fingerprint, "header")
    if preset > len(PRESETS):
        _fail(f"header names an unknown model preset {preset}")
    if preset:
        return list(PRESETS.values())[preset - 1], fingerprint.hex()
    try:
        return ModelConfig.from_dict(json.loads(record[len(MAGIC) + 4:])), fingerprint.hex()
    except (ValueError, TypeError) as e:
        _fail(f"header is invalid ({' '.join(str(e).split())})")


def write_block(dst, raw: bytes, payload: bytes) -> None:
    dst.write(_sealed(b"B" + _BLOCK.pack(len(raw), len(payload), zlib.crc32(raw), zlib.crc32(payload))))
    dst.write(payload)


def write_end(dst, length: int, crc: int) -> None:
    dst.write(_sealed(b"E" + _END.pack(length, crc)))


def read_record(src, max_raw: int, index: int):
    """The next record: ("block", raw length, raw CRC, payload) or ("end", length, CRC, None)."""
    tag = src.read(1)
    if tag == b"B":
        fields = _read(src, _BLOCK.size, f"block {index} header")
        _check_seal(src, tag + fields, f"block {index} header")
        raw_len, payload_len, raw_crc, payload_crc = _BLOCK.unpack(fields)
        if not 0 < raw_len <= max_raw or payload_len > 4 * raw_len + 64:
            _fail(f"block {index} header is invalid ({raw_len} bytes from {payload_len})")
        payload = _read(src, payload_len, f"block {index}")
        if zlib.crc32(payload) != payload_crc:
            _fail(f"block {index} is corrupt (checksum mismatch)")
        return "block", raw_len, raw_crc, payload
    if tag == b"E":
        fields = _read(src, _END.size, "end record")
        _check_seal(src, tag + fields, "end record")
        if src.read(1):
            _fail("unexpected data after the end record")
        return ("end", *_END.unpack(fields), None)
    if not tag:
        _fail(f"truncated (no end record after block {index - 1})")
    _fail(f"unknown record {tag!r} where block {index} or the end should be")
