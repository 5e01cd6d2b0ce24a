"""The Martens & Sutskever 2011 code variants: layouts, bounds, targets, balance and criteria against the spec."""
import math

import pytest
import torch
from torch.nn import functional as F

from helpers import last_record_of_three_steps, positions
from unroll.data.longlag import martens2011 as m
from unroll.data.task import TASKS, make_task

NAMES = ["adding-2011", "multiplication-2011", "xor-2011", "temporal-order-2bit-2011",
         "temporal-order-3bit-2011", "random-permutation-2011", "memorization-5bit-2011",
         "memorization-20bit-2011"]


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def lengths_seen(task, batches=300, size=2):
    g = gen(1)
    return {task.batch(size, g)[0].shape[0] for _ in range(batches)}


def test_registered_with_variant_names_and_citation():
    for name in NAMES:
        task = make_task(name, length=100)
        assert TASKS[name] is type(task) and task.name == name
        assert "Martens" in task.citation and "[secondary]" in type(task).__doc__


@pytest.mark.parametrize("name", NAMES)
def test_shapes_dtypes_and_seeds(name):
    task = make_task(name, length=50)
    x, y = task.batch(16, gen(3))
    x2, y2 = task.batch(16, gen(3))
    x3, _ = task.batch(16, gen(4))
    assert x.dtype == torch.float32 and x.dim() == 3 and x.shape[1:] == (16, task.input_size)
    assert torch.equal(x, x2) and torch.equal(y, y2) and not torch.equal(x[: x3.shape[0]], x3[: x.shape[0]])
    if task.target_batch_dim == 1:
        assert y.shape == (x.shape[0], 16) and y.dtype == torch.long
    else:
        assert y.shape == (16,)


def test_window_arithmetic_is_exact():
    # [T/100, T/10) at T=200 is {2..19}; at T=150 {2..14} (ceil 1.5 = 2; 15 excluded); closed [T/100, T/10] {2..15}
    assert m.half_open(200, 1, 100, 1, 10) == (2, 19)
    assert m.half_open(150, 1, 100, 1, 10) == (2, 14)
    assert m.closed(150, 1, 100, 1, 10) == (2, 15)
    assert m.closed(155, 2, 5, 1, 2) == (62, 77)          # [62.0, 77.5]
    assert m.half_open(100, 1, 1, 11, 10) == (100, 109)   # U[T, 1.1T) has no 110 (1.1*100 is 110.00000000000001)


@pytest.mark.parametrize("name", ["adding-2011", "multiplication-2011"])
def test_arithmetic_layout_and_target(name):
    task = make_task(name, length=100)
    assert lengths_seen(task) == set(range(100, 110))
    firsts, seconds = set(), set()
    g = gen(5)
    for _ in range(20):
        x, y = task.batch(200, g)
        T = x.shape[0]
        marker, value = x[..., 1], x[..., 0]
        assert (marker[0] == -1).all() and (marker[T - 3] == -1).all() and (marker == -1).sum() == 2 * 200
        assert ((marker == 1).sum(0) == 2).all()
        pos = positions(marker == 1, 2)
        i, j = pos[0], pos[1]
        assert ((1 <= i) & (i < 10)).all() and ((10 <= j) & (j < 50)).all()
        firsts |= set(i.tolist()); seconds |= set(j.tolist())
        a, b = value[i, torch.arange(200)], value[j, torch.arange(200)]
        assert torch.equal(y, a + b if name == "adding-2011" else a * b)
        assert value.min() >= 0 and value.max() < 1
    assert firsts == set(range(1, 10)) and seconds == set(range(10, 50))


def test_arithmetic_criterion_and_loss():
    task = m.Adding2011(100)
    x, y = task.batch(100, gen(0))
    out = torch.zeros(x.shape[0], 100, 1)
    out[-1, :, 0] = y
    metrics = task.metrics(out, y)
    assert metrics["error_rate"] == 0 and task.solved(metrics) and task.loss(out, y).item() == 0
    out[-1, :50, 0] = y[:50] + 0.0399       # just under: right
    out[-1, 50:, 0] = y[50:] - 0.0401       # just over: wrong
    assert task.metrics(out, y)["error_rate"] == pytest.approx(0.5)
    assert not task.solved(task.metrics(out, y))
    out[-1, :, 0] = 1.0                      # a memoryless guess (the mean of A+B)
    assert not task.solved(task.metrics(out, y))
    out[:-1] = 7.0                           # only the last step is read
    assert task.loss(out, y).item() == pytest.approx(((1 - y) ** 2).mean().item(), rel=1e-6)
    assert task.solved({"error_rate": 0.0099}) and not task.solved({"error_rate": 0.01})


def test_xor_layout_target_and_balance():
    task = m.Xor2011(200)
    assert lengths_seen(task) == set(range(100, 110))    # [0.5T, 0.55T)
    g, firsts, seconds = gen(2), set(), set()
    for _ in range(10):
        x, y = task.batch(500, g)
        marker, bits = x[..., 1], x[..., 0]
        assert ((marker == 1).sum(0) == 2).all() and ((marker == 0) | (marker == 1)).all()
        pos = positions(marker == 1, 2)
        i, j = pos
        assert ((2 <= i) & (i < 20)).all() and ((30 <= j) & (j < 50)).all()
        firsts |= set(i.tolist()); seconds |= set(j.tolist())
        rows = torch.arange(500)
        assert torch.equal(y, (bits[i, rows] + bits[j, rows]) % 2)
        assert ((bits == 0) | (bits == 1)).all() and abs(bits.mean().item() - 0.5) < 0.01
        assert abs(y.mean().item() - 0.5) < 0.07
    assert firsts == set(range(2, 20)) and seconds == set(range(30, 50))
    out = torch.zeros(x.shape[0], 500, 1)
    out[-1, :, 0] = 4 * y - 2                              # logits +-2 on the right side
    assert task.metrics(out, y)["error_rate"] == 0 and task.solved(task.metrics(out, y))
    assert task.loss(out, y).item() == pytest.approx(math.log(1 + math.exp(-2)), rel=1e-5)
    assert not task.solved(task.metrics(torch.zeros_like(out) + 1, y))


@pytest.mark.parametrize("name,windows", [
    ("temporal-order-2bit-2011", [(2, 20), (80, 100)]),
    ("temporal-order-3bit-2011", [(2, 20), (60, 80), (100, 120)]),
])
def test_temporal_order_layout_target_and_balance(name, windows):
    task = make_task(name, length=200)
    classes = 2 ** len(windows)
    assert task.input_size == 8 and task.output_size == classes
    assert lengths_seen(task, 200) == set(range(200, 220))
    seen = [set() for _ in windows]
    g, counts = gen(7), torch.zeros(classes)
    for _ in range(10):
        x, y = task.batch(800, g)
        T = x.shape[0]
        sym = x.argmax(-1)
        assert (x.sum(-1) == 1).all()
        assert (sym[0] == 7).all() and (sym[T - 1] == 6).all() and (sym[1:T - 1] < 6).all()
        xy = (sym == 4) | (sym == 5)
        assert (xy.sum(0) == len(windows)).all()
        pos = positions(xy, len(windows))
        expected = torch.zeros(800, dtype=torch.long)
        for k, (lo, hi) in enumerate(windows):
            assert ((lo <= pos[k]) & (pos[k] <= hi)).all()
            seen[k] |= set(pos[k].tolist())
            expected = 2 * expected + (sym[pos[k], torch.arange(800)] == 5).long()
        assert torch.equal(y, expected)
        counts += torch.bincount(y, minlength=classes)
        distract = sym[1:T - 1][~xy[1:T - 1]]
        assert torch.allclose(torch.bincount(distract, minlength=4).float() / distract.numel(),
                              torch.full((4,), 0.25), atol=0.01)
    assert all(s == set(range(lo, hi + 1)) for s, (lo, hi) in zip(seen, windows))   # closed windows, both ends
    assert torch.allclose(counts / counts.sum(), torch.full((classes,), 1 / classes), atol=0.02)
    out = torch.zeros(T, 800, classes)
    assert task.loss(out, y).item() == pytest.approx(math.log(classes), rel=1e-6)
    assert not task.solved(task.metrics(out, y))
    out[-1] = F.one_hot(y, classes).float()
    assert task.metrics(out, y)["error_rate"] == 0 and task.solved(task.metrics(out, y))


def test_random_permutation_layout_and_target():
    task = m.RandomPermutation2011(100)
    assert task.input_size == task.output_size == 100
    assert lengths_seen(task) == set(range(100, 110))
    x, y = task.batch(2000, gen(8))
    sym = x.argmax(-1)
    assert (x.sum(-1) == 1).all() and torch.equal(y, sym[0])
    assert ((sym[0] == 0) | (sym[0] == 1)).all() and abs(y.float().mean().item() - 0.5) < 0.03
    assert sym[1:].min() == 2 and sym[1:].max() == 99
    out = torch.zeros(x.shape[0], 2000, 100)
    assert task.loss(out, y).item() == pytest.approx(math.log(100), rel=1e-6)
    out[-1] = F.one_hot(y, 100).float()
    out[:-1] = F.one_hot(1 - y, 100).float()               # only the last step is scored
    assert task.metrics(out, y)["error_rate"] == 0 and task.solved(task.metrics(out, y))
    out[-1, :10] = F.one_hot(1 - y[:10], 100).float()       # 0.5% wrong: still solved; 1% not
    assert task.metrics(out, y)["error_rate"] == pytest.approx(0.005) and task.solved(task.metrics(out, y))
    out[-1, :20] = F.one_hot(1 - y[:20], 100).float()
    assert not task.solved(task.metrics(out, y))


@pytest.mark.parametrize("name,n,k", [("memorization-5bit-2011", 5, 2), ("memorization-20bit-2011", 10, 5)])
def test_memorization_layout_target_and_criterion(name, n, k):
    task = make_task(name, length=30)
    assert (task.input_size, task.output_size) == (k + 2, k + 1)
    assert lengths_seen(task, 20) == {30 + 2 * n}
    x, y = task.batch(1000, gen(9))
    T = 30 + 2 * n
    sym = x.argmax(-1)
    assert (x.sum(-1) == 1).all() and (sym[:n] < k).all()
    assert (sym[n:T - n - 1] == k).all() and (sym[T - n - 1] == k + 1).all() and (sym[T - n:] == k).all()
    assert (y[:T - n] == k).all() and torch.equal(y[T - n:], sym[:n])
    share = torch.bincount(sym[:n].flatten(), minlength=k).float() / (n * 1000)
    assert torch.allclose(share, torch.full((k,), 1 / k), atol=0.02)
    perfect = F.one_hot(y, k + 1).float()
    assert task.metrics(perfect, y)["error_rate"] == 0 and task.solved(task.metrics(perfect, y))
    one_off = perfect.clone()
    one_off[3, :50] = F.one_hot(torch.zeros(50, dtype=torch.long), k + 1).float()   # one blank step wrong in 5%
    metrics = task.metrics(one_off, y)
    assert metrics["error_rate"] == pytest.approx(0.05) and not task.solved(metrics)
    memoryless = F.one_hot(torch.full_like(y, k), k + 1).float()                   # always blank
    metrics = task.metrics(memoryless, y)
    assert metrics["error_rate"] == 1 and metrics["step_accuracy"] == pytest.approx((T - n) / T)
    uniform = torch.zeros(T, 1000, k + 1)
    assert task.loss(uniform, y).item() == pytest.approx(math.log(k + 1), rel=1e-6)
    tiny_out, tiny_y = torch.tensor([[[2.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]]]), torch.tensor([[0], [2]])
    hand = (-math.log(math.exp(2) / (math.exp(2) + 2)) - math.log(1 / (2 + math.e))) / 2
    assert m.Memorization5Bit2011(1).loss(tiny_out, tiny_y).item() == pytest.approx(hand, rel=1e-6)


@pytest.mark.parametrize("cls,bad", [
    (m.Adding2011, 10), (m.Adding2011, 0), (m.Adding2011, 100.0), (m.Adding2011, True),
    (m.Xor2011, 5), (m.TemporalOrder2Bit2011, 9), (m.TemporalOrder3Bit2011, "200"),
    (m.RandomPermutation2011, -1), (m.Memorization5Bit2011, 0),
])
def test_bad_lengths(cls, bad):
    with pytest.raises(ValueError, match="length"):
        cls(bad)


def test_published_figures_name_registered_variants():
    for row in m.PUBLISHED:
        assert row["task"] is None or row["task"] in NAMES
        assert {"length", "method", "figure", "unit", "source"} <= set(row)
    table5 = {(r["task"], r["length"]): r["figure"] for r in m.PUBLISHED if "Nesterov" in r["source"]}
    assert table5 == {("adding-2011", 80): 0.00025, ("multiplication-2011", 80): 0.0013,
                      ("memorization-5bit-2011", 200): 0.63, ("memorization-20bit-2011", 80): 5e-05}
    assert any("[secondary]" in r["source"] for r in m.PUBLISHED)


@pytest.mark.parametrize("name", NAMES)
def test_fit_runs_three_steps(name):
    assert "error_rate" in last_record_of_three_steps(make_task(name, length=20))
