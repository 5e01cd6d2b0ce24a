"""The LSTM of Hochreiter & Schmidhuber 1997: memory blocks whose cells share a write and a read gate, with no
keep gate (the constant error carousel holds its state with weight 1.0), trained with the truncated gradient.

One time step, no loop. The recurrent sources are every cell's output and every gate's activation; with
``truncate`` the error reaching the net inputs of the cells and gates is not passed back through those
sources, so it flows back in time only through the cells' states, as in the 1997 paper.
"""
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from ..checks import positive_int


class MemoryBlockCell(nn.Module):
    """One step ``(x_t, (s, c)) -> (y_t, (s_t, c_t))`` of ``blocks`` memory blocks of ``cells_per_block`` cells.

    x_t: (B, input_size); c: (B, N) cell states, N = blocks x cells_per_block; s: (B, U) the recurrent sources
    (N cell outputs, then the blocks' write gates, then their read gates), U = N + 2 x blocks; y_t: (B, N).
    Per cell j of block b: g = 4 sigmoid(net_j) - 2, c_t = c + write_b g, y = read_b (2 sigmoid(c_t) - 1).
    Parameters: ``weight_ih`` (U, I), ``weight_hh`` (U, U), ``bias`` (U,), rows (cell inputs, write gates,
    read gates); all drawn from U[-init_range, init_range], then the write-gate biases set to
    ``write_gate_biases`` and the read-gate biases to ``read_gate_biases`` (one per block; the 1997 paper
    staggers one or the other negative). The initial state is zero.
    """

    def __init__(self, input_size: int, blocks: int, cells_per_block: int = 1, *,
                 write_gate_biases: Sequence[float] | None = None, read_gate_biases: Sequence[float] | None = None,
                 init_range: float = 0.1, truncate: bool = True, device=None, dtype=None):
        super().__init__()
        positive_int("input_size", input_size)
        positive_int("blocks", blocks)
        positive_int("cells_per_block", cells_per_block)
        if not init_range > 0:
            raise ValueError(f"init_range: expected a positive number, got {init_range!r}")
        for name, biases in (("write_gate_biases", write_gate_biases), ("read_gate_biases", read_gate_biases)):
            if biases is not None and len(biases) != blocks:
                raise ValueError(f"{name}: expected {blocks} values (one per block), got {len(biases)}")
        kw = {"device": device, "dtype": dtype}
        self.input_size, self.blocks, self.cells_per_block = input_size, blocks, cells_per_block
        self.num_cells = blocks * cells_per_block
        self.num_sources = self.num_cells + 2 * blocks
        self.init_range, self.truncate = float(init_range), truncate
        self.write_gate_biases = None if write_gate_biases is None else [float(b) for b in write_gate_biases]
        self.read_gate_biases = None if read_gate_biases is None else [float(b) for b in read_gate_biases]
        self.weight_ih = nn.Parameter(torch.empty(self.num_sources, input_size, **kw))
        self.weight_hh = nn.Parameter(torch.empty(self.num_sources, self.num_sources, **kw))
        self.bias = nn.Parameter(torch.empty(self.num_sources, **kw))
        self.reset_parameters()

    @property
    def output_size(self) -> int:
        return self.num_cells

    def reset_parameters(self) -> None:
        with torch.no_grad():
            for p in (self.weight_ih, self.weight_hh, self.bias):
                p.uniform_(-self.init_range, self.init_range)
            first = self.num_cells      # the write gates' rows, then the read gates'
            for biases in (self.write_gate_biases, self.read_gate_biases):
                if biases is not None:
                    self.bias[first:first + self.blocks] = torch.tensor(biases)
                first += self.blocks

    def initial_state(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(s_0, c_0): zeros, (batch, U) and (batch, N)."""
        zeros = self.bias.new_zeros
        return zeros(batch, self.num_sources), zeros(batch, self.num_cells)

    def step(self, x, state):
        """One step; returns (y_t, (s_t, c_t), record) where record names the gates, cell inputs and cells."""
        sources, c = state
        if self.truncate:
            sources = sources.detach()
        a = F.linear(x, self.weight_ih, self.bias) + F.linear(sources, self.weight_hh)
        a_cell, a_write, a_read = a.split([self.num_cells, self.blocks, self.blocks], dim=1)
        cell_input = 4 * torch.sigmoid(a_cell) - 2
        write, read = torch.sigmoid(a_write), torch.sigmoid(a_read)
        c_new = c + write.repeat_interleave(self.cells_per_block, dim=1) * cell_input
        y = read.repeat_interleave(self.cells_per_block, dim=1) * (2 * torch.sigmoid(c_new) - 1)
        record = {"write_gate": write, "read_gate": read, "cell_input": cell_input, "cell": c_new, "hidden": y}
        return y, (torch.cat([y, write, read], dim=1), c_new), record

    def forward(self, x, state):
        """(x_t, (s, c)) -> (y_t, (s_t, c_t))."""
        y, state, _ = self.step(x, state)
        return y, state

    def extra_repr(self) -> str:
        return (f"{self.input_size}, blocks={self.blocks}, cells_per_block={self.cells_per_block}, "
                f"truncate={self.truncate}")
