"""Section 5 of the tour (quick): the hand-set memory cell, its carried derivative, LSTM vs tanh RNN trained."""
import json

from unroll.experiments import memory


def test_memory_section_quick(tmp_path):
    section = memory.run(tmp_path, quick=True)
    numbers = section.numbers
    json.dumps(numbers)

    cell = numbers["hand_set_cell"]
    assert abs(cell["stored"] - 4.2) < 1e-6 and abs(cell["at_read"] - 4.2) < 1e-6
    assert cell["read_output"] > 0.999 and abs(cell["after_clear"]) < 1e-6

    carry = numbers["carry"]
    assert carry["hand_set_lstm"]["lag_100"] > 0.9
    assert carry["tanh_rnn"]["lag_100"] < 1e-3
    assert carry["untrained_lstm_part_b"]["lag_100"] > 0.9          # keep-gate bias 7: memory at init
    assert carry["untrained_lstm_default"]["lag_100"] < 1e-3        # keep-gate bias 1: it vanishes

    summary = numbers["training"]["summary"]
    assert set(summary["lstm"]) == {"20", "50"}
    for lag in ("20", "50"):
        assert summary["lstm"][lag]["success_rate"] >= 0.5
        assert summary["lstm"][lag]["median_final_mean_abs_error"] < 0.1
        assert summary["rnn"][lag]["solved"] == 0
        assert summary["rnn"][lag]["median_final_mean_abs_error"] > 0.3
    assert section.holds

    assert len(section.figures) == 3
    for figure in section.figures:
        assert figure.parent == tmp_path and figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert section.command == "unroll tour --only memory"
