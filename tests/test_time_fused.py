"""The fused BPTT paths agree with the reference loop: outputs and every gradient, float64, 1e-10."""
import pytest
import torch

import unroll
from unroll.time import fused

from helpers import run_with_grads, twin_layers

TOL = 1e-10
LENGTHS = torch.tensor([9, 4, 7, 1, 9])


def assert_twins_agree(ref, fus, x, **kwargs):
    out_r, state_r, grads_r = run_with_grads(ref, x, **kwargs)
    out_f, state_f, grads_f = run_with_grads(fus, x, **kwargs)
    torch.testing.assert_close(out_f, out_r, atol=TOL, rtol=0)
    for a, b in zip(state_f if isinstance(state_f, tuple) else (state_f,),
                    state_r if isinstance(state_r, tuple) else (state_r,)):
        torch.testing.assert_close(a, b, atol=TOL, rtol=0)
    names = ["input"] + [n for n, _ in ref.named_parameters()]
    assert len(grads_f) == len(names)
    for name, gf, gr in zip(names, grads_f, grads_r):
        torch.testing.assert_close(gf, gr, atol=TOL, rtol=0, msg=lambda m: f"{name}: {m}")


@pytest.fixture(params=["native", "torch"])
def kernels(request, monkeypatch):
    """Both implementations of the fused time loops: C++ (when built) and plain torch."""
    if request.param == "torch":
        monkeypatch.setattr(fused, "_use_native", lambda t: False)
    elif not fused.native.available():
        pytest.skip("native kernels not built")
    return request.param


@pytest.mark.parametrize("peephole", [False, True])
@pytest.mark.parametrize("cell_clip", [None, 0.4])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("lengths", [None, LENGTHS])
def test_lstm_fused_equals_reference(kernels, peephole, cell_clip, bidirectional, lengths):
    ref, fus = twin_layers(unroll.LSTM, 3, 4, 2, peephole=peephole, cell_clip=cell_clip,
                           bidirectional=bidirectional, learn_initial_state=True)
    x = torch.randn(9, 5, 3, dtype=torch.float64)
    assert_twins_agree(ref, fus, x, lengths=lengths)


def test_lstm_clip_is_active_in_the_test():
    ref, _ = twin_layers(unroll.LSTM, 3, 4, 1, cell_clip=0.4)
    _, (_, c) = ref(torch.randn(9, 5, 3, dtype=torch.float64))
    assert (c.abs() == 0.4).any()


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu", "logistic", "linear"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("lengths", [None, LENGTHS])
def test_rnn_fused_equals_reference(kernels, nonlinearity, bidirectional, lengths):
    ref, fus = twin_layers(unroll.RNN, 3, 4, 2, nonlinearity=nonlinearity,
                           bidirectional=bidirectional, learn_initial_state=True)
    x = torch.randn(9, 5, 3, dtype=torch.float64)
    assert_twins_agree(ref, fus, x, lengths=lengths)


@pytest.mark.parametrize("lengths", [None, LENGTHS])
def test_fully_recurrent_fused_equals_reference(kernels, lengths):
    g = torch.Generator().manual_seed(1)
    wiring = (torch.rand(6, 6, generator=g) < 0.5).double()
    inputs = (torch.rand(6, 3, generator=g) < 0.7).double()
    ref, fus = twin_layers(unroll.FullyRecurrent, 3, 6,
                           activation=["tanh", "logistic", "linear", "relu", "tanh", "logistic"],
                           connectivity=wiring, input_connectivity=inputs, output_units=[0, 3, 5],
                           learn_initial_state=True)
    x = torch.randn(9, 5, 3, dtype=torch.float64)
    assert_twins_agree(ref, fus, x, lengths=lengths)


def test_given_initial_state_and_batch_first(kernels):
    ref, fus = twin_layers(unroll.LSTM, 3, 4, 2, batch_first=True, bidirectional=True)
    x = torch.randn(5, 9, 3, dtype=torch.float64)
    h0 = torch.randn(4, 5, 4, dtype=torch.float64)
    c0 = torch.randn(4, 5, 4, dtype=torch.float64)
    assert_twins_agree(ref, fus, x, state=(h0, c0), lengths=LENGTHS)


def test_fused_gates_equal_reference_trace(kernels):
    cell = unroll.LSTMCell(3, 4, peephole=True, dtype=torch.float64)
    x = torch.randn(6, 2, 3, dtype=torch.float64)
    _, _, trace = unroll.unroll(cell, x)
    _, _, internals = unroll.fused_unroll(cell, x)
    for k, name in enumerate(unroll.GATES):
        torch.testing.assert_close(internals["gates"][..., 4 * k:4 * k + 4], trace.stacked(name),
                                   atol=TOL, rtol=0)
    torch.testing.assert_close(internals["cell"], trace.stacked("cell"), atol=TOL, rtol=0)


def _gradcheck_lstm_inputs(peephole, masked):
    g = torch.Generator().manual_seed(2)
    T, B, I, H = 4, 3, 2, 3
    r = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64).requires_grad_(True)  # noqa: E731
    mask = None
    if masked:
        mask = unroll.step_mask(torch.tensor([4, 2, 3]), T, torch.float64)
    return (r(T, B, I), r(B, H), r(B, H), r(4 * H, I), r(4 * H, H), r(4 * H),
            r(3, H) if peephole else None, mask, 0.8 if masked else None)


@pytest.mark.parametrize("peephole", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_gradcheck_fused_lstm(kernels, peephole, masked):
    inputs = _gradcheck_lstm_inputs(peephole, masked)
    f = lambda *a: fused.FusedLSTM.apply(*a)[:2]  # noqa: E731
    assert torch.autograd.gradcheck(f, inputs)


@pytest.mark.parametrize("masked", [False, True])
def test_gradcheck_fused_rnn(kernels, masked):
    g = torch.Generator().manual_seed(3)
    r = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64).requires_grad_(True)  # noqa: E731
    mask = unroll.step_mask(torch.tensor([4, 2, 3]), 4, torch.float64) if masked else None
    acts = ("tanh", "logistic", "linear")
    inputs = (r(4, 3, 2), r(3, 3), r(3, 2), r(3, 3), r(3), acts, mask)
    assert torch.autograd.gradcheck(lambda *a: fused.FusedRNN.apply(*a), inputs)
