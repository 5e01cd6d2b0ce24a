"""Cells: wiring masks, read-out units, initial states, the reference trace."""
import torch

import unroll


def test_masked_weights_have_no_effect_and_no_gradient():
    wiring = torch.tensor([[1, 0, 0], [1, 1, 0], [0, 1, 1]], dtype=torch.float32)
    layer = unroll.FullyRecurrent(2, 3, connectivity=wiring, input_connectivity=[[1, 0], [0, 0], [0, 1]])
    x = torch.randn(5, 2, 2)
    out, _ = layer(x)
    with torch.no_grad():
        layer.cell.weight_hh.masked_fill_(wiring == 0, 123.0)
        layer.cell.weight_ih[1] = 7.0
    out2, _ = layer(x)
    torch.testing.assert_close(out, out2)
    out2.sum().backward()
    assert torch.all(layer.cell.weight_hh.grad[wiring == 0] == 0)
    assert torch.all(layer.cell.weight_ih.grad[1] == 0)


def test_output_units_are_read_out():
    layer = unroll.FullyRecurrent(2, 5, output_units=[4, 1])
    y, h = layer(torch.randn(3, 2, 2))
    assert y.shape == (3, 2, 2)
    torch.testing.assert_close(y[-1], h[0][:, [4, 1]])


def test_elman_rnn_is_the_fully_connected_special_case():
    rnn = unroll.RNN(3, 4, nonlinearity="relu")
    cell = rnn.cells[0]
    assert cell.connectivity is None and cell.output_units is None and set(cell.activation) == {"relu"}


def test_initial_states_are_zero_buffers_unless_learned():
    fixed = unroll.LSTM(2, 3)
    assert not any("initial" in n for n, _ in fixed.named_parameters())
    learned = unroll.LSTM(2, 3, learn_initial_state=True)
    out, _ = learned(torch.randn(4, 2, 2))
    out.sum().backward()
    cell = learned.cells[0]
    assert cell.initial_hidden.grad.abs().sum() > 0 and cell.initial_cell.grad.abs().sum() > 0


def test_keep_gate_bias_initialisation():
    cell = unroll.LSTMCell(2, 3, keep_gate_bias=2.5)
    assert torch.all(cell.bias[3:6] == 2.5)


def test_padding_keeps_state_and_zeroes_output():
    lstm = unroll.LSTM(2, 3)
    x = torch.randn(6, 2, 2)
    out, (h, c) = lstm(x, lengths=torch.tensor([6, 3]))
    short, (h_short, c_short) = lstm(x[:3, 1:])
    assert torch.all(out[3:, 1] == 0)
    torch.testing.assert_close(out[:3, 1:], short)
    torch.testing.assert_close(h[0, 1], h_short[0, 0])
    torch.testing.assert_close(c[0, 1], c_short[0, 0])


def test_trace_holds_every_step():
    cell = unroll.LSTMCell(2, 3, peephole=True)
    ys, (h, c), trace = unroll.unroll(cell, torch.randn(5, 2, 2))
    assert len(trace.states) == 5 and trace.stacked("keep_gate").shape == (5, 2, 3)
    torch.testing.assert_close(trace.stacked("hidden"), ys)
    assert trace.hidden_states()[-1] is h
    assert trace.states[-1][0] is h
