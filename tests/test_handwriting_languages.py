"""Telling the language of a writer's words from the ink, and reading them in it."""
import pytest
import torch

from unroll import ctc
from unroll.cli import main
from unroll.data.ink import read_ink
from unroll.handwriting.alphabet import Alphabet
from unroll.handwriting.languages import AUTO, MARGIN, Language, choose_language, plausible_languages
from unroll.handwriting.lexicon import Lexicon, wordfreq_frequencies
from unroll.handwriting.recognize import Recognizer
from unroll.handwriting.shipped import MODEL_DIR, SAMPLE_FILES

ENGLISH_FILES, GERMAN_FILE = SAMPLE_FILES[:3], SAMPLE_FILES[3]


@pytest.fixture(scope="module")
def models():
    return {code: Language(code, Alphabet()).model for code in AUTO}


def test_the_character_models_leave_the_languages_the_spelling_allows(models):
    assert plausible_languages(["Mittwoch", "Geburtstag", "Apotheke", "Zeitung"], models) == ["de"]
    assert plausible_languages(["Wednesday", "birthday", "pharmacy", "newspaper"], models) == ["en"]
    assert plausible_languages(["Hotel"], models) == ["en", "de"]           # one word rules out nothing
    assert plausible_languages([], models) == ["en", "de"] == plausible_languages(["", ""], models)
    words = ["Mittwoch", "Geburtstag"]
    gap = sum(models["de"].log_prob(w) - models["en"].log_prob(w) for w in words)
    assert plausible_languages(words, models, decisive=gap + 1e-6) == ["en", "de"]
    assert plausible_languages(words, models, decisive=gap - 1e-6) == ["de"]
    with pytest.raises(ValueError, match="models: expected at least one language"):
        plausible_languages(["x"], {})


def test_another_language_must_beat_the_first_by_the_margin():
    assert choose_language({"en": -10.0, "de": -10.0 + MARGIN}, "en") == "en"
    assert choose_language({"en": -10.0, "de": -10.0 + MARGIN + 1e-9}, "en") == "de"
    assert choose_language({"en": -10.0, "de": -20.0}, "de", margin=0) == "en"
    assert choose_language({"de": -50.0}, "en") == "de"                       # the first was ruled out
    with pytest.raises(ValueError, match="totals: expected at least one language"):
        choose_language({}, "en")


def test_a_language_is_built_only_when_used():
    language = Language("de", Alphabet())
    assert "lexicon" not in vars(language) and "model" not in vars(language)
    assert "mittwoch" in language.lexicon and "model" not in vars(language)
    reader = Recognizer(lexicon=None, language_model=False)          # nothing read depends on the language
    assert list(reader.languages) == ["en"] and not {"lexicon", "model"} & set(vars(reader.languages["en"]))
    assert list(Recognizer(language="de").languages) == ["de"]


def test_the_shipped_german_lexicon_is_wordfreqs():
    shipped = Lexicon.read(MODEL_DIR / "lexicon-de.tsv.gz").frequencies
    built = wordfreq_frequencies("de", alphabet=Alphabet())
    assert shipped.keys() == built.keys() and all(shipped[w] == pytest.approx(built[w], rel=1e-5) for w in built)


def test_a_german_writer_is_read_in_german_and_english_ones_in_english():
    reader, english = Recognizer(), Recognizer(language="en")
    for path in ENGLISH_FILES:
        reader.read_words(read_ink(path).words)
        assert reader.language == "en"
    words = read_ink(GERMAN_FILE).words
    labels = [w.label for w in words]
    read = reader.read_words(words)
    assert reader.language == "de"
    assert ctc.word_accuracy(read, labels) > ctc.word_accuracy(english.read_words(words), labels)
    # the language is told afresh at every call, and from the networks' outputs as from ink
    assert reader.read_words(read_ink(ENGLISH_FILES[0]).words) and reader.language == "en"
    assert reader.read_log_probs(reader.log_probs(words)) == read and reader.language == "de"
    assert reader.read_log_probs([torch.zeros(3, 0, 53)]) == [""] and reader.language == "en"


def test_only_the_languages_the_character_models_leave_are_decoded(monkeypatch):
    reader = Recognizer()
    decoded = []
    scored_decode = reader.scored_decode
    monkeypatch.setattr(reader, "scored_decode", lambda lp: decoded.append(reader.language) or scored_decode(lp))
    words = read_ink(GERMAN_FILE).words
    reader.read_words(words)                  # eight German words: English is ruled out before decoding
    assert decoded == ["de"] * len(words)
    decoded.clear()
    reader.read_words(words[4:5])            # "Hotel" alone: read in both, English kept
    assert decoded == ["en", "de"] and reader.language == "en"


def test_cli_reads_several_files_in_one_language(capsys):
    assert main(["recognize", str(ENGLISH_FILES[0]), str(GERMAN_FILE), "--score"]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 5 + 8 and "labelled words, read in " in err
    assert main(["recognize", str(GERMAN_FILE), "--score"]) == 0
    out, err = capsys.readouterr()
    assert "Mittwoch" in out.splitlines() and err.rstrip().endswith("(8 labelled words, read in de)")
    assert main(["recognize", str(GERMAN_FILE), "--detect", "en", "--score"]) == 0      # German not offered
    assert "read in en)" in capsys.readouterr().err
    assert main(["recognize", str(GERMAN_FILE), "-", "-"]) == 2
    assert "unroll: error: files: stdin (-) can be read once" in capsys.readouterr().err
    assert main(["recognize", str(GERMAN_FILE), "--detect", "en,xx"]) == 2
    assert "unroll: error: language: wordfreq has no word list for 'xx'" in capsys.readouterr().err
