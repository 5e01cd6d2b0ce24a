"""Cells: one time step ``(x_t, state) -> (y_t, state)`` each, no time loop."""
from .lstm import GATES, LSTMCell, torch_gate_order
from .memory_blocks import MemoryBlockCell
from .rnn import FullyRecurrentCell

__all__ = ["GATES", "LSTMCell", "MemoryBlockCell", "FullyRecurrentCell", "torch_gate_order"]
