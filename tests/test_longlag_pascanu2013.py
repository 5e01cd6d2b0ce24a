"""The Pascanu, Mikolov & Bengio 2013 code variant of temporal order: layout, windows, target, balance, criterion."""
import math

import pytest
import torch
from torch.nn import functional as F

from helpers import positions
from unroll.data.task import make_task
from unroll.experiments.longlag.tasks import length_mixture


@pytest.mark.parametrize("length, windows", [(200, [(20, 39), (100, 119)]), (57, [(5, 9), (28, 32)])])
def test_layout_windows_target_and_balance(length, windows):
    task = make_task("temporal-order-2013", length=length)
    assert (task.input_size, task.output_size) == (6, 4)
    g, counts, seen = torch.Generator().manual_seed(3), torch.zeros(4), [set(), set()]
    for _ in range(10):
        x, y = task.batch(800, g)
        assert x.shape == (length, 800, 6) and (x.sum(-1) == 1).all()
        sym = x.argmax(-1)
        marked = sym < 2                                   # A (0) or B (1): exactly two per sequence
        assert (marked.sum(0) == 2).all()
        pos = positions(marked, 2)
        expected = torch.zeros(800, dtype=torch.long)
        for k, ((lo, hi), weight) in enumerate(zip(windows, (1, 2))):
            assert ((lo <= pos[k]) & (pos[k] <= hi)).all()
            seen[k] |= set(pos[k].tolist())
            expected += weight * sym[pos[k], torch.arange(800)]
        assert torch.equal(y, expected)                    # class v0 + 2 v1
        counts += torch.bincount(y, minlength=4)
        distract = sym[~marked]
        assert torch.allclose(torch.bincount(distract, minlength=6)[2:].float() / distract.numel(),
                              torch.full((4,), 0.25), atol=0.01)
    assert all(s == set(range(lo, hi + 1)) for s, (lo, hi) in zip(seen, windows))   # both ends reached
    assert torch.allclose(counts / counts.sum(), torch.full((4,), 0.25), atol=0.02)


def test_loss_and_the_papers_one_percent_criterion():
    task = make_task("temporal-order-2013", length=50)
    x, y = task.batch(1000, torch.Generator().manual_seed(0))
    out = torch.zeros(50, 1000, 4)
    assert task.loss(out, y).item() == pytest.approx(math.log(4), rel=1e-6)
    out[-1] = F.one_hot(y, 4).float()
    assert task.solved(task.metrics(out, y))
    out[-1, :10] = F.one_hot((y[:10] + 1) % 4, 4).float()   # 10 of 1,000 wrong: 1% is not below 1%
    assert task.metrics(out, y)["error_rate"] == 0.01 and not task.solved(task.metrics(out, y))


def test_training_lengths_are_their_u50_200_at_t200():
    mixture = length_mixture("temporal-order-2013", 200, (0.25, 1.0))
    g = torch.Generator().manual_seed(1)
    assert {mixture.batch(1, g)[0].shape[0] for _ in range(2000)} == set(range(50, 200))
    with pytest.raises(ValueError, match="length"):
        make_task("temporal-order-2013", length=9)
