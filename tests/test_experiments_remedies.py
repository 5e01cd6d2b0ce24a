"""Section 6 of the tour (quick): clipping, momentum with echo-state init, IRNN and the LSTM on store_recall."""
import json

from unroll.experiments import remedies


def test_remedies_section_quick(tmp_path):
    section = remedies.run(tmp_path, quick=True)
    numbers = section.numbers
    json.dumps(numbers)
    summary = numbers["summary"]
    assert set(summary) == set(remedies.METHODS)

    assert summary["sgd"]["diverged"] == summary["sgd"]["seeds"]          # lr 1, no clipping: overflows
    assert summary["sgd_clip"]["diverged"] == 0                           # clipping keeps it finite ...
    assert summary["sgd_clip"]["median_final_mean_abs_error"] > 0.4       # ... but it learns nothing
    momentum = summary["momentum_esn_clip"]["median_final_mean_abs_error"]
    assert momentum <= remedies.IMPROVEMENT * summary["sgd_clip"]["median_final_mean_abs_error"]
    assert summary["lstm"]["success_rate"] >= 0.5
    assert summary["lstm"]["median_final_mean_abs_error"] < 0.1
    assert section.holds

    assert "Hessian-free" in section.notes and "echo state networks" in section.notes
    (figure,) = section.figures
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
