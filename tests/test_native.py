"""The C++ time loops agree with the torch recurrences they implement; loading them cannot hang."""
import pytest
import torch
from torch.utils import cpp_extension

from unroll.cells.activations import NAMES
from unroll.time import lstm_recurrence, memory_blocks_recurrence, native, rnn_recurrence

TOLERANCE = {torch.float64: 1e-12, torch.float32: 1e-5}


@pytest.fixture(autouse=True)
def _native():
    if not native.available():
        pytest.skip("the C++ extension is not available")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _close(actual, expected, dtype):
    tol = TOLERANCE[dtype]
    torch.testing.assert_close(actual, expected, rtol=tol, atol=tol)


def _mask(lengths, steps, dtype):
    """(T, B, 1): 1 for the first lengths[b] steps of sequence b, 0 on its padding."""
    return (torch.arange(steps)[:, None] < torch.tensor(lengths)[None, :]).to(dtype)[..., None]


def _lengths(steps, batch):
    return [steps - (b % 3) * (steps // 3) - (b % 2) for b in range(batch)]


def _expanded(gen, batch, size, dtype):
    """A (batch, size) stride-0 view, as a learnt initial state arrives."""
    return torch.randn(size, generator=gen, dtype=dtype).expand(batch, -1)


# batch 11 spans a full and a partial block of rows, H = 37 full and partial panels of columns
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("batch", [3, 11])
@pytest.mark.parametrize("peephole", [False, True])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("cell_clip", [None, 0.5])
def test_lstm_matches_torch_recurrence(dtype, batch, peephole, masked, cell_clip, hidden=37):
    gen = torch.Generator().manual_seed(0)
    steps = 9
    scale = 2.0 if cell_clip else 0.5  # large weights drive the cells past the clip
    xproj = scale * torch.randn(steps, batch, 4 * hidden, generator=gen, dtype=dtype)
    w_hh = scale * torch.randn(4 * hidden, hidden, generator=gen, dtype=dtype) / hidden ** 0.5
    peep = torch.randn(3, hidden, generator=gen, dtype=dtype) if peephole else None
    h0 = _expanded(gen, batch, hidden, dtype)
    c0 = _expanded(gen, batch, hidden, dtype)
    mask = _mask(_lengths(steps, batch), steps, dtype) if masked else None
    args = (h0, c0, w_hh, peep, mask, cell_clip)

    expected = lstm_recurrence.forward(xproj, *args)
    actual = native.lstm_forward(xproj, *args)
    for a, e in zip(actual, expected):
        _close(a, e, dtype)
    if cell_clip is not None:
        assert (expected[1].abs() == cell_clip).any(), "the clip never acted"

    hs, cs, gates = expected
    grad_hs = torch.randn(hs.shape, generator=gen, dtype=dtype)
    grad_cs = torch.randn(cs.shape, generator=gen, dtype=dtype)
    back = (grad_hs, grad_cs, h0, c0, hs, cs, gates, w_hh, peep, mask, cell_clip)
    for a, e in zip(native.lstm_backward(*back), lstm_recurrence.backward(*back)):
        _close(a, e, dtype)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("batch", [3, 11])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("kinds", [(name,) for name in NAMES] + [NAMES])
def test_rnn_matches_torch_recurrence(dtype, batch, masked, kinds):
    gen = torch.Generator().manual_seed(1)
    steps, units = 9, 37
    activation = tuple(kinds[j % len(kinds)] for j in range(units))
    codes = torch.tensor([NAMES.index(name) for name in activation])
    xproj = torch.randn(steps, batch, units, generator=gen, dtype=dtype)
    w_hh = 0.9 * torch.randn(units, units, generator=gen, dtype=dtype) / units ** 0.5
    h0 = _expanded(gen, batch, units, dtype)
    mask = _mask(_lengths(steps, batch), steps, dtype) if masked else None

    hs = rnn_recurrence.forward(xproj, h0, w_hh, activation, mask)
    _close(native.rnn_forward(xproj, h0, w_hh, codes, mask), hs, dtype)

    grad_hs = torch.randn(hs.shape, generator=gen, dtype=dtype)
    expected = rnn_recurrence.backward(grad_hs, h0, hs, w_hh, activation, mask)
    actual = native.rnn_backward(grad_hs, h0, hs, w_hh, codes, mask)
    for a, e in zip(actual, expected):
        _close(a, e, dtype)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_lstm_large_weights(dtype):
    """Weights past the cache-sized limit take the whole batch per product."""
    test_lstm_matches_torch_recurrence(dtype, 11, True, True, None, hidden=400)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("batch", [1, 11])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("blocks, k", [(2, 2), (5, 8)])
def test_memory_blocks_forward_matches_torch_recurrence(dtype, batch, masked, blocks, k):
    gen = torch.Generator().manual_seed(0)
    steps, cells = 9, blocks * k
    units = cells + 2 * blocks
    xproj = torch.randn(steps, batch, units, generator=gen, dtype=dtype)
    w_hh = torch.randn(units, units, generator=gen, dtype=dtype) / units ** 0.5
    s0 = _expanded(gen, batch, units, dtype)
    c0 = _expanded(gen, batch, cells, dtype)
    mask = _mask(_lengths(steps, batch), steps, dtype) if masked else None
    expected = memory_blocks_recurrence.forward(xproj, s0, c0, w_hh, k, mask)
    for a, e in zip(native.memory_blocks_forward(xproj, s0, c0, w_hh, k, mask), expected):
        _close(a, e, dtype)


def test_empty_sequence():
    h0 = c0 = torch.randn(2, 3)
    w_hh = torch.randn(12, 3)
    hs, cs, gates = native.lstm_forward(torch.empty(0, 2, 12), h0, c0, w_hh, None, None, None)
    assert hs.shape == cs.shape == (0, 2, 3) and gates.shape == (0, 2, 12)
    _, dh0, dc0 = native.lstm_backward(hs, cs, h0, c0, hs, cs, gates, w_hh, None, None, None)
    assert not dh0.any() and not dc0.any()


def test_environment_switch(monkeypatch):
    monkeypatch.setenv("UNROLL_NATIVE", "0")
    assert not native.available()


# batch 33 leaves a partial block of rows in the last thread's share; 16 is the smallest split
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("batch", [16, 33])
@pytest.mark.parametrize("hidden", [37, 400])
def test_lstm_threads_bitwise(dtype, batch, hidden):
    """Two threads split each step over the batch and give bit-for-bit the one-thread results."""
    gen = torch.Generator().manual_seed(2)
    steps = 7
    xproj = 2.0 * torch.randn(steps, batch, 4 * hidden, generator=gen, dtype=dtype)
    w_hh = 2.0 * torch.randn(4 * hidden, hidden, generator=gen, dtype=dtype) / hidden ** 0.5
    peep = torch.randn(3, hidden, generator=gen, dtype=dtype)
    h0 = torch.randn(batch, hidden, generator=gen, dtype=dtype)
    c0 = torch.randn(batch, hidden, generator=gen, dtype=dtype)
    mask = _mask(_lengths(steps, batch), steps, dtype)
    args = (h0, c0, w_hh, peep, mask, 0.5)
    grad_hs = torch.randn(steps, batch, hidden, generator=gen, dtype=dtype)
    grad_cs = torch.randn(steps, batch, hidden, generator=gen, dtype=dtype)

    def run():
        hs, cs, gates = native.lstm_forward(xproj, *args)
        back = native.lstm_backward(grad_hs, grad_cs, h0, c0, hs, cs, gates, w_hh, peep, mask,
                                    0.5)
        return (hs, cs, gates) + tuple(back)

    one = run()
    torch.set_num_threads(2)  # the fixture restores the count
    two = run()
    assert (one[1].abs() == 0.5).any(), "the clip never acted"
    for a, b in zip(one, two):
        assert torch.equal(a, b)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("batch", [16, 33])
def test_rnn_threads_bitwise(dtype, batch):
    gen = torch.Generator().manual_seed(3)
    steps, units = 7, 37
    codes = torch.tensor([j % len(NAMES) for j in range(units)])
    xproj = torch.randn(steps, batch, units, generator=gen, dtype=dtype)
    w_hh = 0.9 * torch.randn(units, units, generator=gen, dtype=dtype) / units ** 0.5
    h0 = torch.randn(batch, units, generator=gen, dtype=dtype)
    mask = _mask(_lengths(steps, batch), steps, dtype)
    grad_hs = torch.randn(steps, batch, units, generator=gen, dtype=dtype)

    def run():
        hs = native.rnn_forward(xproj, h0, w_hh, codes, mask)
        return (hs,) + tuple(native.rnn_backward(grad_hs, h0, hs, w_hh, codes, mask))

    one = run()
    torch.set_num_threads(2)  # the fixture restores the count
    two = run()
    for a, b in zip(one, two):
        assert torch.equal(a, b)


def test_a_built_library_loads_without_the_build_system(monkeypatch):
    """Once built, loading takes no build lock: a process killed while loading cannot leave one behind."""
    def no_build(*args, **kwargs):
        raise AssertionError("cpp_extension.load was called for an already built library")
    monkeypatch.setattr(cpp_extension, "load", no_build)
    assert native._compile() == native._build_directory()
