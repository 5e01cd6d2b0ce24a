"""Parity with torch.nn.LSTM and torch.nn.RNN given copied weights, float32, within 1e-5."""
import pytest
import torch
from torch import nn

import unroll
from unroll.cells import torch_gate_order

from helpers import loss_of, run_with_grads, twin_layers

TOL = 1e-5


def _torch_grad(theirs, name, lstm):
    """torch's gradient for one of our parameters (gates reordered, the two biases' grads are equal)."""
    if name.startswith("bias"):
        g = getattr(theirs, name.replace("bias", "bias_ih")).grad
    else:
        g = getattr(theirs, name).grad
    return torch_gate_order(g) if lstm else g


@pytest.mark.parametrize("kind,torch_kind", [(unroll.LSTM, nn.LSTM), (unroll.RNN, nn.RNN)])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("backend", ["fused", "reference"])
def test_parity_with_torch(kind, torch_kind, bidirectional, backend):
    torch.manual_seed(0)
    theirs = torch_kind(5, 8, 2, bidirectional=bidirectional, batch_first=True)
    ours = kind(5, 8, 2, bidirectional=bidirectional, batch_first=True, backend=backend)
    unroll.load_from_torch(ours, theirs)
    lstm = kind is unroll.LSTM
    D = 2 if bidirectional else 1
    x = torch.randn(3, 12, 5)
    h0 = torch.randn(2 * D, 3, 8)
    state = (h0, torch.randn(2 * D, 3, 8)) if lstm else h0

    x_ours, x_theirs = x.clone().requires_grad_(), x.clone().requires_grad_()
    out_o, state_o = ours(x_ours, state)
    out_t, state_t = theirs(x_theirs, state)
    torch.testing.assert_close(out_o, out_t, atol=TOL, rtol=0)
    for a, b in zip(state_o if lstm else (state_o,), state_t if lstm else (state_t,)):
        torch.testing.assert_close(a, b, atol=TOL, rtol=0)

    loss_of(out_o, state_o).backward()
    loss_of(out_t, state_t).backward()
    torch.testing.assert_close(x_ours.grad, x_theirs.grad, atol=TOL, rtol=0)
    for index, cell in enumerate(ours.cells):
        layer, direction = divmod(index, D)
        suffix = f"_l{layer}" + ("_reverse" if direction else "")
        for name in ("weight_ih", "weight_hh", "bias"):
            expected = _torch_grad(theirs, name + suffix, lstm)
            torch.testing.assert_close(getattr(cell, name).grad, expected, atol=TOL, rtol=0,
                                       msg=lambda m: f"{name}{suffix}: {m}")


def test_lengths_match_packed_sequences():
    torch.manual_seed(1)
    theirs = nn.LSTM(4, 6, bidirectional=True)
    ours = unroll.LSTM(4, 6, bidirectional=True)
    unroll.load_from_torch(ours, theirs)
    x = torch.randn(7, 3, 4)
    lengths = torch.tensor([7, 2, 5])
    packed = nn.utils.rnn.pack_padded_sequence(x, lengths, enforce_sorted=False)
    out_t, (h_t, c_t) = theirs(packed)
    out_t, _ = nn.utils.rnn.pad_packed_sequence(out_t, total_length=7)
    out_o, (h_o, c_o) = ours(x, lengths=lengths)
    torch.testing.assert_close(out_o, out_t, atol=TOL, rtol=0)
    torch.testing.assert_close(h_o, h_t, atol=TOL, rtol=0)
    torch.testing.assert_close(c_o, c_t, atol=TOL, rtol=0)


def test_load_from_torch_refuses_mismatch():
    with pytest.raises(ValueError, match="hidden_size"):
        unroll.load_from_torch(unroll.LSTM(4, 6), nn.LSTM(4, 7))
    with pytest.raises(TypeError, match="nn.LSTM"):
        unroll.load_from_torch(unroll.LSTM(4, 6), nn.RNN(4, 6))


TORCH_BACKEND_LAYERS = {"lstm": (unroll.LSTM, {}), "rnn-tanh": (unroll.RNN, {}),
                        "rnn-relu": (unroll.RNN, {"nonlinearity": "relu"}),
                        "rnn-relu-no-bias": (unroll.RNN, {"nonlinearity": "relu", "bias": False})}


@pytest.mark.parametrize("layer_kind", TORCH_BACKEND_LAYERS)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_torch_backend_matches_fused_in_float64(layer_kind, bidirectional, batch_first):
    """backend="torch" (torch's kernels on our parameters) against the fused path: outputs, final states and
    every gradient, with lengths, learned initial states or a given state (relative tolerance: ReLU
    activities with these weights grow to thousands)."""
    kind, options = TORCH_BACKEND_LAYERS[layer_kind]
    torch.manual_seed(1)
    x = torch.randn(3, 7, 3, dtype=torch.float64)
    x = x if batch_first else x.transpose(0, 1)
    D = 2 if bidirectional else 1
    h0, c0 = (torch.randn(2 * D, 3, 4, dtype=torch.float64) for _ in range(2))
    state = (h0, c0) if kind is unroll.LSTM else h0
    for learn_initial_state, kwargs in ((True, {"lengths": torch.tensor([7, 2, 5])}), (True, {}),
                                        (False, {"state": state, "lengths": torch.tensor([3, 7, 1])})):
        _, layer = twin_layers(kind, 3, 4, 2, bidirectional=bidirectional, batch_first=batch_first,
                               learn_initial_state=learn_initial_state, **options)
        expected = run_with_grads(layer, x, **kwargs)
        layer.backend = "torch"
        got = run_with_grads(layer, x, **kwargs)
        for a, b in zip(_flat(got), _flat(expected)):
            torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-12)


def _flat(result):
    out, state, grads = result
    return [out, *(state if isinstance(state, tuple) else (state,)), *grads]


def test_torch_backend_drops_out_between_layers_only_in_training():
    _, layer = twin_layers(unroll.LSTM, 3, 4, 2, dropout=0.5)
    x = torch.randn(6, 2, 3, dtype=torch.float64)
    layer.eval()
    expected = layer(x)[0]
    layer.backend = "torch"
    torch.testing.assert_close(layer(x)[0], expected, atol=1e-12, rtol=0)
    layer.train()
    assert (layer(x)[0] - expected).abs().max() > 1e-3


def test_torch_backend_is_refused_where_torch_lacks_the_feature():
    with pytest.raises(ValueError, match="peepholes or cell clipping"):
        unroll.LSTM(3, 4, peephole=True, backend="torch")
    layer = unroll.LSTM(3, 4, cell_clip=5.0)
    with pytest.raises(ValueError, match="peepholes or cell clipping"):
        layer.backend = "torch"
    assert layer.backend == "fused"
    with pytest.raises(ValueError, match="tanh and relu units only, not 'logistic'"):
        unroll.RNN(3, 4, nonlinearity="logistic", backend="torch")
    with pytest.raises(ValueError, match="backend: expected one of"):
        unroll.FullyRecurrent(3, 4, backend="torch")
