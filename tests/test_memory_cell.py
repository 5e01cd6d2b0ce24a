"""The seed's example: an LSTM cell writes 4.2, keeps it 500 steps, reads it, clears it."""
from unroll.experiments.memory_cell import lstm_carry, rnn_carry


def test_lstm_keeps_the_written_value_and_its_derivative():
    r = lstm_carry(value=4.2, span=500)
    assert abs(r["stored"] - 4.2) < 1e-6
    assert abs(r["at_read"] - 4.2) < 1e-6          # kept while the inputs changed
    assert r["read_output"] > 0.999                # read: the output is tanh(4.2) through an open gate
    assert abs(r["after_clear"]) < 1e-6            # cleared
    assert abs(r["derivative"] - 1) < 1e-6         # d c_read / d c_written: the keep gates' product
    shut = r["trace"].stacked("hidden")[r["events"]["written"] + 1:r["events"]["read"]]
    assert shut.abs().max() < 1e-6                 # nothing leaks out while the read gate is shut


def test_tanh_rnn_derivative_vanishes_over_the_same_span():
    assert rnn_carry(radius=0.9, span=500) < 1e-10
