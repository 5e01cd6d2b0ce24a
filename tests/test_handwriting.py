"""The shipped recogniser: reads committed real words by held-out writers, the CLI, and the explain figure."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from unroll import ctc
from unroll.cli import main
from unroll.data.ink import read_ink
from unroll.experiments import handwriting
from unroll.experiments.handwriting import CER_CEILING, SENSITIVITY_REACH, WORD_ACCURACY_FLOOR
from unroll.handwriting.evaluate import WORD_CHOICE
from unroll.handwriting.explain import cell_states
from unroll.handwriting.recognize import Recognizer
from unroll.handwriting.shipped import MODEL_DIR, SAMPLE_FILES, SAMPLE_INK


@pytest.fixture(scope="module")
def recognizer():
    return Recognizer()


def test_shipped_files_are_small_and_complete():
    assert (MODEL_DIR / "recognizer.safetensors").stat().st_size < 5_000_000
    meta = json.loads((MODEL_DIR / "recognizer.json").read_text())
    assert meta["alphabet"].isalpha() and all(m["model"]["num_layers"] >= 1 for m in meta["members"])
    assert len(meta["members"]) > 1 and meta["dtype"] == "float16"
    assert {*WORD_CHOICE, "lm_weight", "lm_length_bonus"} <= set(meta["decoding"])
    assert (MODEL_DIR / "lexicon-en.tsv.gz").stat().st_size > 100_000
    assert (MODEL_DIR / "lexicon-de.tsv.gz").stat().st_size > 100_000
    assert sum(f.stat().st_size for f in MODEL_DIR.iterdir()) < 5_000_000     # weights, settings, lexicons


def test_tour_section_reads_the_sample_words_by_unseen_writers_and_draws_them(tmp_path):
    section = handwriting.run(tmp_path)
    assert section.holds and section.numbers["words"] == 22
    assert list(section.numbers["languages"].values()) == ["en", "en", "en", "de"]
    assert section.numbers["word_accuracy"] >= WORD_ACCURACY_FLOOR and section.numbers["cer_ink_alone"] <= CER_CEILING
    assert [f.name for f in section.figures] == ["handwriting-words.png", "handwriting-explain.png"]
    assert all(f.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for f in section.figures)


def test_the_language_model_guides_the_open_reading():
    words = [w for f in SAMPLE_FILES for w in read_ink(f).words]
    labels = [w.label for w in words]
    open_vocabulary = Recognizer(lexicon=None).read_words(words)
    ink_alone = Recognizer(lexicon=None, language_model=False).read_words(words)
    assert ctc.character_error_rate(open_vocabulary, labels) < ctc.character_error_rate(ink_alone, labels)


def test_cli_prints_one_word_per_segment_and_scores_on_stderr(capsys):
    assert main(["recognize", str(SAMPLE_FILES[0]), "--score"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 5 and all(line.isalpha() for line in lines)
    assert err.startswith("character error rate ") and "word accuracy" in err
    assert main(["recognize", str(SAMPLE_FILES[0]), "--no-lexicon", "--no-language-model"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 5


def test_cli_reads_stdin_and_rejects_conflicting_options(capsys):
    quiet = {**os.environ, "UNROLL_NATIVE": "0"}   # no warning where the optional C++ loops could not be built
    run = subprocess.run([sys.executable, "-m", "unroll.cli", "recognize", "-", "--no-lexicon"], env=quiet,
                         input=SAMPLE_FILES[1].read_text(), capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and len(run.stdout.splitlines()) == 5 and run.stderr == ""
    assert main(["recognize", str(SAMPLE_FILES[1]), "--no-lexicon", "--lexicon", "x.txt"]) == 2
    assert "unroll: error: lexicon:" in capsys.readouterr().err
    assert main(["recognize", str(SAMPLE_INK / "README.md")]) == 2
    assert main(["recognize", str(SAMPLE_FILES[1]), "--language", "xx"]) == 2
    assert "unroll: error: language: wordfreq has no word list for 'xx'" in capsys.readouterr().err
    assert main(["recognize", str(SAMPLE_FILES[1]), "--beam", "1"]) == 0      # the narrowest beam reads too
    assert len(capsys.readouterr().out.splitlines()) == 5
    assert main(["recognize", str(SAMPLE_FILES[1]), "--networks", "1"]) == 0   # the first network alone
    assert len(capsys.readouterr().out.splitlines()) == 5
    assert main(["recognize", str(SAMPLE_FILES[1]), "--networks", "9"]) == 2
    assert "unroll: error: networks: the model has 3 network(s), got 9" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit:
        main(["recognize", str(SAMPLE_FILES[1]), "--beam", "0"])
    assert exit.value.code == 2 and "--beam: expected a positive integer, got 0" in capsys.readouterr().err


def test_explain_figure_is_drawn_with_its_numbers(tmp_path, recognizer):
    out = tmp_path / "explain.png"
    assert main(["recognize", str(SAMPLE_FILES[0]), "--explain", "-o", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    record = json.loads(Path(str(out) + ".json").read_text())
    assert len(record["spans"]) == len(record["text"]) and record["label"] == "freshman"
    sensitivity = np.array(record["sensitivity"])
    assert sensitivity.max() > 0 and int(np.argmax(sensitivity)) == pytest.approx(record["most_active"][0], abs=SENSITIVITY_REACH)


def test_explain_recomputes_the_same_network(recognizer):
    """The reference unrolling behind the cell-state row gives the fused model's own top-layer outputs."""
    ink = read_ink(SAMPLE_FILES[0]).words[2]
    x = torch.from_numpy(recognizer.features(ink))[:, None]
    _, top = cell_states(recognizer.model, x)
    with torch.no_grad():
        torch.testing.assert_close(top, recognizer.model.hidden(x), rtol=1e-4, atol=1e-5)


def test_ink_cli_draws_converts_and_synthesises(tmp_path):
    assert main(["ink", "draw", str(SAMPLE_FILES[0]), "-o", str(tmp_path / "ink.png")]) == 0
    assert (tmp_path / "ink.png").stat().st_size > 1000
    assert main(["ink", "convert", str(SAMPLE_FILES[0]), "-o", str(tmp_path / "w.inkml")]) == 0
    assert [w.label for w in read_ink(tmp_path / "w.inkml").words] == [w.label for w in read_ink(SAMPLE_FILES[0]).words]
    assert main(["ink", "synth", "hello", "world", "-o", str(tmp_path / "s.json")]) == 0
    assert [w.label for w in read_ink(tmp_path / "s.json").words] == ["hello", "world"]
    assert main(["ink", "convert", str(SAMPLE_FILES[0]), "-o", str(tmp_path / "w.svg")]) == 2
