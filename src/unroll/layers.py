"""The recurrent layers people compose: ``LSTM``, ``RNN``, ``FullyRecurrent`` and the 1997 LSTM's
``MemoryBlocks``, with torch.nn-like shapes.

Each layer owns one cell per (layer, direction) and unrolls it through time with the fused BPTT path
(``backend="fused"``, the default) or the reference loop (``backend="reference"``, which also gives
double backward and forward-mode AD); an LSTM without peepholes or cell clipping, and a tanh or ReLU RNN,
can also run on torch's own kernels (``backend="torch"``: cuDNN on CUDA, where the fused path is
launch-bound). All read the same parameters, and ``layer.backend`` can be changed at any time.
"""
import functools

import torch
from torch import nn
from torch.nn import functional as F

from . import checks
from .cells import FullyRecurrentCell, LSTMCell, MemoryBlockCell
from .time import fused_unroll, reverse_padded, step_mask, unroll
from .time.torch_kernels import parameterless_twin, torch_unroll


class _Stacked(nn.Module):
    """Layers x directions of cells; subclasses say how a state splits into per-cell states."""

    backends = ("fused", "reference")

    def __init__(self, cells, num_layers, bidirectional, batch_first, dropout, backend):
        super().__init__()
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout: expected a probability in [0, 1), got {dropout!r}")
        self.cells = nn.ModuleList(cells)
        self.num_layers = num_layers
        self.num_directions = 2 if bidirectional else 1
        self.batch_first, self.dropout, self.backend = batch_first, dropout, backend

    @property
    def backend(self) -> str:
        return self._backend

    @backend.setter
    def backend(self, name: str) -> None:
        if name not in self.backends:
            raise ValueError(f"backend: expected one of {self.backends} for {type(self).__name__}, got {name!r}")
        self._backend = name

    @property
    def input_size(self) -> int:
        return self.cells[0].input_size

    def forward(self, input: torch.Tensor, state=None, lengths=None):
        """input: (T, B, I), or (B, T, I) with batch_first; lengths: (B,) ints in 1..T (padding after).

        Returns (output (T, B, D*O), final state), D = 2 if bidirectional else 1. Outputs on padding are
        0; the final state of each sequence is the one after its last real step.
        """
        checks.sequence(input, "input", self.input_size, self.batch_first)
        checks.matches_parameters(input, "input", self.cells[0].weight_ih)
        x = input.transpose(0, 1) if self.batch_first else input
        T, B, _ = x.shape
        mask = None
        if lengths is not None:
            lengths = checks.lengths(lengths, T, B, x.device)
            if int(lengths.min()) < T:
                mask = step_mask(lengths, T, x.dtype)
            else:
                lengths = None
        states = self._split_state(state, B, x) if state is not None else [None] * len(self.cells)
        if self.backend == "torch":
            dropout = self.dropout if self.training and self.num_layers > 1 else 0.0
            output, final = torch_unroll(self._torch_twin, self.cells, x, state, lengths, dropout)
            return (output.transpose(0, 1) if self.batch_first else output), final
        run = fused_unroll if self.backend == "fused" else unroll
        finals = []
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.num_directions):
                index = layer * self.num_directions + direction
                backward_in_time = direction == 1
                xin = reverse_padded(x, lengths) if backward_in_time else x
                ys, final, _ = run(self.cells[index], xin, states[index], mask)
                outputs.append(reverse_padded(ys, lengths) if backward_in_time else ys)
                finals.append(final)
            x = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, training=True)
        output = x.transpose(0, 1) if self.batch_first else x
        return output, self._join_state(finals)

    def extra_repr(self) -> str:
        return (f"num_layers={self.num_layers}, bidirectional={self.num_directions == 2}, "
                f"batch_first={self.batch_first}, backend={self.backend!r}")


class LSTM(_Stacked):
    """Stacked, optionally bidirectional LSTM with keep/write/read gates, like ``torch.nn.LSTM``.

    State: (h, c), each (num_layers * D, B, hidden_size). Extra options over torch: ``peephole``,
    ``keep_gate_bias`` (initial forget-gate bias, default 1.0), ``cell_clip`` and
    ``learn_initial_state`` (h_0 and c_0 trained as parameters). ``backend="torch"`` runs torch's kernels
    (not with peepholes or cell clipping, which they lack).
    """

    backends = ("fused", "reference", "torch")

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, *,
                 batch_first: bool = False, bidirectional: bool = False, dropout: float = 0.0,
                 peephole: bool = False, keep_gate_bias: float = 1.0, cell_clip: float | None = None,
                 learn_initial_state: bool = False, backend: str = "fused", device=None, dtype=None):
        D = 2 if bidirectional else 1
        cells = [LSTMCell(input_size if layer == 0 else D * hidden_size, hidden_size,
                          peephole=peephole, keep_gate_bias=keep_gate_bias, cell_clip=cell_clip,
                          learn_initial_state=learn_initial_state, device=device, dtype=dtype)
                 for layer in range(checks.positive_int("num_layers", num_layers)) for _ in range(D)]
        super().__init__(cells, num_layers, bidirectional, batch_first, dropout, backend)
        self.hidden_size = hidden_size

    @_Stacked.backend.setter
    def backend(self, name: str) -> None:
        cell = self.cells[0]
        if name == "torch" and (cell.peephole is not None or cell.cell_clip is not None):
            raise ValueError("backend 'torch': torch's LSTM kernels have no peepholes or cell clipping; "
                             "use 'fused'")
        _Stacked.backend.fset(self, name)

    @functools.cached_property
    def _torch_twin(self) -> nn.LSTM:
        """The parameterless torch.nn.LSTM that ``backend="torch"`` runs (built on first use)."""
        return parameterless_twin(nn.LSTM, self.input_size, self.hidden_size, self.num_layers,
                                  self.num_directions == 2)

    def _split_state(self, state, batch, x):
        if not (isinstance(state, tuple) and len(state) == 2):
            raise TypeError("state: expected a tuple (h, c) for an LSTM")
        shape = (len(self.cells), batch, self.hidden_size)
        checks.state(state[0], "state h", shape, x)
        checks.state(state[1], "state c", shape, x)
        return list(zip(state[0].unbind(0), state[1].unbind(0)))

    def _join_state(self, finals):
        return torch.stack([h for h, _ in finals]), torch.stack([c for _, c in finals])


class _StackedHidden(_Stacked):
    """A stack whose cells' state is one hidden tensor h (num_layers * D, B, N)."""

    def _split_state(self, state, batch, x):
        checks.state(state, "state", (len(self.cells), batch, self.cells[0].num_units), x)
        return list(state.unbind(0))

    def _join_state(self, finals):
        return torch.stack(finals)


class RNN(_StackedHidden):
    """Stacked, optionally bidirectional Elman RNN, like ``torch.nn.RNN``: h_t = f(W_ih x_t + W_hh h_{t-1} + b).

    nonlinearity: "tanh" or "relu" as in torch, or "logistic" / "linear". State h: (num_layers * D, B, H).
    ``backend="torch"`` runs torch's kernels (tanh and ReLU only, which they have).
    """

    backends = ("fused", "reference", "torch")
    torch_nonlinearities = ("tanh", "relu")      # the units torch's RNN kernels have

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, *,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 bidirectional: bool = False, dropout: float = 0.0, learn_initial_state: bool = False,
                 backend: str = "fused", device=None, dtype=None):
        D = 2 if bidirectional else 1
        cells = [FullyRecurrentCell(input_size if layer == 0 else D * hidden_size, hidden_size,
                                    activation=nonlinearity, bias=bias,
                                    learn_initial_state=learn_initial_state, device=device, dtype=dtype)
                 for layer in range(checks.positive_int("num_layers", num_layers)) for _ in range(D)]
        super().__init__(cells, num_layers, bidirectional, batch_first, dropout, backend)
        self.hidden_size = hidden_size

    @property
    def nonlinearity(self) -> str:
        """The units' activation name, as the cells hold it."""
        return self.cells[0].activation[0]

    @_Stacked.backend.setter
    def backend(self, name: str) -> None:
        if name == "torch" and self.nonlinearity not in self.torch_nonlinearities:
            raise ValueError(f"backend 'torch': torch's RNN kernels have tanh and relu units only, not "
                             f"{self.nonlinearity!r}; use 'fused'")
        _Stacked.backend.fset(self, name)

    @functools.cached_property
    def _torch_twin(self) -> nn.RNN:
        """The parameterless torch.nn.RNN that ``backend="torch"`` runs (built on first use)."""
        return parameterless_twin(nn.RNN, self.input_size, self.hidden_size, self.num_layers,
                                  self.num_directions == 2, nonlinearity=self.nonlinearity,
                                  bias=self.cells[0].bias is not None)


class FullyRecurrent(_StackedHidden):
    """One fully recurrent net of N units (see ``FullyRecurrentCell``) unrolled through time.

    Output: (T, B, len(output_units)); state h: (1, B, N).
    """

    def __init__(self, input_size: int, num_units: int, *, activation="tanh", connectivity=None,
                 input_connectivity=None, output_units=None, bias: bool = True,
                 learn_initial_state: bool = False, batch_first: bool = False,
                 backend: str = "fused", device=None, dtype=None):
        cell = FullyRecurrentCell(input_size, num_units, activation=activation,
                                  connectivity=connectivity, input_connectivity=input_connectivity,
                                  output_units=output_units, bias=bias,
                                  learn_initial_state=learn_initial_state, device=device, dtype=dtype)
        super().__init__([cell], 1, False, batch_first, 0.0, backend)

    @property
    def cell(self) -> FullyRecurrentCell:
        return self.cells[0]


class MemoryBlocks(_Stacked):
    """The LSTM of Hochreiter & Schmidhuber 1997 (see ``MemoryBlockCell``): memory blocks with write and read
    gates and no keep gate, the truncated gradient by default. One layer, one direction; the fused path
    (hand-derived BPTT, the default) or the reference loop (autograd through the loop; the truncation is a
    detach).

    Output: (T, B, blocks x cells_per_block); state (s, c): (1, B, U) recurrent sources and (1, B, N) cells.
    """

    def __init__(self, input_size: int, blocks: int, cells_per_block: int = 1, *,
                 write_gate_biases=None, read_gate_biases=None, init_range: float = 0.1, truncate: bool = True,
                 batch_first: bool = False, backend: str = "fused", device=None, dtype=None):
        cell = MemoryBlockCell(input_size, blocks, cells_per_block, write_gate_biases=write_gate_biases,
                               read_gate_biases=read_gate_biases, init_range=init_range, truncate=truncate,
                               device=device, dtype=dtype)
        super().__init__([cell], 1, False, batch_first, 0.0, backend)

    @property
    def cell(self) -> MemoryBlockCell:
        return self.cells[0]

    def _split_state(self, state, batch, x):
        if not (isinstance(state, tuple) and len(state) == 2):
            raise TypeError("state: expected a tuple (s, c) for MemoryBlocks")
        checks.state(state[0], "state s", (1, batch, self.cell.num_sources), x)
        checks.state(state[1], "state c", (1, batch, self.cell.num_cells), x)
        return [(state[0][0], state[1][0])]

    def _join_state(self, finals):
        (s, c), = finals
        return s[None], c[None]
