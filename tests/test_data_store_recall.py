"""store_recall: a value stored at a write cue must be output at a read cue `lag` steps later."""
import pytest
import torch

from unroll.data import StoreRecall, make_task


def _batch(task, size=64, seed=0):
    return task.batch(size, torch.Generator().manual_seed(seed))


def test_layout_cues_and_targets():
    task = StoreRecall(lag=7, write_window=3)
    x, target = _batch(task)
    assert x.shape == (10, 64, 3) and target.shape == (10, 64, 2)
    assert (x[..., 1].sum(0) == 1).all() and (x[..., 2].sum(0) == 1).all()     # one write cue, one read cue
    write, read = x[..., 1].argmax(0), x[..., 2].argmax(0)
    assert (write < 3).all() and (read - write == 7).all()
    rows = torch.arange(64)
    assert torch.equal(target[..., 1], x[..., 2])                                 # the target sits at the read
    assert torch.equal(target[read, rows, 0], x[write, rows, 0])                  # and is the written value
    assert (target[..., 0] * (1 - target[..., 1]) == 0).all()
    assert x[..., 0].abs().max() <= 1 and (x[..., 0] != 0).float().mean() > 0.99  # distractors at every step


def test_batches_are_reproducible_and_seeded():
    task = StoreRecall(lag=5)
    a, b, c = _batch(task, seed=1), _batch(task, seed=1), _batch(task, seed=2)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


def test_loss_and_metrics_score_only_the_read_step():
    task = StoreRecall(lag=4, write_window=2, tolerance=0.1)
    x, target = _batch(task, 32)
    perfect = target[..., :1].clone() + 5.0 * (1 - target[..., 1:])    # wrong everywhere but at the read
    assert task.loss(perfect, target).item() == 0
    metrics = task.metrics(perfect, target)
    assert metrics == {"mean_abs_error": 0.0, "within_tolerance": 1.0}
    assert task.solved(metrics)
    off = perfect + 0.2 * target[..., 1:]
    assert task.loss(off, target).item() == pytest.approx(0.04, rel=1e-5)
    assert task.metrics(off, target)["within_tolerance"] == 0.0
    zero = torch.zeros(x.shape[0], 32, 1)
    stored = task.recall_errors(zero, target).abs()
    assert task.loss(zero, target).item() == pytest.approx(stored.pow(2).mean().item())
    assert not task.solved(task.metrics(zero, target))


def test_loss_sums_over_chunks_like_the_whole_sequence():
    """Per-step targets (target_batch_dim 1): truncated BPTT may cut the sequence into chunks."""
    task = StoreRecall(lag=6, write_window=4)
    x, target = _batch(task, 16)
    output = torch.randn(x.shape[0], 16, 1, generator=torch.Generator().manual_seed(3))
    chunks = sum(task.loss(output[t:t + 3], target[t:t + 3]) for t in range(0, x.shape[0], 3))
    assert chunks.item() == pytest.approx(task.loss(output, target).item(), rel=1e-6)


def test_registered_and_validated():
    assert isinstance(make_task("store_recall", lag=12), StoreRecall)
    for kwargs, name in (({"lag": 0}, "lag"), ({"lag": 2.5}, "lag"), ({"write_window": 0}, "write_window"),
                         ({"tolerance": 0}, "tolerance"), ({"solved_at": 1.5}, "solved_at")):
        with pytest.raises(ValueError, match=name):
            StoreRecall(**kwargs)
