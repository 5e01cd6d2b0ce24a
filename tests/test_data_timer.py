"""Jaeger's timer task: the generator's guarantees, its metrics, and training at the full 1000 x u2 scale."""
import math

import pytest
import torch

from unroll.data import Timer, make_task
from unroll.train import FitConfig, build_model, fit


def draw(task: Timer, size: int = 16, seed: int = 0):
    return task.batch(size, torch.Generator().manual_seed(seed))


def pulses(x: torch.Tensor, b: int) -> list[tuple[int, float]]:
    """(trigger step, level) of every trigger of sequence b."""
    steps = (x[:, b, 0] == 1).nonzero()[:, 0].tolist()
    return [(t, x[t, b, 1].item()) for t in steps]


@pytest.mark.parametrize("time_scale", [20, 1000])
def test_every_pulse_lasts_time_scale_times_its_level_and_pulses_never_overlap(time_scale):
    task = Timer(length=5 * time_scale, time_scale=time_scale)
    x, target = draw(task)
    assert x.shape == (5 * time_scale, 16, 2) and target.shape == (5 * time_scale, 16, 1)
    assert set(target.unique().tolist()) <= {0.0, 0.5}
    for b in range(16):
        found = pulses(x, b)
        assert len(found) >= 2
        covered = torch.zeros(task.length, dtype=torch.bool)
        for k, (t, level) in enumerate(found):
            duration = round(time_scale * level)
            assert duration == time_scale * round(level * 10) / 10        # an exact multiple of the level
            end = min(t + duration, task.length)
            assert (target[t:end, b, 0] == 0.5).all()
            if t + duration < task.length:
                assert target[t + duration, b, 0] == 0                   # the pulse ends right there
            if k + 1 < len(found):
                assert found[k + 1][0] >= t + duration + task.gap[0]     # a new trigger only after the pulse
            covered[t:end] = True
        assert ((target[:, b, 0] == 0.5) == covered).all()               # 0 outside the pulses


def test_triggers_are_single_step_spikes_and_the_level_is_held_between_them():
    task = Timer(length=400, time_scale=50)
    x, _ = draw(task, size=32)
    u1, u2 = x[..., 0], x[..., 1]
    assert set(u1.unique().tolist()) == {0.0, 1.0}
    assert not (u1[1:] * u1[:-1]).any()                                  # never two trigger steps in a row
    levels = {round(v, 6) for v in u2.unique().tolist()}
    assert levels <= {0.0} | {round(k / 10, 6) for k in range(1, 11)}
    assert len(levels) == 11                                             # every level shows up
    changes = (u2[1:] != u2[:-1])
    assert not (changes & (u1[1:] == 0)).any()                           # u2 changes only at a trigger
    first = u1.argmax(0)
    for b in range(32):
        assert (u2[:first[b], b] == 0).all()                             # 0 before the first trigger


def test_the_same_seed_gives_the_same_sequences_and_another_seed_others():
    task = Timer(length=300, time_scale=30)
    x1, y1 = draw(task, seed=7)
    x2, y2 = draw(task, seed=7)
    x3, _ = draw(task, seed=8)
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert not torch.equal(x1, x3)


def test_the_full_scale_task_has_jaegers_statistics():
    task = make_task("timer", length=20000)                              # as `unroll train --task timer` builds it
    assert task.time_scale == 1000
    x, target = draw(task, size=32)
    levels = torch.cat([torch.tensor([level for _, level in pulses(x, b)]) for b in range(32)])
    assert abs(levels.mean().item() - 0.55) < 0.05                       # uniform over 0.1..1.0
    in_pulse = (target == 0.5).float().mean().item()
    expected = 550 / (550 + 300)                                         # mean pulse / mean trigger spacing
    assert abs(in_pulse - expected) < 0.05


def test_metrics_of_a_perfect_a_silent_and_a_clipped_output():
    task = Timer(length=600, time_scale=100)
    _, target = draw(task)
    perfect = task.metrics(target, target)
    assert perfect == {"nrmse": 0.0, "duration_error": 0.0, "relative_duration_error": 0.0}
    assert task.solved(perfect)
    silent = task.metrics(torch.zeros_like(target), target)
    assert silent["relative_duration_error"] == 1.0
    assert not task.solved(silent)
    clipped = target * (target.roll(-3, 0) > 0)                          # every pulse (>= 10 steps) 3 steps short
    assert task.metrics(clipped, target)["duration_error"] == pytest.approx(3.0)


def test_bad_options_are_refused_by_name():
    for options, name in (({"time_scale": 0}, "time_scale"), ({"length": 1}, "length"),
                          ({"gap": (0.5, 0.1)}, "gap")):
        with pytest.raises(ValueError, match=name):
            Timer(**options)


def test_truncated_bptt_trains_the_full_1000_scale_timer():
    task = Timer(length=2000, time_scale=1000)
    torch.manual_seed(0)
    model = build_model("lstm", 2, 1, 8)
    config = FitConfig(steps=8, batch_size=8, lr=0.03, clip_norm=1.0, tbptt=[200, 400], eval_every=4,
                       eval_size=16, stop_when_solved=False)
    result = fit(model, task, config, quiet=True)                        # 8 batches x 10 windows: 80 updates
    losses = [r["train_loss"] for r in result.history]
    assert all(math.isfinite(v) for v in losses + [result.history[-1]["nrmse"]])
    assert losses[-1] < losses[0]
    best_constant = draw(task, size=64)[1].var().item()                  # the loss of always saying the mean
    assert losses[-1] < 0.9 * best_constant
