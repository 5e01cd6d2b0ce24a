"""The Arjovsky, Shah & Bengio 2016 variants: copy memory and adding, and their 'beats the baseline' criteria."""
import math

import pytest
import torch
from torch.nn import functional as F

from helpers import last_record_of_three_steps
from unroll.data.longlag import arjovsky2016 as a
from unroll.data.task import TASKS, make_task


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_registered_with_variant_names():
    assert TASKS["copy-memory-2016"] is a.CopyMemory2016 and TASKS["adding-2016"] is a.Adding2016
    for name in ("copy-memory-2016", "adding-2016"):
        task = make_task(name, length=100)
        assert task.name == name and "Arjovsky" in task.citation


def test_copy_layout_and_target():
    task = a.CopyMemory2016(30)
    x, y = task.batch(2000, gen(1))
    T = 30 + 20
    assert x.shape == (T, 2000, 10) and x.dtype == torch.float32 and y.shape == (T, 2000) and y.dtype == torch.long
    sym = x.argmax(-1)
    assert (x.sum(-1) == 1).all()
    assert ((sym[:10] >= 1) & (sym[:10] <= 8)).all()
    assert (sym[10:10 + 29] == 0).all()                  # T-1 blanks
    assert (sym[39] == 9).all() and (sym[40:] == 0).all()   # the marker, then 10 blanks
    assert (y[:T - 10] == 0).all() and torch.equal(y[T - 10:], sym[:10])
    share = torch.bincount(sym[:10].flatten(), minlength=9)[1:].float() / (10 * 2000)
    assert torch.allclose(share, torch.full((8,), 1 / 8), atol=0.01)
    x2, y2 = task.batch(2000, gen(1))
    x3, _ = task.batch(2000, gen(2))
    assert torch.equal(x, x2) and torch.equal(y, y2) and not torch.equal(x, x3)


def test_copy_loss_baseline_and_criterion():
    task = a.CopyMemory2016(30)
    x, y = task.batch(500, gen(3))
    T = x.shape[0]
    assert task.baseline == pytest.approx(10 * math.log(8) / 50)
    perfect = 20.0 * F.one_hot(y, 9).float()
    metrics = task.metrics(perfect, y)
    assert metrics["error_rate"] == 0 and metrics["beats_baseline"] == 1 and task.solved(metrics)
    # memoryless: blank with probability 0.99 for T+10 steps, then uniform over 1..8 (blank at -inf)
    memoryless = torch.zeros(T, 500, 9)
    memoryless[:T - 10, :, 0] = math.log(0.99 * 8 / 0.01)
    memoryless[T - 10:, :, 0] = -1e9
    metrics = task.metrics(memoryless, y)
    expected = ((T - 10) * -math.log(0.99) + 10 * math.log(8)) / T
    assert metrics["cross_entropy"] == pytest.approx(expected, rel=1e-5)
    assert metrics["cross_entropy"] > task.baseline and not task.solved(metrics) and metrics["beats_baseline"] == 0
    assert not task.solved({"cross_entropy": task.baseline})
    assert not task.solved({"cross_entropy": 0.95 * task.baseline})      # beating it takes a tenth
    assert task.solved({"cross_entropy": 0.9 * task.baseline})
    assert task.loss(torch.zeros(T, 500, 9), y).item() == pytest.approx(math.log(9), rel=1e-6)
    tiny = a.CopyMemory2016(1)
    out, target = torch.zeros(2, 1, 9), torch.tensor([[0], [3]])
    out[0, 0, 0] = 1.0
    hand = (-math.log(math.e / (math.e + 8)) + math.log(9)) / 2
    assert tiny.loss(out, target).item() == pytest.approx(hand, rel=1e-6)


def test_adding_layout_target_and_criterion():
    task = a.Adding2016(40)
    g, firsts, seconds = gen(4), set(), set()
    for _ in range(10):
        x, y = task.batch(500, g)
        assert x.shape == (40, 500, 2) and y.shape == (500,)
        marker, value = x[..., 1], x[..., 0]
        assert ((marker == 1).sum(0) == 2).all() and ((marker == 0) | (marker == 1)).all()
        i, j = marker[:20].argmax(0), 20 + marker[20:].argmax(0)
        assert (marker[:20].sum(0) == 1).all() and (marker[20:].sum(0) == 1).all()   # one per half
        firsts |= set(i.tolist()); seconds |= set(j.tolist())
        rows = torch.arange(500)
        assert torch.equal(y, value[i, rows] + value[j, rows])
    assert firsts == set(range(0, 20)) and seconds == set(range(20, 40))
    out = torch.zeros(40, 500, 1)
    out[-1, :, 0] = y
    metrics = task.metrics(out, y)
    assert metrics["mse"] == 0 and metrics["error_rate"] == 0 and task.solved(metrics)
    out[-1, :, 0] = 1.0                                   # the baseline itself: MSE about 1/6 on these sequences
    metrics = task.metrics(out, y)
    assert metrics["mse"] == pytest.approx(1 / 6, abs=0.02) and metrics["baseline"] == metrics["mse"]
    assert not task.solved(metrics) and metrics["beats_baseline"] == 0
    lucky = min((task.batch(1000, gen(s)) for s in range(20)), key=lambda xy: ((xy[1] - 1) ** 2).mean())[1]
    assert ((lucky - 1) ** 2).mean() < 0.96 / 6           # a held-out set on which "always 1" scores below 1/6 ...
    assert not task.solved(task.metrics(torch.ones(40, 1000, 1), lucky))  # ... does not make it beat the baseline
    out[-1, :, 0] = 0.5 + value[j, rows]                  # the second value remembered, the first not: MSE 1/12
    metrics = task.metrics(out, y)
    assert metrics["mse"] == pytest.approx(1 / 12, abs=0.01) and task.solved(metrics)
    assert not task.solved({"mse": 0.155, "baseline": 1 / 6})   # a plateau net 7% below: not yet
    out[-1, :250, 0] = y[:250] + 0.0399
    out[-1, 250:, 0] = y[250:] - 0.0401
    assert task.metrics(out, y)["error_rate"] == pytest.approx(0.5)
    out[:-1] = 3.0                                        # only the last step is read
    assert task.loss(out, y).item() == pytest.approx(((out[-1, :, 0] - y) ** 2).mean().item(), rel=1e-6)


@pytest.mark.parametrize("cls,bad", [(a.CopyMemory2016, 0), (a.CopyMemory2016, 2.5), (a.Adding2016, 1),
                                     (a.Adding2016, True), (a.Adding2016, "100")])
def test_bad_lengths(cls, bad):
    with pytest.raises(ValueError, match="length"):
        cls(bad)


def test_published_statements():
    copy = {r["length"]: r["figure"] for r in a.PUBLISHED if r["task"] == "copy-memory-2016"}
    adding = {r["length"]: r["figure"] for r in a.PUBLISHED if r["task"] == "adding-2016"}
    assert copy == {100: 1.0, 200: 0.0, 300: 0.0, 500: 0.0}
    assert adding == {100: 1.0, 200: 1.0, 400: 1.0, 750: 0.0}


@pytest.mark.parametrize("name", ["copy-memory-2016", "adding-2016"])
def test_fit_runs_three_steps(name):
    assert "beats_baseline" in last_record_of_three_steps(make_task(name, length=10))
