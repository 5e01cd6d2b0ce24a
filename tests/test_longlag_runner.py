"""The long-lag benchmark runner: --quick end to end, resume after a kill, the store, names that do not exist."""
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import torch

from unroll.cli import main
from unroll.experiments.longlag import BUDGET, BUDGETS, METHODS, QUICK, Grid, default_grid, run_grid, write_outputs
from unroll.experiments.longlag.store import KEY, Store
from unroll.experiments.longlag.tasks import LengthMixture, build_task, length_mixture

ROOT = Path(__file__).resolve().parents[1]
CELL = ("task", "length", "method", "seed")


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_quick_end_to_end(tmp_path, capsys):
    out = tmp_path / "quick"
    assert main(["bench", "longlag", "--quick", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    table = (out / "table.md").read_text()
    assert table in printed
    assert table.startswith("| task | T | method | solved |")
    results = json.loads((out / "results.json").read_text())
    assert len(results["cells"]) == 4 and len(results["rows"]) == 4   # 2 lengths x 2 methods x 1 seed
    assert {(r["length"], r["method"]) for r in results["rows"]} == {
        (T, m) for T in QUICK["lengths"] for m in QUICK["methods"]}
    for cell in results["cells"]:
        assert cell["updates"] <= cell["budget"] == QUICK["budget"]
        assert cell["machine"]["torch"] == torch.__version__ and cell["machine"]["cpus"] >= 1
        if cell["solved"]:
            assert cell["sequences_to_success"] == cell["updates_to_success"] * cell["batch_size"]
        else:
            assert cell["updates_to_success"] is None and cell["sequences_to_success"] is None
    for figure in ("success.png", "matrix.png"):
        assert (out / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    solved = {(c["length"], c["method"]) for c in results["cells"] if c["solved"]}
    assert solved == {(T, "lstm-adam") for T in QUICK["lengths"]}   # the LSTM solves it, the tanh RNN does not
    assert len(_lines(out / "store.jsonl")) == 4


GRID_ARGS = ["bench", "longlag", "--tasks", "recall", "--lengths", "8,10,12,14,16,18", "--methods", "tanh-sgd",
             "--seeds", "2", "--budget", "100", "--eval-every", "50", "--eval-size", "64"]   # 12 cells


def _grid_running_until_a_cell_is_stored(out: Path) -> subprocess.Popen:
    """The GRID_ARGS grid started with 2 workers in its own session, once its first cell is in the store."""
    store = out / "store.jsonl"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen([sys.executable, "-m", "unroll.cli", *GRID_ARGS, "--out", str(out), "--workers", "2",
                             "--quiet"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.monotonic() + 30
    while not (store.exists() and store.read_bytes().count(b"\n") >= 1):
        if proc.poll() is not None or time.monotonic() > deadline:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            raise AssertionError(f"no cell finished within 30 s: {proc.stderr.read().decode()}")
        time.sleep(0.01)
    return proc


def test_resume_after_kill_runs_no_cell_twice(tmp_path):
    out = tmp_path / "grid"
    store = out / "store.jsonl"
    total = 12
    proc = _grid_running_until_a_cell_is_stored(out)
    os.killpg(proc.pid, signal.SIGKILL)   # the runner and its workers (its own session)
    proc.wait()
    proc.stderr.close()
    before = store.read_text().splitlines(keepends=True)
    assert 1 <= len(before) < total, "the run finished before the kill; the test did not test resuming"
    assert main([*GRID_ARGS, "--out", str(out), "--workers", "1", "--quiet"]) == 0
    after = store.read_text().splitlines(keepends=True)
    assert after[:len(before) - 1] == before[:-1]      # finished cells were kept, not rerun
    records = [json.loads(line) for line in after]
    counts = Counter(tuple(r[k] for k in CELL) for r in records)
    assert max(counts.values()) == 1
    assert set(counts) == {("recall", T, "tanh-sgd", s) for T in (8, 10, 12, 14, 16, 18) for s in (0, 1)}


def _alive_in_session(sid: int) -> list[int]:
    """Live (not zombie) processes whose session is ``sid``, from /proc."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            alive.append(int(stat.parent.name))
    return alive


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")
def test_sigterm_to_the_runner_stops_its_workers_and_keeps_the_finished_cells(tmp_path):
    out = tmp_path / "grid"
    proc = _grid_running_until_a_cell_is_stored(out)
    try:
        proc.send_signal(signal.SIGTERM)     # the runner alone, as `kill PID` does
        assert proc.wait(timeout=30) == 130
        assert proc.stderr.read().decode().strip().endswith("unroll: interrupted")
        deadline = time.monotonic() + 10
        while _alive_in_session(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = _alive_in_session(proc.pid)
    finally:
        if _alive_in_session(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
    assert left == []                                  # no orphaned worker trains on
    finished = _lines(out / "store.jsonl")
    assert 1 <= len(finished) < 12 and all(r["method"] == "tanh-sgd" for r in finished)


def test_store_ignores_and_reports_a_truncated_last_line(tmp_path, capsys):
    grid = Grid(tasks=("recall",), lengths=(6,), methods=("tanh-sgd",), seeds=2, budget=10, eval_every=10,
                eval_size=32)
    path = tmp_path / "store.jsonl"
    first = run_grid(grid, path, workers=1, quiet=True)
    assert len(first) == 2
    lines = path.read_text().splitlines(keepends=True)
    path.write_text(lines[0] + lines[1][:25])            # the second cell cut mid-write
    store = Store(path)
    assert len(store.records) == 1 and store.dropped == 25
    assert path.read_text() == lines[0]                  # the partial line was cut off
    path.write_text(lines[0] + lines[1][:25])
    again = run_grid(grid, path, workers=1)
    assert "ignored a truncated last line (25 bytes)" in capsys.readouterr().err
    assert [r["seed"] for r in again] == [0, 1]
    assert len(_lines(path)) == 2                        # only the lost cell ran again
    path.write_text(lines[0][:10] + "\n" + lines[1])     # damage that is not a last line is an error
    with pytest.raises(ValueError, match="line 1"):
        Store(path)


def test_table_puts_published_figures_beside_ours(tmp_path):
    record = {"task": "adding-2011", "length": 100, "method": "lstm-adam", "seed": 0, "budget": 10,
              "solved": True, "diverged": False, "updates_to_success": 40, "sequences_to_success": 1280,
              "wall_s": 2.5}
    published = [{"task": "adding-2011", "length": 100, "method": "HF", "figure": 0.0, "unit": "test error",
                  "source": "Martens & Sutskever 2011"},
                 {"task": "adding-2011", "length": 200, "method": "HF", "figure": 1, "unit": "x", "source": "y"}]
    text = write_outputs(tmp_path, [record, {**record, "seed": 1, "solved": False, "updates_to_success": None,
                                             "sequences_to_success": None}], published)
    row = text.splitlines()[2]
    assert "| 1/2 | 50% | 40 | 1,280 |" in row and "HF: 0.0 test error (Martens & Sutskever 2011)" in row
    rows = json.loads((tmp_path / "results.json").read_text())["rows"]
    assert rows[0]["published"] == published[:1]


def test_matrix_gives_each_length_a_task_by_method_table(tmp_path):
    solved = {"task": "adding-2011", "length": 50, "method": "lstm-adam", "seed": 0, "budget": 10,
              "solved": True, "diverged": False, "updates_to_success": 1200, "sequences_to_success": 38400,
              "wall_s": 1.0, "final": {"error_rate": 0.004}}
    records = [solved, {**solved, "seed": 1, "updates_to_success": 1800},
               {**solved, "method": "tanh-sgd", "solved": False, "updates_to_success": None,
                "sequences_to_success": None, "final": {"error_rate": 0.925}},
               {**solved, "task": "xor-2011", "length": 100, "final": {"error_rate": 0.0}}]
    write_outputs(tmp_path, records)
    text = (tmp_path / "matrix.md").read_text()
    first, second = text.split("T = ")[1:]
    assert first.startswith("50:") and second.startswith("100:")
    assert "| task | lstm-adam | tanh-sgd |" in first
    assert "| adding-2011 | 2/2, 1,500 | 0/1, error 0.93 |" in first      # median updates of the solved seeds
    assert "| xor-2011 | 1/1, 1,200 |" in second and "tanh-sgd" not in second
    assert (tmp_path / "matrix.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "success.png").exists()                # two lengths: success against T
    write_outputs(tmp_path, records[:3])
    assert not (tmp_path / "success.png").exists()            # one length: the matrix only


def test_the_full_profile_gives_hessian_free_its_own_budget_until_one_budget_is_given():
    budgets = {(c["method"], c["budget"], c["eval_every"]) for c in default_grid(lengths=[50], seeds=1).cells()}
    assert BUDGETS == {"tanh-hf": 100}       # checked ten times per cell, every 10 updates; the others every 100
    assert budgets == {(m, BUDGETS.get(m, BUDGET), 10 if m in BUDGETS else 100) for m in METHODS}
    assert {c["budget"] for c in default_grid(lengths=[50], seeds=1, budget=70).cells()} == {70}
    mixed = default_grid(lengths=[50], seeds=1, budget=70, budgets={"lstm-adam": 9}).cells()
    assert {(c["method"], c["budget"]) for c in mixed} == {(m, 9 if m == "lstm-adam" else 70) for m in METHODS}
    with pytest.raises(ValueError, match="budget for lstm-adam: expected a positive int, got 0"):
        default_grid(budgets={"lstm-adam": 0}).check()


def test_budget_for_one_method_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "q"
    assert main(["bench", "longlag", "--quick", "--methods", "lstm-adam", "--lengths", "12",
                 "--budget-for", "lstm-adam=20", "--out", str(out), "--quiet"]) == 0
    cell, = _lines(out / "store.jsonl")
    assert cell["budget"] == 20 and cell["updates"] <= 20
    with pytest.raises(SystemExit) as exit:
        main(["bench", "longlag", "--quick", "--budget-for", "lstm-adam", "--out", str(out)])
    assert exit.value.code == 2 and "expected METHOD=N, got 'lstm-adam'" in capsys.readouterr().err


def test_unknown_names_are_one_line_errors(tmp_path, capsys):
    for flag, name, known in (("--methods", "nope", "tanh-sgd"), ("--tasks", "nope", "recall")):
        assert main(["bench", "longlag", "--quick", flag, name, "--out", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("unroll: error:") and known in err and "'nope'" in err
    assert not (tmp_path / "store.jsonl").exists()


def test_store_key_is_the_cell_and_its_budget():
    assert KEY == ("task", "length", "method", "seed", "budget")


def test_keep_training_spends_the_budget_and_records_when_it_was_first_solved(tmp_path):
    grid = Grid(tasks=("temporal-order-2bit-1997",), lengths=(12,), methods=("lstm-adam",), seeds=1, budget=300,
                eval_every=20, eval_size=200)
    path = tmp_path / "store.jsonl"
    stopped, = run_grid(grid, path, workers=1, quiet=True)
    kept, = run_grid(Grid(**{**grid.__dict__, "keep_training": True}), path, workers=1, quiet=True)
    assert stopped["solved"] and stopped["updates"] == stopped["updates_to_success"] < 300
    assert kept["solved"] and kept["updates"] == 300
    assert kept["updates_to_success"] == stopped["updates_to_success"]   # same seed, same batches
    assert kept["final"]["error_rate"] <= 0.01
    assert len(Store(path).records) == 2                                 # two cells, not one run twice


def test_length_mixture_draws_each_batch_at_a_length_in_its_range():
    mixture = LengthMixture("recall", 5, 9)
    generator = torch.Generator().manual_seed(0)
    lengths = {mixture.batch(3, generator)[0].shape[0] for _ in range(60)}
    assert lengths == {5, 6, 7, 8}
    assert (mixture.input_size, mixture.output_size) == (build_task("recall", 5).input_size, 1)
    with pytest.raises(ValueError, match=r"lengths: expected 1 <= low < high, got \[9, 9\)"):
        LengthMixture("recall", 9, 9)


def test_length_mixture_starts_at_the_shortest_length_the_task_accepts():
    mixture = length_mixture("temporal-order-2bit-1997", 20, (0.25, 1.0))    # 5 is too short for the task
    assert (mixture.low, mixture.high) == (10, 20)


def test_a_cells_options_override_the_methods_fit_options():
    from unroll.experiments.longlag.runner import run_cell
    cell = {"task": "temporal-order-2bit-1997", "length": 12, "method": "lstm-adam", "seed": 0, "budget": 20,
            "eval_every": 20, "eval_size": 50, "keep_training": True}
    trained = run_cell(cell)["final"]["eval_loss"]
    slow = run_cell({**cell, "options": {"lr": 1e-9}})["final"]["eval_loss"]
    assert slow == run_cell({**cell, "options": {"lr": 1e-9}})["final"]["eval_loss"] != trained


def test_a_diverged_cell_records_where_and_why():
    from unroll.experiments.longlag.runner import run_cell
    cell = {"task": "temporal-order-2bit-1997", "length": 12, "method": "tanh-sgd", "seed": 0, "budget": 20,
            "eval_every": 20, "eval_size": 50, "keep_training": True, "options": {"lr": 1e30}}
    record = run_cell(cell)
    assert record["diverged"] and not record["solved"] and record["final"] == {}
    assert record["divergence"].startswith("update 2: non-finite gradient in layer.cells.0.weight_ih")
