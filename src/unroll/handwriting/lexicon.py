"""Word lexicons with frequency priors, and CTC decoding constrained to them.

A lexicon holds lowercase words with relative frequencies; a word may be read as written in lowercase, with a
capital first letter, or in capitals. ``decode_word`` runs a prefix beam search whose prefixes must stay on the
lexicon's trie and lets the complete words compete with the open-vocabulary reading on log P(word | ink) +
``prior_weight`` x log frequency + ``length_bonus`` x length (``choose_word``).
"""
import gzip
import math
from functools import cached_property
from pathlib import Path

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from .. import ctc
from .alphabet import Alphabet

SHIPPED = Path(__file__).parent / "trained"        # lexicon-<code>.tsv.gz: the languages that ship (en, de)
DEFAULT_LEXICON = SHIPPED / "lexicon-en.tsv.gz"
_END = "$"
MIN_SHARE = 0.25                # the alphabet spells fewer of a language's words: not its script
NEAR_MISS_EDITS = 3             # lexicon words this many edits from the best path join the candidates
NEAR_MISS_LIMIT = 20            # ... at most this many, nearest first (chosen on the validation writers)


# How a word may be cased: lowercase, Capitalised or UPPERCASE. State after a prefix -> next state by the case
# of the next letter (None: not allowed).
_CASE = {"empty": {False: "lower", True: "first"}, "lower": {False: "lower", True: None},
         "first": {False: "capitalised", True: "upper"}, "upper": {False: None, True: "upper"},
         "capitalised": {False: "capitalised", True: None}}


class Lexicon:
    """Lowercase words -> log relative frequency (natural log, summing to one over the lexicon); the
    frequencies as given (merged over case) stay in ``frequencies``. The one-letter words share their total
    prior equally: a letter written alone is read as a letter ("n", "x"), not as the words "a" and "I" that
    carry the frequencies of running text (chosen on the validation writers, docs/handwriting.md)."""

    def __init__(self, frequencies: dict):
        if not frequencies:
            raise ValueError("frequencies: expected at least one word")
        merged = {}
        for word, f in frequencies.items():
            if not isinstance(word, str) or not word:
                raise ValueError(f"frequencies: expected non-empty str words, got {word!r}")
            if not f > 0:
                raise ValueError(f"frequencies: expected a positive frequency for {word!r}, got {f!r}")
            merged[word.lower()] = merged.get(word.lower(), 0.0) + float(f)
        self.frequencies = merged
        total = sum(merged.values())
        self.log_prior = {w: math.log(f / total) for w, f in merged.items()}
        letters = [w for w in merged if len(w) == 1]
        if letters:
            shared = math.log(sum(merged[w] for w in letters) / total / len(letters))
            self.log_prior.update(dict.fromkeys(letters, shared))
        self.trie = {}
        for word, lp in self.log_prior.items():
            node = self.trie
            for c in word:
                node = node.setdefault(c, {})
            node[_END] = lp

    def __len__(self) -> int:
        return len(self.log_prior)

    def __contains__(self, word: str) -> bool:
        return word.lower() in self.log_prior

    def written_prior(self, word: str) -> float | None:
        """The log prior of ``word`` if it is a lexicon word written in a casing the lexicon allows
        (lowercase, Capitalised, UPPERCASE), else None."""
        return self.log_prior.get(word.lower()) if word in _casings(word) else None

    @classmethod
    def read(cls, path) -> "Lexicon":
        """A text file (optionally .gz) of ``word`` or ``word<TAB>frequency`` lines (frequency 1 if absent)."""
        path = Path(path)
        opener = gzip.open if path.suffix == ".gz" else open
        freqs = {}
        try:
            with opener(path, "rt", encoding="utf-8") as f:
                for number, line in enumerate(f, 1):
                    parts = line.split()
                    if not parts:
                        continue
                    try:
                        freq = float(parts[1]) if len(parts) > 1 else 1.0
                    except ValueError:
                        raise ValueError(f"{path}:{number}: expected 'word [frequency]', got {line.strip()!r}") from None
                    freqs[parts[0]] = freqs.get(parts[0], 0.0) + freq
        except FileNotFoundError:
            raise ValueError(f"lexicon: {path} does not exist") from None
        return cls(freqs)

    @cached_property
    def _by_frequency(self) -> list[str]:
        return sorted(self.log_prior, key=self.log_prior.get, reverse=True)

    def within(self, text: str, edits: int, limit: int) -> list[str]:
        """Up to ``limit`` lexicon words at most ``edits`` insertions, deletions or substitutions from ``text``
        (compared in lowercase), nearest first, the more frequent first among equally near ones."""
        found = process.extract(text.lower(), self._by_frequency, scorer=Levenshtein.distance, score_cutoff=edits,
                                limit=limit)
        return [word for word, _, _ in found]

    def node(self, text: str):
        node = self.trie
        for c in text.lower():
            node = node.get(c)
            if node is None:
                return None
        return node


def wordfreq_frequencies(language: str, size: int = 50000, alphabet: Alphabet | None = None) -> dict:
    """The ``size`` most frequent words of ``language`` in wordfreq that the alphabet spells -> frequency per
    billion words."""
    import wordfreq

    alphabet = alphabet or Alphabet()
    if language not in wordfreq.available_languages():
        raise ValueError(f"language: wordfreq has no word list for {language!r} "
                         f"(it has {', '.join(sorted(wordfreq.available_languages()))})")
    words = {w: wordfreq.word_frequency(w, language) * 1e9 for w in wordfreq.top_n_list(language, size)
             if alphabet.covers(w)}
    if len(words) < MIN_SHARE * size:
        raise ValueError(f"language: the alphabet spells only {len(words)} of wordfreq's {size} most frequent "
                         f"{language!r} words (at least {MIN_SHARE:.0%} needed)")
    return words


def build_lexicon(path, language: str = "en", size: int = 50000, alphabet: Alphabet | None = None) -> int:
    """Write ``wordfreq_frequencies(language, size, alphabet)`` to ``path`` (.tsv.gz), as the shipped lexicons
    were built. Returns the number of words written."""
    from ..atomic import atomic_write

    lines = [f"{w}\t{f:.6g}\n" for w, f in wordfreq_frequencies(language, size, alphabet).items()]
    atomic_write(path, gzip.compress("".join(lines).encode(), mtime=0))
    return len(lines)


def language_lexicon(languages: str, alphabet: Alphabet | None = None) -> Lexicon:
    """The lexicon for ``languages``, wordfreq codes joined by commas ("de", "en,de"): the shipped file for
    English and German, wordfreq's 50,000 most frequent words (those the alphabet spells) for any other
    language it has. Several languages share the prior equally: a word's frequency per billion is the mean of
    its relative frequencies in each lexicon, times 1e9."""
    shipped = {code: SHIPPED / f"lexicon-{code}.tsv.gz" for code in languages.split(",")}
    lexicons = [Lexicon.read(path) if path.exists() else Lexicon(wordfreq_frequencies(code, alphabet=alphabet))
                for code, path in shipped.items()]
    if len(lexicons) == 1:
        return lexicons[0]
    mixed = {}
    for lexicon in lexicons:
        for word, log_prior in lexicon.log_prior.items():
            mixed[word] = mixed.get(word, 0.0) + math.exp(log_prior) * 1e9 / len(lexicons)
    return Lexicon(mixed)


def word_candidates(log_probs, alphabet: Alphabet, lexicon: Lexicon | None, beam: int = 24, scorer=None,
                    near_misses: int = NEAR_MISS_EDITS):
    """(open reading (word, log P(word | ink), log prior or None), lexicon candidates [(word, log P(word | ink),
    log prior)]).

    The open reading is the prefix beam search's, guided by ``scorer`` (a charlm.PrefixScorer) if given; its
    log prior is the lexicon's when it is a lexicon word in a casing the lexicon allows. The lexicon search
    keeps ``beam`` prefixes on the trie, ranked by log P(prefix | ink) alone; the prior only ranks the
    complete words that survive, so one search serves every setting of ``choose_word``. The beam loses
    words whose ink is misread in a letter or two ("breakfost"), so the lexicon words within
    ``near_misses`` edits of the best path's reading (at most NEAR_MISS_LIMIT of them) join the candidates
    (0: none). Every candidate word, and the open reading when it
    spells a lexicon word, is then offered in each casing the alphabet spells (lowercase, Capitalised,
    UPPERCASE), the casings the search did not reach scored exactly (chosen on the validation writers)."""
    open_labels = ctc.prefix_beam_search(log_probs, beam=beam, score=scorer)
    open_word = alphabet.decode(open_labels)
    open_score = ctc.labelling_log_prob(log_probs, open_labels) if open_labels else -math.inf
    open_prior = lexicon.written_prior(open_word) if lexicon is not None else None
    found = []
    if lexicon is not None:
        chars = alphabet.chars
        reached = {(): (lexicon.trie, "empty")}     # prefix -> (trie node, case state), filled as the beam grows

        def allowed(prefix, k):
            key = prefix + (k,)
            if key not in reached:
                node, case = reached[prefix]
                c = chars[k - 1]
                child, case = node.get(c.lower()), _CASE[case][c.isupper()]
                reached[key] = (child, case) if child is not None and case is not None else None
            return reached[key] is not None

        for labels, acoustic in ctc.prefix_beam_search(log_probs, beam=beam, allowed=allowed, top=beam):
            word = alphabet.decode(labels)
            node = lexicon.node(word) if word else None
            if node is not None and _END in node:
                found.append((word, acoustic, node[_END]))
        searched = {word for word, _, _ in found}
        words = searched | ({open_word} if open_word and open_word in lexicon else set())
        if near_misses:
            words.update(_near_misses(log_probs, alphabet, lexicon, near_misses))
        found += _other_casings(log_probs, alphabet, lexicon, words, searched | {open_word})
    return (open_word, open_score, open_prior), found


def _near_misses(log_probs, alphabet: Alphabet, lexicon: Lexicon, edits: int) -> list[str]:
    """The lexicon words (lowercase) within ``edits`` of the best path's reading, at most NEAR_MISS_LIMIT."""
    reading = alphabet.decode(ctc.best_path(log_probs))
    return lexicon.within(reading, edits, NEAR_MISS_LIMIT) if reading else []


def _casings(word: str) -> tuple[str, str, str]:
    """The ways a lexicon word may be written: lowercase, Capitalised, UPPERCASE."""
    return word.lower(), word[:1].upper() + word[1:].lower(), word.upper()


def _other_casings(log_probs, alphabet: Alphabet, lexicon: Lexicon, words, known: set) -> list[tuple]:
    """[(word, log P(word | ink), log prior)] for every casing of ``words`` that the alphabet spells and is not
    in ``known``, scored exactly in one batched pass."""
    cased = sorted({c for word in words for c in _casings(word) if c not in known and alphabet.covers(c)})
    scores = ctc.labellings_log_probs(log_probs, [alphabet.encode(c) for c in cased])
    return [(c, score, lexicon.log_prior[c.lower()]) for c, score in zip(cased, scores)]


def choose_word(open_reading, candidates, prior_weight: float, length_bonus: float, oov_prior: float,
                capitalised_bonus: float = 0.0, uppercase_bonus: float = 0.0) -> str:
    """The reading with the highest log P(word | ink) + prior_weight x log prior + length_bonus x len(word)
    + its casing's bonus among the lexicon candidates and the open reading, whose log prior is ``oov_prior``
    when it is not a lexicon word (the length bonus offsets the prior's preference for short words; the
    casing bonuses, ``capitalised_bonus`` and ``uppercase_bonus`` by ``casing(word)``, offset the networks'
    preference for small letters)."""
    return scored_choice(open_reading, candidates, prior_weight, length_bonus, oov_prior, capitalised_bonus,
                         uppercase_bonus)[0]


def scored_choice(open_reading, candidates, prior_weight: float, length_bonus: float, oov_prior: float,
                  capitalised_bonus: float = 0.0, uppercase_bonus: float = 0.0) -> tuple[str, float]:
    """``choose_word``'s reading and its score (-inf when there is nothing to choose from)."""
    word, acoustic, prior = open_reading
    options = list(candidates) + ([(word, acoustic, oov_prior if prior is None else prior)] if word else [])
    if not options:
        return word, -math.inf
    bonus = {"Capitalised": capitalised_bonus, "UPPERCASE": uppercase_bonus}

    def score(option):
        word, acoustic, prior = option
        return acoustic + prior_weight * prior + length_bonus * len(word) + bonus.get(casing(word), 0.0)
    best = max(options, key=score)
    return best[0], score(best)


def casing(word: str) -> str:
    """The casing of ``word``: "lowercase" (no capitals), "Capitalised" (a capital, then no capitals; a
    capital alone too), "UPPERCASE" (capitals, no small letters) or "mixed"."""
    if word == word.lower():
        return "lowercase"
    if word[:1].isupper() and word[1:] == word[1:].lower():
        return "Capitalised"
    return "UPPERCASE" if word == word.upper() else "mixed"


def decode_word(log_probs, alphabet: Alphabet, lexicon: Lexicon | None = None, beam: int = 24,
                prior_weight: float = 0.5, length_bonus: float = 2.0, oov_prior: float = -25.0,
                scorer=None) -> str:
    """The word ``log_probs`` (T, K) spells: the best of the lexicon's words and the open reading if a lexicon
    is given, else the open reading (guided by ``scorer``, a character language model, if given)."""
    open_reading, candidates = word_candidates(log_probs, alphabet, lexicon, beam, scorer)
    return choose_word(open_reading, candidates, prior_weight, length_bonus, oov_prior)
