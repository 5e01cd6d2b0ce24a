"""Section 10 of the tour: the seed's showcase, an LSTM reading handwriting (Graves et al. 2009).

The recogniser that ships with unroll (three bidirectional LSTMs trained with CTC on UNIPEN words, read
as an ensemble; training, test-split numbers and decoders in docs/handwriting.md) reads the package's
sample ink: 22 real words by four writers it never saw in training, three English and one German. It
reads each writer's file as `unroll recognize FILE` does, in the language the file reads as, with that
language's lexicon, and, for the character error rate, from the ink alone; then it draws the seed's
four-row picture for the first word: when letters are recognised, what memory cells hold, the pen as it is
read, and which input points the most active letter output is sensitive to.
"""
from pathlib import Path

import numpy as np

from .. import ctc
from ..data.ink import read_ink
from ..handwriting.recognize import Recognizer
from ..handwriting.shipped import SAMPLE_FILES
from ..report.explain import explain_figure
from ..report.ink import draw_ink
from .section import Section

# The shipped ensemble reads 20 of the 22 words with the lexicon ("when" as "When", "Geburtstag" as
# "geburtstag") and has a CER of 6.7% without it (8 of 120 letters; 120 letters catch a broken model, they
# do not rank two good ones); the bounds leave a margin of one word.
WORD_ACCURACY_FLOOR, CER_CEILING = 0.85, 0.18
LANGUAGES = ("en", "en", "en", "de")      # the sample files' languages (SAMPLE_FILES)
SENSITIVITY_REACH = 15       # time steps from the most active output's spike to the sensitivity's peak


def run(out: Path, quick: bool = False, *, seed: int = 0, progress=None) -> Section:
    """Read the sample words, check the claim, draw the words and the explain picture (same in both
    profiles: nothing is trained; ``seed`` is unused)."""
    out = Path(out)
    report = progress or (lambda fraction: None)
    files = [read_ink(f).words for f in SAMPLE_FILES]
    words = [w for file in files for w in file]
    labels = [w.label for w in words]
    reader, read, languages = Recognizer(), [], []
    for file in files:                  # each file on its own, in the language it reads as
        read += reader.read_words(file)
        languages.append(reader.language)
    report(0.4)
    ink_alone = Recognizer(lexicon=None, language_model=False).read_words(words)
    report(0.7)
    draw_ink(words, out / "handwriting-words.png", columns=5,
             titles=[f"{w.label} -> {h}" for w, h in zip(words, read)])
    data = explain_figure(reader, words[0], out / "handwriting-explain.png")
    report(1.0)
    spike, letter = data["most_active"]
    peak = int(np.argmax(data["sensitivity"]))
    numbers = {"words": len(words), "word_accuracy": ctc.word_accuracy(read, labels),
               "languages": {f.name: code for f, code in zip(SAMPLE_FILES, languages)},
               "cer_ink_alone": ctc.character_error_rate(ink_alone, labels),
               "readings": [[w, h] for w, h in zip(labels, read)], "explained_word": labels[0],
               "open_reading": data["text"],
               "most_active": {"letter": letter, "step": spike}, "sensitivity_peak_step": peak}
    holds = (numbers["word_accuracy"] >= WORD_ACCURACY_FLOOR and numbers["cer_ink_alone"] <= CER_CEILING
             and tuple(languages) == LANGUAGES and abs(peak - spike) <= SENSITIVITY_REACH)
    return Section(
        key="handwriting", title="Reading handwriting: a bidirectional LSTM with CTC",
        claim=(f"The shipped recogniser tells the German writer's file from the three English ones, reads at "
               f"least {WORD_ACCURACY_FLOOR:.0%} of the {len(words)} sample words, real ink by writers it never "
               f"saw, with the lexicon of each file's language, and from the ink alone has a character error "
               f"rate of at most {CER_CEILING:.0%}; in the picture, the input points its most active letter "
               f"output is most sensitive to lie within {SENSITIVITY_REACH} time steps of that output's spike."),
        holds=holds, numbers=numbers,
        figures=[out / "handwriting-words.png", out / "handwriting-explain.png"],
        command="unroll tour --only handwriting",
        notes=("Titles in the first figure: label -> reading. The explain picture, top to bottom: the CTC "
               "output probabilities over the resampled pen points, each decoded letter labelled at its spike; "
               "the cell states of the top layer's forward LSTM cells that move most per step; the pen "
               "trajectory with its x stretched onto the time axis, coloured by time step; the magnitude of "
               "the gradient of the most active letter's log-probability with respect to each input point. "
               "The recogniser is an ensemble of three BLSTMs, each word read by all of them; the picture shows "
               "the first. 22 words rank nothing: on the 6,321 words of the 37 test writers the recogniser has "
               "a CER of 9.09% from the ink alone and reads 89.00% of the words with each writer's words read "
               "in the language they read as, 81.81% with the English lexicon for every word "
               "(docs/handwriting.md; `python benchmarks/handwriting.py`). `unroll recognize --explain FILE -o "
               "out.png` draws the picture for any ink."))
