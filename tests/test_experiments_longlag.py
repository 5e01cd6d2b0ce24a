"""The tour's long-lag section (quick): the LSTM solves short temporal-order problems, the clipped tanh RNN not."""
import json

from unroll.experiments import longlag


def test_longlag_section_quick(tmp_path):
    section = longlag.run(tmp_path, quick=True)
    json.dumps(section.numbers)
    rows = {(r["length"], r["method"]): r for r in section.numbers["rows"]}
    assert set(rows) == {(T, m) for T in (12, 20) for m in ("tanh-sgd-clip", "lstm-adam")}
    assert all(rows[T, "lstm-adam"]["success_rate"] == 1 for T in (12, 20))
    assert rows[20, "tanh-sgd-clip"]["success_rate"] == 0
    assert section.holds and "| temporal-order-2bit-1997 | 20 | lstm-adam | 1/1 |" in section.notes
    (figure,) = section.figures
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    store = tmp_path / "longlag" / "store.jsonl"
    before = store.read_text()
    assert longlag.run(tmp_path, quick=True).holds and store.read_text() == before   # rerun: nothing trained again
