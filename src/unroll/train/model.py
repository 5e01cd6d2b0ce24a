"""SequenceModel: a recurrent layer from unroll and a linear readout at every step."""
import torch
from torch import nn

from ..layers import LSTM, RNN

KINDS = ("lstm", "rnn")


class SequenceModel(nn.Module):
    """``layer`` (an unroll LSTM, RNN or FullyRecurrent) followed by a linear readout per step; with
    ``logistic_output`` the readout feeds logistic sigmoid units (outputs in (0, 1), as the 1997 LSTM's);
    ``readout_bias=False`` leaves the readout without biases.

    forward(x (T, B, I), state=None) -> (y (T, B, output_size), final state); with ``return_hidden``
    also the layer's output sequence h (T, B, D * H) that the readout reads.
    """

    def __init__(self, layer: nn.Module, output_size: int, *, logistic_output: bool = False,
                 readout_bias: bool = True):
        super().__init__()
        self.layer = layer
        self.readout = nn.Linear(layer.cells[-1].output_size * layer.num_directions, output_size,
                                 bias=readout_bias, dtype=layer.cells[0].weight_ih.dtype)
        self.logistic_output = logistic_output

    def forward(self, x: torch.Tensor, state=None, *, return_hidden: bool = False):
        h, state = self.layer(x, state)
        y = self.readout(h)
        if self.logistic_output:
            y = torch.sigmoid(y)
        return (y, state, h) if return_hidden else (y, state)


def build_model(kind: str, input_size: int, output_size: int, hidden_size: int = 32,
                num_layers: int = 1, **options) -> SequenceModel:
    """A SequenceModel over an LSTM ("lstm") or a tanh Elman RNN ("rnn"); options go to the layer."""
    if kind == "lstm":
        layer = LSTM(input_size, hidden_size, num_layers, **options)
    elif kind == "rnn":
        layer = RNN(input_size, hidden_size, num_layers, **options)
    else:
        raise ValueError(f"model: expected one of {', '.join(KINDS)}, got {kind!r}")
    return SequenceModel(layer, output_size)
