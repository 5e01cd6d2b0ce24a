"""Copy weights between unroll's layers and torch.nn.LSTM / torch.nn.RNN.

torch stacks LSTM gate rows as (input, forget, cell, output) and keeps two biases; unroll stacks
(write, keep, read, cell_input) = (input, forget, output, cell) and keeps one bias, b_ih + b_hh.
"""
import torch
from torch import nn

from .cells import torch_gate_order
from .layers import LSTM, RNN, _Stacked
from .time.torch_kernels import torch_parameter_suffix


def load_from_torch(ours: _Stacked, theirs: nn.RNNBase) -> None:
    """Copy the weights of a torch.nn.LSTM into an unroll LSTM (or nn.RNN into RNN) of the same shape."""
    _check_pair(ours, theirs)
    lstm = isinstance(ours, LSTM)
    with torch.no_grad():
        for index, cell in enumerate(ours.cells):
            suffix = torch_parameter_suffix(index, ours.num_directions)
            w_ih = getattr(theirs, f"weight_ih_{suffix}")
            w_hh = getattr(theirs, f"weight_hh_{suffix}")
            bias = getattr(theirs, f"bias_ih_{suffix}") + getattr(theirs, f"bias_hh_{suffix}")
            if lstm:
                w_ih, w_hh, bias = torch_gate_order(w_ih), torch_gate_order(w_hh), torch_gate_order(bias)
            cell.weight_ih.copy_(w_ih)
            cell.weight_hh.copy_(w_hh)
            cell.bias.copy_(bias)


def _check_pair(ours, theirs) -> None:
    kind = {LSTM: nn.LSTM, RNN: nn.RNN}.get(type(ours))
    if kind is None or not isinstance(theirs, kind):
        raise TypeError(f"load_from_torch: expected unroll LSTM with nn.LSTM or RNN with nn.RNN, "
                        f"got {type(ours).__name__} and {type(theirs).__name__}")
    if not theirs.bias or getattr(theirs, "proj_size", 0):
        raise ValueError("load_from_torch: the torch layer must have bias=True and no proj_size")
    same = (ours.input_size == theirs.input_size and ours.hidden_size == theirs.hidden_size
            and ours.num_layers == theirs.num_layers
            and ours.num_directions == (2 if theirs.bidirectional else 1))
    if not same:
        raise ValueError("load_from_torch: the layers differ in input_size, hidden_size, num_layers "
                         "or bidirectional")
    if isinstance(ours, RNN) and ours.nonlinearity != theirs.nonlinearity:
        raise ValueError(f"load_from_torch: nonlinearity differs ({ours.nonlinearity} "
                         f"vs {theirs.nonlinearity})")
