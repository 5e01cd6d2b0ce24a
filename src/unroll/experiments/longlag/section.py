"""The tour's long-lag section: a small grid of the benchmark, an LSTM against a clipped tanh RNN.

The 2-bit temporal-order problem (Hochreiter & Schmidhuber 1997's variant, sequences of T to 1.1 T
symbols) at short lengths: within a few hundred updates the LSTM solves it at every length, and a tanh RNN
with clipping solves none at the longest. The full grid with the papers' figures is ``unroll bench
longlag``; docs/longlag.md has its numbers.
"""
from dataclasses import replace
from pathlib import Path

from ...data.longlag import PUBLISHED
from ..section import Section
from .profiles import QUICK, default_grid
from .runner import run_grid
from .table import summarise, write_outputs

(TASK,), (TANH, LSTM) = QUICK["tasks"], QUICK["methods"]
PROFILES = {"quick": default_grid(quick=True),
            "full": default_grid(quick=True, lengths=(12, 20, 30), seeds=2, budget=600, eval_size=500)}


def run(out: Path, quick: bool = False, *, seed: int = 0, progress=None) -> Section:
    """Run the profile's grid into OUT/longlag (resuming its store), check the claim, draw success against T."""
    grid = replace(PROFILES["quick" if quick else "full"], first_seed=seed)
    folder = Path(out) / "longlag"
    records = run_grid(grid, folder / "store.jsonl", workers=1, quiet=True, progress=progress)
    table = write_outputs(folder, records, PUBLISHED)
    rows = {(r["length"], r["method"]): r for r in summarise(records)}
    longest = max(grid.lengths)
    lstm_ok = all(rows[T, LSTM]["success_rate"] == 1 for T in grid.lengths)
    tanh_fails = rows[longest, TANH]["success_rate"] == 0
    return Section(
        key="longlag", title="Long time lags",
        claim=(f"On the 2-bit temporal-order problem ({TASK}), within {grid.budget} updates an LSTM solves every "
               f"seed at T = {', '.join(map(str, grid.lengths))}, while a tanh RNN with clipping solves no seed "
               f"at T = {longest}."),
        holds=lstm_ok and tanh_fails,
        numbers={"grid": grid.__dict__, "rows": list(rows.values())},
        figures=[folder / "success.png"],
        command="unroll tour --only longlag",
        notes=(f"Success: every output within 0.3 of its target on each of {grid.eval_size} held-out "
               f"sequences, checked every {grid.eval_every} updates. Methods as in `unroll bench longlag` "
               f"(settings in docs/longlag.md). Results:\n\n{table}\nThe long lengths of the papers (T = 100 to "
               f"1000) take hours on a CPU: `unroll bench longlag` runs them, and docs/longlag.md records what "
               f"was measured."),
    )
