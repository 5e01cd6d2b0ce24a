"""Stacks of LSTM or Elman cells unrolled by torch's own kernels (cuDNN on CUDA): ``backend="torch"`` of
``unroll.layers.LSTM`` and ``unroll.layers.RNN``, for speed where the cells use nothing torch lacks
(peepholes, cell clipping, the logistic and linear activations).

The cells' parameters are handed to a parameterless ``torch.nn.LSTM`` or ``torch.nn.RNN`` (on the meta
device) with ``torch.func.functional_call``, LSTM gates reordered and the bias given as torch's ``bias_ih``
(``bias_hh`` = 0), so gradients flow back to the cells and the layer's other backends read the same numbers.
"""
import torch
from torch import nn
from torch.func import functional_call
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ..cells import torch_gate_order


def torch_parameter_suffix(index: int, directions: int) -> str:
    """torch's name suffix for cell ``index`` of a stack (layer-major, then direction): l0, l0_reverse, ..."""
    layer, direction = divmod(index, directions)
    return f"l{layer}" + ("_reverse" if direction else "")


def parameterless_twin(kind: type[nn.RNNBase], input_size: int, hidden_size: int, num_layers: int,
                       bidirectional: bool, **options) -> nn.RNNBase:
    """A torch.nn.LSTM or torch.nn.RNN (``kind``) of this shape on the meta device: its forward, with no
    memory of its own; ``options`` (nonlinearity, bias) go to it."""
    return kind(input_size, hidden_size, num_layers, bidirectional=bidirectional, device="meta", **options)


def torch_unroll(twin: nn.RNNBase, cells, x: torch.Tensor, state, lengths: torch.Tensor | None, dropout: float):
    """x (T, B, I); state (h, c) for an LSTM or h for an RNN, each (L*D, B, H), or None for the cells'
    initial states; lengths (B,) or None; dropout: the probability between layers (0 when not training).
    Returns (output (T, B, D*H), zero on padding; the final state, each sequence's after its last step)."""
    lstm = isinstance(twin, nn.LSTM)
    if state is None:
        initial = [cell.initial_state(x.shape[1]) for cell in cells]
        state = (torch.stack([h for h, _ in initial]), torch.stack([c for _, c in initial])) if lstm \
            else torch.stack(initial)
    order = torch_gate_order if lstm else (lambda w: w)
    directions = 2 if twin.bidirectional else 1
    weights = {}
    for index, cell in enumerate(cells):
        suffix = torch_parameter_suffix(index, directions)
        weights[f"weight_ih_{suffix}"] = order(cell.weight_ih)
        weights[f"weight_hh_{suffix}"] = order(cell.weight_hh)
        if cell.bias is not None:
            weights[f"bias_ih_{suffix}"] = order(cell.bias)
            weights[f"bias_hh_{suffix}"] = torch.zeros_like(cell.bias)
    twin.dropout = dropout
    twin.train(dropout > 0 or torch.is_grad_enabled())     # cuDNN differentiates only its training mode
    sequences = x if lengths is None else pack_padded_sequence(x, lengths.cpu(), enforce_sorted=False)
    hx = tuple(s.contiguous() for s in state) if lstm else state.contiguous()
    output, final = functional_call(twin, weights, (sequences, hx))
    if lengths is not None:
        output = pad_packed_sequence(output, total_length=x.shape[0])[0]
    return output, final
