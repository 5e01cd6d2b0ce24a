"""Cells: one time step ``(x_t, state) -> (y_t, state)`` each, no time loop."""
from .lstm import GATES, LSTMCell
from .rnn import FullyRecurrentCell

__all__ = ["GATES", "LSTMCell", "FullyRecurrentCell"]
