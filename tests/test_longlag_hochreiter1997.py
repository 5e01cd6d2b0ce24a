"""Hochreiter & Schmidhuber 1997 long-lag variants: generator statistics against the spec, criteria, fit."""
import math

import pytest
import torch
from torch.nn import functional as F

from helpers import last_record_of_three_steps
from unroll.data import make_task
from unroll.data.longlag import hochreiter1997 as h


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _lengths(task, batches=200, size=2):
    return {task.batch(size, _gen(seed))[0].shape[0] for seed in range(batches)}


ALL = [h.Adding1997, h.Multiplication1997, h.TemporalOrder2Bit1997, h.TemporalOrder3Bit1997,
       h.TwoSequence1997, h.EmbeddedReber1997]


# ---- adding and multiplication (Exp 4, Exp 5) ----

@pytest.mark.parametrize("cls", [h.Adding1997, h.Multiplication1997])
def test_marked_pairs_layout_and_targets(cls):
    T, size = 40, 4000
    task = cls(T)
    x, target = task.batch(size, _gen())
    L = x.shape[0]
    assert x.dtype == torch.float32 and x.shape == (L, size, 2) and target.shape == (size,)
    assert T <= L <= T + T // 10
    value, marker = x[..., 0], x[..., 1]
    assert set(marker.unique().tolist()) <= {-1.0, 0.0, 1.0}
    assert (marker == 1).sum(0).eq(2).all()
    assert (marker[L - 1] == -1).all() and (marker[1:L - 1] != -1).all()
    marks = torch.nonzero((marker == 1).T)[:, 1].view(size, 2)    # (B, 2) marked steps, in time order
    first, second = marks.unbind(1)
    # either mark may come first in time: i1 in {0..9}, i2 in {0..T//2-1} minus i1; every sequence has one <= 9
    assert (first <= 9).all() and (second <= T // 2 - 1).all()
    assert set(torch.cat([first, second]).tolist()) == set(range(T // 2))
    at_zero = marker[0] == 1                                   # a marked first pair is 1.0, not -1
    p_i1, p_i2 = 0.1, 0.9 / (T // 2 - 1)                          # i1 == 0, or i1 != 0 and i2 == 0
    assert abs(at_zero.float().mean() - (p_i1 + p_i2)) < 0.02
    assert (marker[0][~at_zero] == -1).all()
    neutral = 0.0 if cls is h.Adding1997 else 1.0                 # X1 := neutral when i1 == 0 only
    assert abs((value[0][at_zero] == neutral).float().mean() - p_i1 / (p_i1 + p_i2)) < 0.06
    assert (value[0][~at_zero] != neutral).all()
    if cls is h.Adding1997:
        assert value.min() >= -1 and value.max() <= 1 and value.min() < -0.99 and value.mean().abs() < 0.01
        expected = 0.5 + (value * (marker == 1)).sum(0) / 4
    else:
        assert value.min() >= 0 and value.max() <= 1 and abs(value.mean() - 0.5) < 0.01
        expected = torch.where(marker == 1, value, torch.ones_like(value)).prod(0)
    torch.testing.assert_close(target, expected)


def test_i2_is_uniform_over_the_first_unmarked_pairs():
    task = h.Adding1997(30)
    x, _ = task.batch(20000, _gen(3))
    marker = x[..., 1]
    counts = (marker[:15] == 1).sum(1).float()                  # marks per position 0..14
    assert (marker[15:] == 1).sum() == 0                          # T//2 - 1 = 14 is the last position
    # position p <= 9: 1/10 (as i1) + (9/10)(1/14) (as i2); p in 10..14: 1/14
    expected = torch.tensor([0.1 + 0.9 / 14] * 10 + [1 / 14] * 5) * 20000
    assert ((counts - expected).abs() / expected).max() < 0.08


@pytest.mark.parametrize("cls", [h.Adding1997, h.Multiplication1997])
def test_marked_pairs_lengths_cover_the_distribution(cls):
    assert _lengths(cls(20), 100) == {20, 21, 22}
    assert _lengths(cls(100), 200) == set(range(100, 111))


def test_adding_criterion_and_solved():
    task = h.Adding1997(20)
    x, target = task.batch(64, _gen())
    out = torch.zeros(x.shape[0], 64, 1)
    out[-1, :, 0] = target
    m = task.metrics(out, target)
    assert m["error_rate"] == 0 and m["mse"] == 0 and task.solved(m)
    assert task.loss(out, target).item() == 0
    for delta, wrong in ((0.039, 0.0), (0.041, 1.0), (-0.041, 1.0)):
        off = out.clone()
        off[-1, :, 0] += delta
        m = task.metrics(off, target)
        assert m["error_rate"] == wrong and task.solved(m) == (wrong == 0)
        assert task.loss(off, target).item() == pytest.approx(delta ** 2, rel=1e-3)
    half = out.clone()
    half[-1, :32, 0] += 0.05                                        # one half wrong
    assert task.metrics(half, target)["error_rate"] == 0.5
    mean = torch.full_like(out, 0.5)                                # memoryless: the mean target
    assert not task.solved(task.metrics(mean, target))
    assert not task.solved({"error_rate": 0.0, "mse": 0.011})      # the mean-error half of the rule


def test_loss_by_hand():
    task = h.Adding1997(12)
    target = torch.tensor([0.25, 0.75])
    out = torch.zeros(3, 2, 1)
    out[-1, :, 0] = torch.tensor([0.5, 0.5])
    out[0, :, 0] = 7.0                                              # earlier steps are not read
    assert task.loss(out, target).item() == pytest.approx(0.0625)
    assert task.metrics(out, target)["mse"] == pytest.approx(0.0625)


def test_multiplication_criterion_tolerates_its_paper_share_of_errors():
    task = h.Multiplication1997(20)
    x, target = task.batch(100, _gen())
    out = torch.zeros(x.shape[0], 100, 1)
    out[-1, :, 0] = target
    out[-1, :7, 0] += 0.05                                          # 7% wrong, small mean error
    m = task.metrics(out, target)
    assert m["error_rate"] == pytest.approx(0.07) and task.solved(m)
    out[-1, 7, 0] += 0.05
    assert not task.solved(task.metrics(out, target))
    strict = h.Multiplication1997(20, max_wrong=0)
    assert not strict.solved(m)
    assert not task.solved(task.metrics(torch.full_like(out, 0.25), target))


# ---- temporal order (Exp 6a, 6b) ----

@pytest.mark.parametrize("cls,windows", [(h.TemporalOrder2Bit1997, [(10, 20), (50, 60)]),
                                         (h.TemporalOrder3Bit1997, [(10, 20), (33, 43), (66, 76)])])
def test_temporal_order_layout_positions_and_classes(cls, windows):
    size = 8000
    task = cls(100)
    K = 2 ** len(windows)
    assert task.output_size == K and task.input_size == 8
    x, label = task.batch(size, _gen(1))
    L = x.shape[0]
    assert x.dtype == torch.float32 and x.shape == (L, size, 8) and label.shape == (size,)
    assert 100 <= L <= 110 and (x.sum(-1) == 1).all()
    sym = x.argmax(-1)
    E, B, X, Y = (h.TEMPORAL_SYMBOLS.index(s) for s in "EBXY")
    assert (sym[0] == E).all() and (sym[L - 1] == B).all()
    middle = sym[1:L - 1]
    relevant = (middle == X) | (middle == Y)
    assert (relevant.sum(0) == len(windows)).all()
    assert ((middle < 4) | relevant).all()                         # everything else a distractor a..d
    distractors = torch.bincount(middle[middle < 4], minlength=4).float()
    assert ((distractors / distractors.sum() - 0.25).abs() < 0.01).all()
    recomputed = torch.zeros(size, dtype=torch.long)
    positions = torch.nonzero(relevant.T)[:, 1].view(size, len(windows)) + 1
    for k, (lo, hi) in enumerate(windows):
        pos = positions[:, k]
        assert pos.min() == lo and pos.max() == hi                  # both ends included
        bit = (sym[pos, torch.arange(size)] == Y).long()
        assert abs(bit.float().mean() - 0.5) < 0.03
        recomputed = 2 * recomputed + bit
    assert torch.equal(recomputed, label)
    share = torch.bincount(label, minlength=K).float() / size
    assert ((share - 1 / K).abs() < 0.03).all()


def test_temporal_order_lengths_and_scaled_windows():
    assert _lengths(h.TemporalOrder2Bit1997(100), 200) == set(range(100, 111))
    task = h.TemporalOrder3Bit1997(200)
    assert task.positions == ((20, 40), (66, 86), (132, 152))
    x, _ = h.TemporalOrder3Bit1997(10).batch(64, _gen())
    assert x.shape[0] in (10, 11) and (x[1:-1].argmax(-1) >= 6).sum(0).eq(3).all()


def test_temporal_order_criterion():
    task = h.TemporalOrder2Bit1997(100)
    x, label = task.batch(32, _gen())
    out = torch.zeros(x.shape[0], 32, 4)
    out[-1] = F.one_hot(label, 4).float()
    m = task.metrics(out, label)
    assert m["error_rate"] == 0 and m["argmax_accuracy"] == 1 and task.solved(m)
    assert task.loss(out, label).item() == 0
    for delta, wrong in ((0.29, 0.0), (0.31, 1.0)):
        off = out.clone()
        off[-1, :, 3] += delta                                     # one output off, the others exact
        m = task.metrics(off, label)
        assert m["error_rate"] == wrong and task.solved(m) == (wrong == 0)
    chance = torch.full_like(out, 0.25)                             # memoryless: the class prior
    m = task.metrics(chance, label)
    assert m["error_rate"] == 1 and not task.solved(m)
    assert task.loss(chance, label).item() == pytest.approx(0.75 ** 2 + 3 * 0.25 ** 2)


# ---- two-sequence (Exp 3a) ----

def test_two_sequence_layout_noise_and_classes():
    task = h.TwoSequence1997(100, n=3)
    x, target = task.batch(5000, _gen(2))
    L = x.shape[0]
    assert x.dtype == torch.float32 and x.shape == (L, 5000, 1) and 100 <= L <= 110
    sign = 2 * target - 1
    assert torch.equal(x[:3, :, 0], sign.expand(3, -1))
    noise = x[3:, :, 0]
    assert abs(noise.mean()) < 0.01 and abs(noise.var() - 0.2) < 0.01
    assert abs(target.mean() - 0.5) < 0.03 and set(target.unique().tolist()) == {0.0, 1.0}
    assert _lengths(h.TwoSequence1997(10, n=1), 60) == {10, 11}
    assert h.TwoSequence1997(20, n=5).batch(4, _gen())[0][:5].abs().eq(1).all()


def test_two_sequence_criterion():
    task = h.TwoSequence1997(20)
    x, target = task.batch(40, _gen())
    out = torch.zeros(x.shape[0], 40, 1)
    out[-1, :, 0] = target
    assert task.solved(task.metrics(out, target)) and task.loss(out, target).item() == 0
    for delta, wrong in ((0.19, 0.0), (0.21, 1.0)):
        m = task.metrics(out + delta, target)
        assert m["error_rate"] == wrong and task.solved(m) == (wrong == 0)
    assert not task.solved(task.metrics(torch.full_like(out, 0.5), target))


# ---- embedded Reber grammar (Exp 1) ----

_REBER = {1: {"T": 2, "P": 3}, 2: {"S": 2, "X": 4}, 3: {"T": 3, "V": 5}, 4: {"X": 3, "S": 6},
          5: {"P": 4, "V": 6}, 6: {"E": None}}


def _legal_sets(s: str) -> list[set]:
    """Parse an embedded Reber string; the legal next symbols after each of its symbols but the last."""
    assert s[0] == "B" and s[1] in "TP" and s[2] == "B" and s[-2] == s[1] and s[-1] == "E"
    sets, state = [{"T", "P"}, {"B"}, {"T", "P"}], 1
    for ch in s[3:-2]:
        state = _REBER[state][ch]
        sets.append(set(_REBER[state]) if state is not None else {s[1]})
    assert state is None
    sets.append({"E"})
    return sets


def _strings(x):
    return ["".join(h.REBER_SYMBOLS[i] for i in x[:, b].argmax(-1)[x[:, b].sum(-1) > 0].tolist())
            for b in range(x.shape[1])]


def _check_reber(x, target):
    """Every string grammatical, padded with zeros, its targets the next symbols and legal sets."""
    T, size = x.shape[:2]
    assert x.dtype == torch.float32 and target.shape == (T, size, 15)
    strings = _strings(x)
    assert max(map(len, strings)) == T and min(map(len, strings)) >= 9
    for b, s in enumerate(strings):
        n = len(s)
        assert (x[n:, b] == 0).all() and (x[:n, b].sum(-1) == 1).all()
        scored = target[:, b, 14]
        assert scored[:n - 1].eq(1).all() and scored[n - 1:].eq(0).all()
        nxt = "".join(h.REBER_SYMBOLS[i] for i in target[:n - 1, b, :7].argmax(-1).tolist())
        assert nxt == s[1:]
        legal = [{h.REBER_SYMBOLS[i] for i in torch.nonzero(row).squeeze(1).tolist()}
                 for row in target[:n - 1, b, 7:14]]
        assert legal == _legal_sets(s)
        assert (target[n - 1:, b] == 0).all()
    return strings


def test_reber_strings_are_grammatical_and_targets_match():
    task = h.EmbeddedReber1997()
    assert task.target_batch_dim == 1
    strings = _check_reber(*task.batch(500, _gen(4)))
    assert abs(sum(s[1] == "T" for s in strings) / 500 - 0.5) < 0.07


def test_reber_length_limit_and_reproducibility():
    task = h.EmbeddedReber1997(length=12)
    for seed in range(20):
        lengths = [len(s) for s in _check_reber(*task.batch(64, _gen(seed)))]   # redrawn ones too
        assert max(lengths) <= 12
    assert {len(s) for s in _check_reber(*h.EmbeddedReber1997(length=9).batch(64, _gen()))} == {9}
    a, b, c = task.batch(32, _gen(1)), task.batch(32, _gen(1)), task.batch(32, _gen(2))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and not torch.equal(a[0], c[0])
    assert _lengths(h.EmbeddedReber1997(), 50, 1) >= {9, 10, 11}     # strings vary in length


def test_reber_criterion():
    task = h.EmbeddedReber1997()
    x, target = task.batch(200, _gen(5))
    legal, scored = target[..., 7:14], target[..., 14:]
    oracle = (legal - 0.5) * 4                                      # legal outputs high, the rest low
    m = task.metrics(oracle, target)
    assert m["error_rate"] == 0 and m["step_accuracy"] == 1 and m["c_accuracy"] == 1 and task.solved(m)
    # the grammar without memory: at the step after the inner E it cannot tell T from P and guesses T
    memoryless = oracle.clone()
    c_step = (legal.sum(-1) == 1) & (legal[..., 1:3].sum(-1) == 1) & (scored[..., 0] > 0)
    assert c_step.sum(0).eq(1).all()
    memoryless[c_step] = torch.tensor([-2.0, 2.0, -2.0, -2.0, -2.0, -2.0, -2.0])
    m = task.metrics(memoryless, target)
    assert 0.35 < m["error_rate"] < 0.65 and not task.solved(m)
    tie = oracle.clone()
    tie[c_step] = torch.tensor([-2.0, 2.0, 2.0, -2.0, -2.0, -2.0, -2.0])   # top-1 tie counts wrong
    assert task.metrics(tie, target)["error_rate"] == 1
    # unscored (padding, final) steps are ignored: garbage there changes nothing
    garbage = oracle + (1 - scored) * torch.randn(oracle.shape, generator=_gen(0)) * 10
    assert task.metrics(garbage, target)["error_rate"] == 0


def test_reber_loss_by_hand_and_chunks():
    task = h.EmbeddedReber1997()
    x, target = task.batch(3, _gen(6))
    zero = torch.zeros(x.shape[0], 3, 7)
    scored_steps = target[..., 14].sum().item()
    assert task.loss(zero, target).item() == pytest.approx(7 * math.log(2) * scored_steps / 3, rel=1e-6)
    out = torch.randn(x.shape[0], 3, 7, generator=_gen(1))
    chunks = sum(task.loss(out[t:t + 4], target[t:t + 4]) for t in range(0, x.shape[0], 4))
    assert chunks.item() == pytest.approx(task.loss(out, target).item(), rel=1e-6)


# ---- all variants ----

@pytest.mark.parametrize("cls", ALL)
def test_registered_reproducible_and_seeded(cls):
    task = make_task(cls.name, length=30)
    assert isinstance(task, cls) and task.citation.startswith("S. Hochreiter")
    a, b, c = task.batch(16, _gen(1)), task.batch(16, _gen(1)), task.batch(16, _gen(2))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0]) or not torch.equal(a[1], c[1])
    assert a[1].shape[task.target_batch_dim] == 16


@pytest.mark.parametrize("cls", [c for c in ALL if c.unit_interval_targets])
def test_unit_interval_targets_clamping_outputs_to_0_1_never_raises_the_loss(cls):
    """The tasks that declare targets in [0, 1] (the paper's logistic output units fit them)."""
    task = make_task(cls.name, length=30)
    x, target = task.batch(64, _gen(3))
    out = 3 * torch.randn(x.shape[0], 64, task.output_size, generator=_gen(4))
    assert task.loss(out.clamp(0, 1), target) < task.loss(out, target)
    assert task.loss(out.clamp(0, 1), target) <= task.loss(out.clamp(-0.5, 1.5), target)


def test_every_1997_task_but_reber_declares_unit_interval_targets():
    assert [c for c in ALL if not c.unit_interval_targets] == [h.EmbeddedReber1997]


@pytest.mark.parametrize("cls,bad", [(h.Adding1997, {"length": 10}), (h.Adding1997, {"length": 50.0}),
                                     (h.Multiplication1997, {"length": True}),
                                     (h.Multiplication1997, {"max_wrong": 1.0}),
                                     (h.TemporalOrder2Bit1997, {"length": 9}),
                                     (h.TemporalOrder3Bit1997, {"length": "100"}),
                                     (h.TwoSequence1997, {"n": 0}), (h.TwoSequence1997, {"length": 3, "n": 3}),
                                     (h.EmbeddedReber1997, {"length": 8})])
def test_bad_arguments(cls, bad):
    name = next(iter(bad)) if len(bad) == 1 else "length"
    with pytest.raises(ValueError, match=name):
        cls(**bad)


def test_published_numbers_name_registered_variants():
    assert {p["task"] for p in h.PUBLISHED} == {cls.name for cls in ALL}
    assert {p["unit"] for p in h.PUBLISHED} <= {"sequences to success", "zero-one test error", "success rate"}
    adding = {p["length"]: p["figure"] for p in h.PUBLISHED
              if p["task"] == "adding-1997" and p["unit"] == "sequences to success"}
    assert adding == {100: 74000, 500: 209000, 1000: 853000}


@pytest.mark.parametrize("cls", ALL)
def test_fit_runs_three_steps(cls):
    task = cls(12) if cls is not h.EmbeddedReber1997 else cls()
    assert "error_rate" in last_record_of_three_steps(task)
