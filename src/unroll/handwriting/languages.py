"""Which language a writer's words are in, told from the ink.

The words given together (one writer's, one call of ``Recognizer.read_words``) are read in each candidate
language, with its lexicon and character model, and the language whose readings score highest in total
(log P(word | ink) plus the weighted log prior and bonuses of ``lexicon.choose_word``) is the language of
all of them; the first candidate is kept unless another beats it by ``MARGIN``. To read most calls once,
not once per language, a cheaper test comes first: the first network's best-path readings are scored by
each language's character model (``charlm.CharNgram``), and a language these favour by more than
``DECISIVE`` nats is taken without decoding in the others (on the 37 writers held out from training the
German writers' words favour German by more than 1,000 nats, the English writers' words English by 4 to
5,500: docs/handwriting.md).
"""
from functools import cached_property

from .alphabet import Alphabet
from .charlm import CharNgram
from .lexicon import Lexicon, language_lexicon

AUTO = ("en", "de")      # the languages `--language auto` chooses among: the two that ship (UNIPEN's two)
MARGIN = 4.6             # nats another language's readings must win by (prior odds of 100 to 1 for the first)
DECISIVE = 25.0          # nats by which the character models must favour a language to skip the others


class Language:
    """A language's lexicon and character model (``codes``: a wordfreq code, or several sharing the prior,
    "en,de"; see ``lexicon.language_lexicon``), each built on first use."""

    def __init__(self, codes: str, alphabet: Alphabet):
        self.codes, self.alphabet = codes, alphabet

    @cached_property
    def lexicon(self) -> Lexicon:
        return language_lexicon(self.codes, self.alphabet)

    @cached_property
    def model(self) -> CharNgram:
        return CharNgram(self.lexicon.frequencies)


def plausible_languages(readings: list[str], models: dict, decisive: float = DECISIVE) -> list[str]:
    """The keys of ``models`` (language -> CharNgram), in order, under which ``readings`` (one per word; empty
    ones count for nothing) have a total log probability within ``decisive`` nats of the best language's."""
    if not models:
        raise ValueError("models: expected at least one language")
    totals = {code: sum(model.log_prob(r) for r in readings if r) for code, model in models.items()}
    best = max(totals.values())
    return [code for code, total in totals.items() if total >= best - decisive]


def choose_language(totals: dict, default: str, margin: float = MARGIN) -> str:
    """The key of ``totals`` (language -> total score of its readings, in nats) with the highest total;
    ``default`` unless another beats it by more than ``margin`` (if ``default`` is among them)."""
    if not totals:
        raise ValueError("totals: expected at least one language")
    best = max(totals, key=totals.get)
    if default in totals and totals[best] <= totals[default] + margin:
        return default
    return best
