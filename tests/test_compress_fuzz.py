"""Property-based fuzzing of the decoder: flipped, truncated and appended bytes only ever give
CorruptInputError (a one-line ValueError), never another exception, a hang or a wrong output."""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from unroll.compress import CorruptInputError, ModelConfig, compress, decompress

CONFIG = ModelConfig(hidden=8, embedding=4, streams=16, min_stream=8, truncation=4, orders=(0, 1, 2),
                     table_bits=8, block=128)
ORIGINAL = b"fuzzing the decoder: flipped, truncated and appended bytes. " * 5
BLOB = compress(ORIGINAL, CONFIG)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FULL_DECODE = settings(FUZZ, max_examples=40)   # these examples decode every block before failing


def _only_the_documented_error(blob: bytes) -> None:
    try:
        out = decompress(blob)
    except CorruptInputError as e:
        assert str(e).startswith("compressed input: ") and "\n" not in str(e)
        return
    assert out == ORIGINAL and blob == BLOB   # nothing damaged decodes


def test_the_fixture_round_trips():
    assert len(BLOB) > 300 and decompress(BLOB) == ORIGINAL   # several blocks


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(BLOB) - 1), st.integers(1, 255)), min_size=1, max_size=4))
def test_flipped_bytes(flips):
    blob = bytearray(BLOB)
    for where, mask in flips:
        blob[where] ^= mask
    _only_the_documented_error(bytes(blob))


@FULL_DECODE
@given(st.integers(0, len(BLOB) - 1))
def test_truncated(length):
    with pytest.raises(CorruptInputError):
        decompress(BLOB[:length])


@FULL_DECODE
@given(st.binary(min_size=1, max_size=64))
def test_appended_bytes(tail):
    with pytest.raises(CorruptInputError):
        decompress(BLOB + tail)


@FUZZ
@given(st.binary(max_size=200))
def test_foreign_input(data):
    _only_the_documented_error(data)
