"""Bad input gets a ValueError/TypeError naming the argument, what was expected and what came."""
import pytest
import torch

import unroll


@pytest.fixture
def lstm():
    return unroll.LSTM(3, 4, 2)


@pytest.mark.parametrize("x,error,pattern", [
    (torch.zeros(5, 3), ValueError, r"input: expected 3 dimensions .*got shape \(5, 3\)"),
    (torch.zeros(5, 2, 4), ValueError, r"input: expected 3 features .*got shape \(5, 2, 4\)"),
    (torch.zeros(5, 2, 3, dtype=torch.int64), TypeError, r"input: .*floating.*int64"),
    (torch.zeros(5, 2, 3, dtype=torch.complex64), TypeError, r"input: .*floating.*complex64"),
    (torch.zeros(5, 2, 3, dtype=torch.float64), TypeError, r"input: expected dtype torch.float32"),
    (torch.full((5, 2, 3), float("nan")), ValueError, r"input: contains NaN or inf"),
    (torch.full((5, 2, 3), float("inf")), ValueError, r"input: contains NaN or inf"),
    (torch.zeros(0, 2, 3), ValueError, r"input: expected at least one step"),
    ([[1.0, 2.0, 3.0]], TypeError, r"input: expected a torch.Tensor"),
])
def test_bad_input(lstm, x, error, pattern):
    with pytest.raises(error, match=pattern):
        lstm(x)


@pytest.mark.parametrize("lengths,error,pattern", [
    (torch.tensor([5, 6]), ValueError, r"lengths: expected values in 1\.\.5 .*got values in 5\.\.6"),
    (torch.tensor([0, 3]), ValueError, r"lengths: expected values in 1\.\.5"),
    (torch.tensor([5, 3, 2]), ValueError, r"lengths: expected shape \(2,\)"),
    (torch.tensor([5.0, 3.0]), TypeError, r"lengths: expected an integer tensor"),
])
def test_bad_lengths(lstm, lengths, error, pattern):
    with pytest.raises(error, match=pattern):
        lstm(torch.zeros(5, 2, 3), lengths=lengths)


def test_bad_state(lstm):
    x = torch.zeros(5, 2, 3)
    with pytest.raises(ValueError, match=r"state h: expected shape \(2, 2, 4\), got \(1, 2, 4\)"):
        lstm(x, (torch.zeros(1, 2, 4), torch.zeros(2, 2, 4)))
    with pytest.raises(TypeError, match=r"state: expected a tuple \(h, c\)"):
        lstm(x, torch.zeros(2, 2, 4))
    rnn = unroll.RNN(3, 4)
    with pytest.raises(ValueError, match=r"state: expected shape \(1, 2, 4\)"):
        rnn(x, torch.zeros(1, 4))


@pytest.mark.parametrize("make,pattern", [
    (lambda: unroll.LSTM(0, 4), r"input_size: expected a positive int, got 0"),
    (lambda: unroll.LSTM(3, 4, backend="fast"), r"backend: expected one of"),
    (lambda: unroll.LSTM(3, 4, cell_clip=-1.0), r"cell_clip: expected a positive number"),
    (lambda: unroll.LSTM(3, 4, num_layers=0), r"num_layers: expected a positive int"),
    (lambda: unroll.RNN(3, 4, nonlinearity="softsign"), r"activation: expected one of"),
    (lambda: unroll.FullyRecurrent(3, 4, activation=["tanh"] * 3), r"activation: expected one name or 4"),
    (lambda: unroll.FullyRecurrent(3, 4, connectivity=torch.ones(3, 4)), r"connectivity: expected a 0/1 mask of shape \(4, 4\)"),
    (lambda: unroll.FullyRecurrent(3, 4, connectivity=torch.full((4, 4), 0.5)), r"connectivity: expected only 0 and 1"),
    (lambda: unroll.FullyRecurrent(3, 4, output_units=[4]), r"output_units: expected indices in 0\.\.3"),
])
def test_bad_construction(make, pattern):
    with pytest.raises(ValueError, match=pattern):
        make()
