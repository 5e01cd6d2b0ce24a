"""fit(): reproducible, resumable bit for bit after a real SIGKILL, data-parallel, and honest about NaNs."""
import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from unroll.data import Task, make_task
from unroll.gradients import NonFiniteGradientError
from unroll.optim import rnn_momentum, scheduled_momentum, sutskever_momentum
from unroll.train import FitConfig, build_model, fit
from unroll.train.checkpoint import latest_checkpoint
from unroll.train.seeding import rank_draws

from helpers import torchrun

SCRIPT = Path(__file__).parent / "scripts" / "fit_run.py"


def _run_script(out, steps, *extra, env=None):
    return subprocess.run([sys.executable, str(SCRIPT), str(out), str(steps), *extra],
                          check=True, capture_output=True, text=True, env=env, timeout=300)


def _weights(out):
    return load_file(str(Path(out) / "final.safetensors"))


def _latest_step(out):
    path = latest_checkpoint(out) if Path(out).exists() else None
    return -1 if path is None else int(path.stem.split("-")[1])


def test_resume_after_sigkill_is_bit_exact(tmp_path):
    steps = 300
    _run_script(tmp_path / "whole", steps)
    expected = _weights(tmp_path / "whole")

    run = tmp_path / "killed"
    rng = random.Random(7)
    for attempt in range(2):   # killed twice, at random steps, then finished
        target = _latest_step(run) + rng.randint(5, 60)
        proc = subprocess.Popen([sys.executable, str(SCRIPT), str(run), str(steps)]
                                + (["--resume"] if attempt else []),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while _latest_step(run) < target and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert 0 < _latest_step(run) < steps, "the kill should land mid-run"
    _run_script(run, steps, "--resume")
    got = _weights(run)
    assert got.keys() == expected.keys()
    for name in expected:
        assert torch.equal(got[name], expected[name]), name
    steps_logged = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps_logged == list(range(10, steps + 1, 10))   # no evaluation lost or repeated


def test_two_processes_match_one_on_the_global_batch(tmp_path):
    _run_script(tmp_path / "one", 20, "--checkpoint-every", "0")
    torchrun(SCRIPT, tmp_path / "two", 20, "--checkpoint-every", 10)
    one, two = _weights(tmp_path / "one"), _weights(tmp_path / "two")
    for name in one:
        torch.testing.assert_close(two[name], one[name], atol=1e-5, rtol=1e-5)
    assert not torch.equal(one["layer.cells.0.weight_hh"], build_model("lstm", 2, 1, 8).state_dict()["layer.cells.0.weight_hh"])


def test_each_rank_draws_its_own_dropout_masks_and_a_rerun_draws_them_again():
    cpu, ones = torch.device("cpu"), torch.ones(1000)
    torch.manual_seed(5)
    before = torch.get_rng_state()
    masks = {}
    for rank in (0, 1):
        with rank_draws(0, 7, rank, cpu):
            masks[rank] = nn.functional.dropout(ones, 0.5, training=True)
    with rank_draws(0, 7, 1, cpu):
        again = nn.functional.dropout(ones, 0.5, training=True)
    with rank_draws(0, 8, 1, cpu):
        next_step = nn.functional.dropout(ones, 0.5, training=True)
    assert not torch.equal(masks[0], masks[1]) and torch.equal(again, masks[1])
    assert not torch.equal(next_step, masks[1])
    assert torch.equal(torch.get_rng_state(), before)      # the draws all ranks share stay in step


def test_momentum_schedule_of_sutskever_et_al():
    assert sutskever_momentum(0, 0.999) == 0.5
    assert sutskever_momentum(249, 0.999) == 0.5
    assert sutskever_momentum(250, 0.999) == 0.75
    assert sutskever_momentum(500, 0.999) == pytest.approx(1 - 1 / 6)
    assert sutskever_momentum(750, 0.999) == 0.875
    assert sutskever_momentum(10 ** 6, 0.99) == 0.99


def test_fit_learns_recall_and_stops_when_solved():
    torch.manual_seed(0)
    model = build_model("lstm", 2, 1, 16)
    config = FitConfig(steps=600, batch_size=64, lr=1e-2, eval_every=25, eval_size=512)
    result = fit(model, make_task("recall", length=20), config, quiet=True)
    assert result.solved_at is not None and result.solved_at == result.steps < 600
    assert result.history[-1]["accuracy"] >= 0.99
    assert result.history[0]["eval_loss"] > 2 * result.history[-1]["eval_loss"]


class DelayedEcho(Task):
    """Per-step targets: y_t = x_{t-3} (zero before), for truncated BPTT."""
    name, input_size, output_size, target_batch_dim = "echo", 1, 1, 1

    def batch(self, size, generator):
        x = torch.randn(40, size, 1, generator=generator)
        y = torch.zeros_like(x)
        y[3:] = x[:-3]
        return x, y

    def loss(self, output, target):
        return nn.functional.mse_loss(output, target)

    def metrics(self, output, target):
        return {"mse": nn.functional.mse_loss(output, target).item()}


@pytest.mark.parametrize("optimizer,schedule", [("adam", "cosine"), ("nesterov", "constant"),
                                                ("rmsprop", "step"), ("momentum", "constant")])
def test_truncated_bptt_and_optimisers_learn_the_echo(optimizer, schedule):
    torch.manual_seed(0)
    model = build_model("lstm", 1, 1, 16)
    config = FitConfig(steps=150, batch_size=16, optimizer=optimizer, lr_schedule=schedule,
                       lr=1e-2 if optimizer in ("adam", "rmsprop") else 0.1, momentum=0.9,
                       momentum_schedule=optimizer == "momentum", tbptt=[10, 20], eval_every=50,
                       lr_decay_every=50, clip_norm=5.0, stop_when_solved=False)
    result = fit(model, DelayedEcho(), config, quiet=True)
    assert result.history[-1]["mse"] < 0.5 * result.history[0]["mse"]


def test_tbptt_needs_per_step_targets():
    with pytest.raises(ValueError, match="tbptt: task 'recall' has no per-step targets"):
        fit(build_model("lstm", 2, 1, 4), make_task("recall"), FitConfig(steps=2, tbptt=[5, 5]), quiet=True)


class PoisonedRecall(type(make_task("recall"))):
    """Recall whose targets turn NaN from the 6th batch drawn on (the evaluation set is the 1st)."""
    drawn = 0

    def batch(self, size, generator):
        x, y = super().batch(size, generator)
        self.drawn += 1
        return x, y * float("nan") if self.drawn >= 6 else y


def test_nan_gradient_is_reported_not_applied(tmp_path):
    torch.manual_seed(0)
    model = build_model("rnn", 2, 1, 8)
    config = FitConfig(steps=50, eval_every=1, eval_size=8, checkpoint_every=1)
    with pytest.raises(NonFiniteGradientError, match="^update 5: .*weight"):
        fit(model, PoisonedRecall(), config, out_dir=tmp_path, quiet=True)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert latest_checkpoint(tmp_path).name == "ckpt-00000004.json"   # the work before it is kept


def test_resume_refuses_other_settings_and_fresh_runs_refuse_old_checkpoints(tmp_path):
    model = build_model("lstm", 2, 1, 4)
    fit(model, make_task("recall"), FitConfig(steps=2, eval_every=1, eval_size=8), out_dir=tmp_path, quiet=True)
    with pytest.raises(ValueError, match=r"trained with other settings \(lr\)"):
        fit(model, make_task("recall"), FitConfig(steps=4, lr=0.5, eval_every=1, eval_size=8),
            out_dir=tmp_path, resume=True, quiet=True)
    with pytest.raises(ValueError, match="already holds checkpoints"):
        fit(model, make_task("recall"), FitConfig(steps=2, eval_every=1, eval_size=8), out_dir=tmp_path, quiet=True)


@pytest.mark.parametrize("values,pattern", [
    ({"steps": 0}, "steps: expected a positive int"),
    ({"optimizer": "lbfgs"}, "optimizer: expected one of"),
    ({"tbptt": [5, 3]}, r"tbptt: expected \[k1, k2\]"),
    ({"clip_norm": -1.0}, "clip_norm: expected a positive number"),
    ({"colour": "red"}, "config: unknown option"),
])
def test_config_errors(values, pattern):
    with pytest.raises(ValueError, match=pattern):
        FitConfig.from_dict(values)


def test_tensorboard_scalars_mirror_the_metrics(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    model = build_model("lstm", 2, 1, 4)
    fit(model, make_task("recall"), FitConfig(steps=4, eval_every=2, eval_size=8), out_dir=tmp_path, quiet=True)
    board = EventAccumulator(str(tmp_path / "tensorboard"))
    board.Reload()
    logged = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    scalars = board.Scalars("eval_loss")
    assert [s.step for s in scalars] == [2, 4]
    assert [s.value for s in scalars] == pytest.approx([r["eval_loss"] for r in logged])


def test_rnn_momentum_of_sutskever_et_al_with_and_without_the_rising_schedule():
    assert [rnn_momentum(t, 0.995, 1000) for t in (0, 999, 1000, 10 ** 6)] == [0.9, 0.9, 0.995, 0.995]
    assert rnn_momentum(0, 0.0, 1000) == 0.9 and rnn_momentum(1000, 0.0, 1000) == 0.0   # Table 5's first column
    ramp = [rnn_momentum(t, 0.995, 1000, ramp=True) for t in (0, 999, 1000, 12_499, 12_500, 24_999, 25_000)]
    assert ramp == [0.9, 0.9, 0.9, pytest.approx(0.99), pytest.approx(1 - 1 / 102), pytest.approx(0.995), 0.995]
    assert scheduled_momentum(250, 0.99, True, 0) == 0.75
    assert scheduled_momentum(250, 0.99, False, 1000) == 0.9
    assert scheduled_momentum(250, 0.99, True, 1000) == 0.9
    assert scheduled_momentum(5000, 0.995, True, 1000) == sutskever_momentum(5000, 0.995) < 0.98
    assert scheduled_momentum(250, 0.99, False, 0) is None


def test_momentum_cooldown_takes_the_last_updates_of_the_budget_back_to_0_9():
    at = [scheduled_momentum(t, 0.995, True, 1000, cooldown=1000, steps=50_000)
          for t in (0, 30_000, 48_999, 49_000, 49_999)]
    assert at == [0.9, 0.995, 0.995, 0.9, 0.9]
    assert scheduled_momentum(9_500, 0.99, False, 0, cooldown=500, steps=10_000) == 0.9
    assert scheduled_momentum(9_499, 0.99, False, 0, cooldown=500, steps=10_000) is None
    with pytest.raises(ValueError, match="momentum_cooldown"):
        FitConfig(optimizer="nesterov", momentum_cooldown=-1)
    with pytest.raises(ValueError, match="momentum_warmup, momentum_cooldown: a momentum schedule needs optimizer"):
        FitConfig(optimizer="adam", momentum_warmup=1000, momentum_cooldown=1000)


def test_nesterov_warms_up_at_0_9_before_no_momentum_as_table_5s_first_column():
    """Sutskever et al. 2013's mu_max = 0: 0.9 for the warm-up, then plain SGD (torch's Nesterov refuses 0 at the
    start, so the optimiser starts at update 0's momentum)."""
    torch.manual_seed(0)
    config = FitConfig(steps=6, batch_size=4, optimizer="nesterov", momentum=0.0, momentum_warmup=3, eval_every=3,
                       stop_when_solved=False)
    model = build_model("rnn", 2, 1, 4)
    seen = []
    original = torch.optim.SGD.step

    def record(self, *args, **kwargs):
        seen.append(self.param_groups[0]["momentum"])
        return original(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(torch.optim.SGD, "step", record)
        fit(model, make_task("recall"), config, quiet=True)
    assert seen == [0.9, 0.9, 0.9, 0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="momentum: Nesterov momentum needs momentum > 0"):
        FitConfig(optimizer="nesterov", momentum=0.0)
