"""A character n-gram language model of words, for open-vocabulary decoding: it knows how English words are
spelled without limiting the reading to a word list.

Trained on a lexicon's words weighted by frequency^``weighting`` (0: every word once; 1: as often as it is
used), case-folded, each word padded with ``order - 1`` start marks and one end mark; Witten-Bell
interpolation down to a uniform distribution over the letters and the end mark.
"""
import math
from collections import defaultdict

from ..checks import int_at_least

START, END = "^", "$"
ORDER, WEIGHTING = 5, 0.5                  # the shipped decoder's model: 5-grams, counts ~ sqrt(frequency)


class CharNgram:
    """P(next char | the ``order - 1`` chars before it) over lowercase letters and the end of the word."""

    def __init__(self, frequencies: dict, order: int = ORDER, weighting: float = WEIGHTING):
        int_at_least("order", order, 1)
        if not frequencies:
            raise ValueError("frequencies: expected at least one word")
        self.order, self.weighting = order, float(weighting)
        grams = defaultdict(float)           # the full-order n-grams; every shorter one is a marginal of them
        for word, frequency in frequencies.items():
            text = START * (order - 1) + word.lower() + END
            weight = float(frequency) ** self.weighting
            for i in range(order - 1, len(text)):
                grams[text[i - order + 1:i + 1]] += weight
        counts = defaultdict(lambda: defaultdict(float))
        for k in range(order):
            if k:
                shorter = defaultdict(float)
                for gram, weight in grams.items():
                    shorter[gram[1:]] += weight
                grams = shorter
            for gram, weight in grams.items():
                counts[gram[:-1]][gram[-1]] = weight
        self.counts = {context: dict(following) for context, following in counts.items()}
        self.totals = {context: sum(following.values()) for context, following in self.counts.items()}
        self.symbols = sorted({c for following in self.counts.values() for c in following})
        self._memo = {}

    def prob(self, context: str, char: str) -> float:
        """P(char | context): context is the (up to order - 1) preceding chars, START-padded, lowercase."""
        context = context[len(context) - self.order + 1:] if self.order > 1 else ""
        key = (context, char)
        p = self._memo.get(key)
        if p is None:
            lower = 1.0 / len(self.symbols) if not context else self.prob(context[1:], char)
            following = self.counts.get(context)
            if following is None:
                p = lower
            else:
                distinct = len(following)
                p = (following.get(char, 0.0) + distinct * lower) / (self.totals[context] + distinct)
            self._memo[key] = p
        return p

    def log_prob(self, text: str, complete: bool = True) -> float:
        """log P(text) as the start of a word, or as a whole word (with its end) when ``complete``."""
        padded = START * (self.order - 1) + text.lower() + (END if complete else "")
        return sum(math.log(self.prob(padded[:i], padded[i])) for i in range(self.order - 1, len(padded)))


class PrefixScorer:
    """The language-model bonus of a CTC prefix for ``unroll.ctc.prefix_beam_search``:
    weight x log P_lm(prefix) + length_bonus x len(prefix), plus weight x log P(end) when complete.
    Prefixes are tuples of label indices of ``chars`` (label k is chars[k - 1]); scores are cached (one
    scorer per word keeps the cache small)."""

    def __init__(self, model: CharNgram, chars: str, weight: float, length_bonus: float):
        self.model, self.chars = model, chars
        self.weight, self.length_bonus = float(weight), float(length_bonus)
        self._open = {(): 0.0}

    def __call__(self, prefix: tuple, complete: bool = False) -> float:
        score = self._open.get(prefix)
        if score is None:
            letter = self.chars[prefix[-1] - 1].lower()
            score = (self(prefix[:-1]) + self.weight * math.log(self.model.prob(self._context(prefix[:-1]), letter))
                     + self.length_bonus)
            self._open[prefix] = score
        if complete:
            score += self.weight * math.log(self.model.prob(self._context(prefix), END))
        return score

    def _context(self, labels: tuple) -> str:
        """The model's context after ``labels``: their last order - 1 letters, START-padded, lowercase."""
        kept = labels[max(0, len(labels) - self.model.order + 1):]
        return START * (self.model.order - 1 - len(kept)) + "".join(self.chars[k - 1] for k in kept).lower()
