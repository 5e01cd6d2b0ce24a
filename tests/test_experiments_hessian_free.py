"""The tour's Hessian-free section (quick): HF solves 2-bit temporal order at T = 20, Adam with clipping only some seeds."""
import json

from unroll.experiments import hessian_free


def test_hessian_free_section_quick(tmp_path):
    section = hessian_free.run(tmp_path, quick=True)
    json.dumps(section.numbers)
    (hf,), adam = section.numbers["runs"]["hf"], section.numbers["runs"]["adam"]
    assert hf["solved_at"] is not None and hf["solved_at"] <= 100 and hf["error_rate"][-1] < 0.01
    failed = [run for run in adam if run["solved_at"] is None]
    assert len(adam) == 10 and failed
    assert all(run["updates"] == 2000 and min(run["error_rate"]) > 0.01 for run in failed)
    assert section.holds
    (figure,) = section.figures
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
