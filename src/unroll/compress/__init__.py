"""Lossless compression with an online LSTM byte model mixed with context-count models.

``compress(data, model="medium") -> bytes`` and ``decompress(blob) -> bytes``; the stream forms
``compress_stream``/``decompress_stream`` keep memory bounded by one block. Damaged, foreign or
version-mismatched input raises ``CorruptInputError`` (a ValueError) with one line.
"""
from .codec import compress, compress_stream, decompress, decompress_stream, resolve_model
from .config import PRESETS, ModelConfig
from .container import CorruptInputError

__all__ = ["compress", "decompress", "compress_stream", "decompress_stream", "resolve_model",
           "ModelConfig", "PRESETS", "CorruptInputError"]
