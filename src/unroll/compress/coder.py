"""Range coding of byte streams with integer-quantised probabilities (constriction's queue coder)."""
import numpy as np

import constriction

_FAMILY = constriction.stream.model.Categorical(perfect=False)


class RangeEncoder:
    """``encode(symbols, q)``: symbols (B,) bytes, q (B, 256) integer weights (each >= 1) of one lockstep
    step; ``finish()`` -> the code as bytes (little-endian 32-bit words)."""

    def __init__(self):
        self._coder = constriction.stream.queue.RangeEncoder()

    def encode(self, symbols: np.ndarray, q: np.ndarray) -> None:
        self._coder.encode(symbols.astype(np.int32), _FAMILY, q.astype(np.float64))

    def finish(self) -> bytes:
        return self._coder.get_compressed().astype("<u4").tobytes()


class RangeDecoder:
    """``decode(q)`` -> the (B,) int64 symbols coded with the weights q (B, 256). Raises ValueError when
    ``payload`` is not a whole number of 32-bit words or the coder finds it inconsistent."""

    def __init__(self, payload: bytes):
        if len(payload) % 4:
            raise ValueError(f"payload: expected a multiple of 4 bytes, got {len(payload)}")
        self._coder = constriction.stream.queue.RangeDecoder(np.frombuffer(payload, dtype="<u4").astype(np.uint32))

    def decode(self, q: np.ndarray) -> np.ndarray:
        try:
            return self._coder.decode(_FAMILY, q.astype(np.float64)).astype(np.int64)
        except Exception as e:   # constriction reports bad data with its own exception types
            raise ValueError(f"payload: the range decoder rejected the data ({type(e).__name__})") from None
