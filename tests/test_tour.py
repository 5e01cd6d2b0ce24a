"""The tour runner: the report embeds its figures, results.json holds every number, bad keys fail clearly."""
import json

import pytest

from unroll.cli import main
from unroll.experiments.tour import SECTIONS, run_tour


def test_tour_writes_a_self_contained_report(tmp_path, capsys):
    assert main(["tour", "--quick", "--only", "vanishing", "--out", str(tmp_path), "--quiet"]) == 0
    assert capsys.readouterr().out.strip() == f"1 of 1 claims hold; report: {tmp_path}/index.html"
    page = (tmp_path / "index.html").read_text()
    assert page.count("data:image/png;base64,") == 1 and "src='http" not in page
    assert "Reproduce: <code>unroll tour --only vanishing</code>" in page
    results = json.loads((tmp_path / "results.json").read_text())
    section = results["sections"]["vanishing"]
    assert section["holds"] is True and section["figures"] == ["vanishing.png"]
    assert results["meta"]["profile"] == "quick" and section["numbers"]["seconds"] > 0
    assert (tmp_path / "vanishing.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unknown_section_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="only: unknown section"):
        run_tour(tmp_path, only=["vanishing", "nope"])


def test_sections_are_in_the_seeds_order():
    assert SECTIONS == ("timer", "unrolling", "cliff", "vanishing", "memory", "remedies", "echo_state", "hessian_free", "longlag",
                        "handwriting")
