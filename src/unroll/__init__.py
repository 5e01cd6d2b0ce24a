"""unroll: recurrent neural networks trained by backpropagation through time."""
from .cells import GATES, FullyRecurrentCell, LSTMCell, MemoryBlockCell
from .compat import load_from_torch
from .layers import LSTM, RNN, FullyRecurrent, MemoryBlocks
from .time import Trace, fused_unroll, reverse_padded, step_mask, truncated_bptt, unroll

__version__ = "0.1.0"
__all__ = ["GATES", "FullyRecurrent", "FullyRecurrentCell", "LSTM", "LSTMCell", "MemoryBlockCell", "MemoryBlocks",
           "RNN", "Trace",
           "fused_unroll", "load_from_torch", "reverse_padded", "step_mask", "truncated_bptt", "unroll"]
