"""The command line: the demo runs and learns, train runs fit() with checkpoints, resume and config files,
and every error a user can cause is one line on stderr and exit status 2."""
import json
import os
import subprocess
import sys

import pytest
import torch

from unroll import __version__, demo
from unroll.cli import main


def test_demo_prints_the_loss_falling_and_a_final_line(capsys):
    assert main(["demo", "--steps", "20", "--seed", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [int(line.split()[1]) for line in lines[:-1]] == list(range(2, 21, 2))
    assert all("train" in line and "accuracy" in line for line in lines[:-1])
    assert lines[-1].startswith("recalled the marked bit in ")


def test_demo_quiet_prints_only_the_final_line(capsys):
    assert main(["demo", "--steps", "3", "--quiet"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1


def test_bad_value_is_one_line_on_stderr_and_status_2(capsys):
    assert main(["demo", "--steps", "0"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "unroll: error: steps: expected a positive int, got 0\n"


def test_version(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["--version"])
    assert exit.value.code == 0
    assert capsys.readouterr().out.strip() == f"unroll {__version__}"


def test_demo_is_reproducible_and_learns():
    first, again = demo.run(10, seed=3, quiet=True), demo.run(10, seed=3, quiet=True)
    assert first.history == [dict(r, seq_per_s=r2["seq_per_s"], wall_s=r2["wall_s"])
                             for r, r2 in zip(again.history, first.history)]
    learned = demo.run(400, seed=0, quiet=True).history
    assert learned[0]["accuracy"] < 0.8 and learned[-1]["accuracy"] > 0.95


def test_recall_task_marks_one_step_in_the_first_half():
    from unroll.data import MarkedRecall
    x, target = MarkedRecall(length=20).batch(256, torch.Generator().manual_seed(0))
    assert x.shape == (20, 256, 2) and target.shape == (256,)
    marker = x[..., 1]
    assert torch.equal(marker.sum(0), torch.ones(256))
    assert marker[10:].sum() == 0
    marked = marker.argmax(0)
    # with noise 0.3 no bit of this batch flips sign
    assert torch.equal((x[marked, torch.arange(256), 0] > 0).float(), target)


# ---- the command line as a whole -------------------------------------------------------------------

TINY = ["--eval-every", "1", "--eval-size", "8", "--batch-size", "4", "--hidden", "4"]


def run_cli(*args):
    """``python -m unroll.cli ARGS`` in a fresh process: (exit status, stdout, stderr)."""
    done = subprocess.run([sys.executable, "-m", "unroll.cli", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    return done.returncode, done.stdout, done.stderr


def one_error_line(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("unroll: error: "), captured.err
    return lines[0]


def steps_logged(out) -> list[int]:
    return [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_help_lists_the_commands_with_one_line_each(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["--help"])
    assert exit.value.code == 0
    out = capsys.readouterr().out
    for command in ("demo", "train"):
        assert any(line.split()[:1] == [command] and len(line.split()) > 1 for line in out.splitlines()), out
    assert "--config" in out and "--seed" in out


@pytest.mark.parametrize("command, option", [("demo", "--steps"), ("train", "--batch-size")])
def test_every_command_has_help(capsys, command, option):
    with pytest.raises(SystemExit) as exit:
        main([command, "--help"])
    assert exit.value.code == 0
    out = capsys.readouterr().out
    assert option in out and "--seed" in out


def test_train_has_a_flag_for_every_fit_config_field(capsys):
    from dataclasses import fields

    from unroll.train import FitConfig
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    for f in fields(FitConfig):
        flag = "--" + f.name.replace("_", "-")
        assert flag in out or "--no-" + flag[2:] in out, flag


@pytest.mark.parametrize("argv", [["demo", "--bogus"], ["--bogus", "demo"], ["train", "--steps", "x"],
                                  ["train", "--tbptt", "3"], ["frobnicate"], []])
def test_bad_flag_is_one_line_mentioning_help_and_status_2(capsys, argv):
    with pytest.raises(SystemExit) as exit:
        main(argv)
    assert exit.value.code == 2
    assert "--help" in one_error_line(capsys)


def test_config_file_problems_are_one_line_naming_the_file(tmp_path, capsys):
    names = ("bad.toml", "bad.yaml", "unknown.yml", "value.toml")
    bad_toml, bad_yaml, unknown, bad_value = (tmp_path / n for n in names)
    bad_toml.write_text("steps = 3\nlr = = 1\n")
    bad_yaml.write_text("steps: 3\n  lr: [\n")
    unknown.write_text("steps: 3\nbogus: 1\n")
    bad_value.write_text('steps = "many"\n')
    cases = {tmp_path / "missing.toml": "missing.toml", bad_toml: "line 2", bad_yaml: "line 2",
             unknown: "bogus", bad_value: "steps"}
    for path, detail in cases.items():
        assert main(["--config", str(path), "train"]) == 2
        line = one_error_line(capsys)
        assert str(path) in line and detail in line, line


def test_config_file_gives_defaults_and_flags_override_it(tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text("steps = 3\neval_every = 1\neval-size = 8\nbatch_size = 4\nhidden = 4\nquiet = true\n")
    assert main(["--config", str(config), "train", "--out", str(tmp_path / "a")]) == 0
    assert steps_logged(tmp_path / "a") == [1, 2, 3]
    assert capsys.readouterr().out.startswith("trained 3 steps")     # quiet: the summary alone
    yaml = tmp_path / "run.yaml"
    yaml.write_text(config.read_text().replace(" = ", ": ").replace("true", "false"))
    assert main(["train", "--config", str(yaml), "--steps", "2", "--out", str(tmp_path / "b")]) == 0
    assert steps_logged(tmp_path / "b") == [1, 2]
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 3 and out[-1].startswith("trained 2 steps")


def test_seed_sets_the_initial_weights_before_or_after_the_command(tmp_path, capsys):
    def first_eval_loss(*argv):
        assert main([*argv, "--steps", "1", "--quiet", *TINY]) == 0
        return capsys.readouterr().out.split("loss ")[1].split(",")[0]
    assert first_eval_loss("--seed", "3", "train") == first_eval_loss("train", "--seed", "3")
    assert first_eval_loss("train", "--seed", "3") != first_eval_loss("train", "--seed", "4")


def test_train_writes_metrics_and_checkpoints_and_resumes(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "--steps", "3", *TINY]) == 0
    summary = capsys.readouterr().out.splitlines()[-1]
    assert summary.startswith("trained 3 steps") and "ckpt-00000003.json" in summary
    assert steps_logged(out) == [1, 2, 3] and (out / "ckpt-00000003.safetensors").is_file()

    assert main(["train", "--out", str(out), "--steps", "6", *TINY]) == 2     # no --resume: refuses
    assert "already holds checkpoints" in one_error_line(capsys)

    assert main(["train", "--out", str(out), "--resume", "--steps", "6", "--quiet", *TINY]) == 0
    assert capsys.readouterr().out.startswith("trained 6 steps")
    assert steps_logged(out) == [1, 2, 3, 4, 5, 6]

    assert main(["train", "--out", str(out), "--resume", "--steps", "9", "--lr", "0.1", *TINY]) == 2
    assert "other settings (lr)" in one_error_line(capsys)


def test_train_runs_on_torch_kernels_and_resumes_on_the_fused_path(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--backend", "torch", "--out", str(out), "--steps", "2", "--quiet", *TINY]) == 0
    assert main(["train", "--out", str(out), "--resume", "--steps", "4", "--quiet", *TINY]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("trained 4 steps")
    assert steps_logged(out) == [1, 2, 3, 4]
    rnn = tmp_path / "rnn"
    assert main(["train", "--model", "rnn", "--backend", "torch", "--out", str(rnn), "--steps", "2", "--quiet",
                 *TINY]) == 0
    assert steps_logged(rnn) == [1, 2]


def test_library_errors_are_one_line(tmp_path, capsys):
    for argv in (["train", "--model", "rnn", "--peephole"], ["train", "--peephole", "--backend", "torch"],
                 ["train", "--length", "1"],
                 ["train", "--resume", "--steps", "1"], ["train", "--batch-size", "0"]):
        assert main(argv) == 2, argv
        one_error_line(capsys)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message when CUDA is missing")
def test_cuda_requested_without_cuda_is_one_line(capsys):
    assert main(["--device", "cuda", "train", "--steps", "1"]) == 2
    assert "cuda" in one_error_line(capsys)


def test_debug_raises_instead(capsys):
    with pytest.raises(ValueError, match="steps"):
        main(["--debug", "demo", "--steps", "0"])


def test_as_a_process_errors_are_one_line_and_debug_shows_the_traceback():
    status, out, err = run_cli("train", "--steps", "0")
    assert (status, out) == (2, "") and err == "unroll: error: steps: expected a positive int, got 0\n"
    status, out, err = run_cli("--debug", "train", "--steps", "0")
    assert status != 0 and "Traceback (most recent call last)" in err and "ValueError: steps" in err
