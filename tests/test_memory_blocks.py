"""The 1997 LSTM (memory blocks, no keep gate, truncated gradient): shapes, the carousel, and the gradient."""
import pytest
import torch

import unroll
from unroll.train import SequenceModel

torch.set_num_threads(1)


def _layer(truncate=True, seed=0, **options):
    torch.manual_seed(seed)
    return unroll.MemoryBlocks(3, 2, 2, truncate=truncate, dtype=torch.float64, **options)


def test_the_1997_adding_network_has_93_weights():
    """Exp. 4: 2 inputs, 2 blocks of 2 cells, one output reading the cells: 93 weights."""
    model = SequenceModel(unroll.MemoryBlocks(2, 2, 2, write_gate_biases=(-3.0, -6.0)), 1)
    assert sum(p.numel() for p in model.parameters()) == 93
    cell = model.layer.cell
    assert cell.bias[4:6].tolist() == [-3.0, -6.0]
    others = torch.cat([cell.weight_ih.flatten(), cell.weight_hh.flatten(), cell.bias[:4], cell.bias[6:]])
    assert others.abs().max() <= 0.1


def test_shapes_state_and_squashing_ranges():
    layer = _layer()
    x = 5 * torch.randn(7, 4, 3, dtype=torch.float64)
    y, (s, c) = layer(x)
    assert y.shape == (7, 4, 4) and s.shape == (1, 4, 8) and c.shape == (1, 4, 4)
    assert y.abs().max() < 1
    _, _, trace = unroll.unroll(layer.cell, x)
    g = trace.stacked("cell_input")
    assert g.abs().max() < 2 and trace.stacked("write_gate").shape == (7, 4, 2)
    y_rest, _ = layer(x[4:], layer(x[:4])[1])       # the state carries a sequence on
    assert torch.allclose(y_rest, y[4:])


def test_closed_write_gates_keep_the_cells_exactly():
    """No keep gate: with the write gates shut the carousel holds c unchanged, whatever the input."""
    layer = _layer(write_gate_biases=(-1e4, -1e4))
    c0 = torch.randn(1, 4, 4, dtype=torch.float64)
    s0 = torch.zeros(1, 4, 8, dtype=torch.float64)
    _, (_, c) = layer(torch.randn(50, 4, 3, dtype=torch.float64), (s0, c0))
    assert torch.equal(c, c0)


def test_closed_read_gates_hide_the_cells():
    """Read-gate biases land on the read gates' rows: shut, every output is 0 while the cells fill."""
    layer = _layer(read_gate_biases=(-1e4, -1e4))
    assert layer.cell.bias[6:].tolist() == [-1e4, -1e4]
    y, (_, c) = layer(torch.randn(20, 4, 3, dtype=torch.float64))
    assert y.abs().max() < 1e-300 and c.abs().sum() > 0


def test_full_gradient_matches_finite_differences():
    layer = _layer(truncate=False)
    x = torch.randn(6, 2, 3, dtype=torch.float64)
    params = tuple(layer.parameters())

    def loss(*ps):
        return torch.func.functional_call(layer, dict(zip(["cells.0.weight_ih", "cells.0.weight_hh",
                                                            "cells.0.bias"], ps)), (x,))[0].pow(2).sum()

    assert torch.autograd.gradcheck(loss, tuple(p.detach().requires_grad_() for p in params))


def test_truncated_gradient_is_the_gradient_with_the_recurrent_sources_frozen():
    """The truncated gradient equals the exact gradient of the net whose recurrent sources at each step are
    fixed to the values they took: error flows back in time through the cells' states only."""
    layer = _layer(truncate=True)
    cell = layer.cell
    x = torch.randn(8, 2, 3, dtype=torch.float64)
    _, _, trace = unroll.unroll(cell, x)
    frozen = [cell.initial_state(2)[0]] + [s.detach() for s, _ in trace.states[:-1]]

    def loss(w_ih, w_hh, b):
        c = torch.zeros(2, 4, dtype=torch.float64)
        total = 0
        for t in range(len(x)):
            a = x[t] @ w_ih.T + b + frozen[t] @ w_hh.T
            g = 4 * torch.sigmoid(a[:, :4]) - 2
            write, read = torch.sigmoid(a[:, 4:6]), torch.sigmoid(a[:, 6:])
            c = c + write.repeat_interleave(2, 1) * g
            total = total + (read.repeat_interleave(2, 1) * (2 * torch.sigmoid(c) - 1)).pow(2).sum()
        return total

    params = [p.detach().requires_grad_() for p in (cell.weight_ih, cell.weight_hh, cell.bias)]
    assert torch.autograd.gradcheck(loss, tuple(params))
    expected = torch.autograd.grad(loss(*params), params)
    got = torch.autograd.grad(layer(x)[0].pow(2).sum(), [cell.weight_ih, cell.weight_hh, cell.bias])
    for e, g in zip(expected, got):
        assert torch.allclose(e, g, atol=1e-12)
    untruncated = _layer(truncate=False)             # the same weights (same seed), the full gradient
    full = torch.autograd.grad(untruncated(x)[0].pow(2).sum(), untruncated.cell.weight_hh)[0]
    assert not torch.allclose(full, got[1])


@pytest.mark.parametrize("truncate", [True, False])
@pytest.mark.parametrize("lengths", [None, [7, 4, 1]])
@pytest.mark.parametrize("loops", ["native", "torch"])
def test_the_fused_path_equals_the_reference(truncate, lengths, loops, request):
    """Outputs, final state and every gradient (inputs, initial state, weights), with padding too."""
    if loops == "torch":
        request.getfixturevalue("pure_torch_kernels")
    torch.manual_seed(0)
    layer = unroll.MemoryBlocks(3, 2, 3, truncate=truncate, dtype=torch.float64)
    x = torch.randn(7, 3, 3, dtype=torch.float64, requires_grad=True)
    s0 = (0.5 * torch.randn(1, 3, layer.cell.num_sources, dtype=torch.float64)).requires_grad_()
    c0 = torch.randn(1, 3, layer.cell.num_cells, dtype=torch.float64, requires_grad=True)
    results = {}
    for backend in ("reference", "fused"):
        layer.backend = backend
        y, (s, c) = layer(x, (s0, c0), lengths=None if lengths is None else torch.tensor(lengths))
        weights = torch.linspace(-1, 1, y.numel(), dtype=torch.float64).view_as(y)
        loss = (y * weights).sum() + s.pow(2).sum() + 0.7 * c.sum()
        grads = torch.autograd.grad(loss, (x, s0, c0, *layer.parameters()), allow_unused=True,
                                    materialize_grads=True)
        results[backend] = (y, s, c, *grads)
    for fused, reference in zip(results["fused"], results["reference"]):
        torch.testing.assert_close(fused, reference, rtol=1e-12, atol=1e-12)
    if truncate:
        assert not results["fused"][4].any()       # no error reaches s0 through the cut sources
    with pytest.raises(RuntimeError, match="backend='reference'"):
        y, _ = layer(x)
        torch.autograd.grad(y.sum(), layer.cell.weight_hh, create_graph=True)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="write_gate_biases"):
        unroll.MemoryBlocks(2, 2, 2, write_gate_biases=(-1.0,))
    with pytest.raises(ValueError, match="read_gate_biases"):
        unroll.MemoryBlocks(2, 3, 2, read_gate_biases=(-1.0, -2.0))
    with pytest.raises(ValueError, match="backend"):
        unroll.MemoryBlocks(2, 2).backend = "torch"
    with pytest.raises(TypeError, match=r"\(s, c\)"):
        unroll.MemoryBlocks(2, 2)(torch.zeros(3, 1, 2), torch.zeros(1, 1, 4))


def test_the_lstm_1997_method_builds_the_papers_nets_and_learns_a_short_lag():
    from unroll.data import make_task
    from unroll.experiments.longlag.methods import get_method
    from unroll.experiments.longlag.runner import run_cell
    model = get_method("lstm-1997").build(make_task("adding-1997", length=100), 0)
    assert sum(p.numel() for p in model.parameters()) == 93
    assert all(p.abs().max() <= 0.1 for p in model.readout.parameters())
    x, _ = make_task("adding-1997", length=100).batch(3, torch.Generator().manual_seed(0))
    y, _, h = model(x, return_hidden=True)
    assert torch.equal(y, torch.sigmoid(model.readout(h)))          # the paper's logistic output unit
    order = get_method("lstm-1997").build(make_task("temporal-order-2bit-1997", length=100), 0)
    assert sum(p.numel() for p in order.parameters()) == 156        # Exp. 6a's count (Table 9)
    assert order.layer.cell.bias[4:6].tolist() == [-2.0, -4.0]
    reber = get_method("lstm-1997").build(make_task("embedded-reber-1997"), 0)
    assert not reber.logistic_output                                 # Reber's loss takes the logits
    assert sum(p.numel() for p in reber.parameters()) == 276 + 6     # Exp. 1's, plus biases on the 6 cells
    assert reber.layer.cell.bias[9:].tolist() == [-1.0, -2.0, -3.0] and reber.readout.bias is None
    two = get_method("lstm-1997").build(make_task("two-sequence-1997", length=100), 0)
    assert sum(p.numel() for p in two.parameters()) == 102           # Exp. 3a's count (Table 4)
    lr = {t: get_method("lstm-1997").config(t, steps=1, seed=0, eval_every=1, eval_size=1).lr
          for t in ("adding-1997", "multiplication-1997", "two-sequence-1997", "temporal-order-3bit-1997")}
    assert lr == {"adding-1997": 0.25, "multiplication-1997": 0.05, "two-sequence-1997": 0.5,    # alpha / 2
                  "temporal-order-3bit-1997": 0.05}
    overridden = get_method("lstm-1997").config("temporal-order-3bit-1997", steps=1, seed=0, eval_every=1,
                                                eval_size=1, overrides={"lr": 0.3})
    assert overridden.lr == 0.3                                      # a learning-rate search still sets it
    record = run_cell({"task": "two-sequence-1997", "length": 10, "method": "lstm-1997", "seed": 0, "budget": 3000,
                       "eval_every": 100, "eval_size": 200})
    assert record["solved"] and record["updates"] <= 2000     # online SGD, one sequence per update
