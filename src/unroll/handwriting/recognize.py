"""Reading ink with a trained recogniser: featurise each word, run the BLSTM (each network of an ensemble)
once, tell the words' language, decode with or without a lexicon, the open-vocabulary reading guided by a
character language model of the language's words."""
import math

import torch

from .. import ctc
from ..data.ink.ink import Ink
from ..data.ink.preprocess import ink_to_features
from .charlm import PrefixScorer
from .ensemble import ensemble_candidates
from .evaluate import WORD_CHOICE, member_log_probs
from .languages import AUTO, Language, choose_language, plausible_languages
from .lexicon import Lexicon, scored_choice
from .shipped import MODEL_DIR, load_model

# decoding settings for a model folder that does not give them (the shipped one does)
DECODING = {"prior_weight": 0.5, "length_bonus": 2.0, "oov_prior": -25.0, "capitalised_bonus": 0.0,
            "uppercase_bonus": 0.0, "lm_weight": 1.0, "lm_length_bonus": 2.0}


class Recognizer:
    """A model (one network, or an ensemble's: ``models``) with its alphabet, resampling spacing, (optional)
    lexicon and (optional) language model.

    ``language``: "auto" (the words of each ``read_words`` call are read in the one of ``detect`` they read
    as best: ``unroll.handwriting.languages``), a wordfreq language code, or several joined by commas
    sharing the prior (``lexicon.language_lexicon``). A language's lexicon is the default one and its words train the
    character language model (English and German ship with the package; another language is built from
    wordfreq, about 2 s).
    ``lexicon``: "default" (the language's), None (open vocabulary), a path, or a Lexicon.
    ``language_model``: whether a character n-gram model of the language's words guides the open-vocabulary
    reading (the reading itself without a lexicon, the fallback with one).
    ``networks``: read with the model's first N networks only (None: all; 1 is several times faster).
    ``decode`` reads in ``self.language``: the first language until ``read_words`` tells another.
    """

    def __init__(self, model_dir=MODEL_DIR, lexicon="default", beam: int = 24, language_model: bool = True,
                 language: str = "auto", networks: int | None = None, detect: tuple = AUTO):
        self.models, self.alphabet, self.meta = load_model(model_dir)
        if networks is not None:
            if not 1 <= networks <= len(self.models):
                raise ValueError(f"networks: the model has {len(self.models)} network(s), got {networks}")
            self.models = self.models[:networks]
        decoding = {**DECODING, **self.meta.get("decoding", {})}
        self.word_choice = {k: decoding[k] for k in WORD_CHOICE}      # choose_word's settings
        self.lm_weight, self.lm_length_bonus = decoding["lm_weight"], decoding["lm_length_bonus"]
        self.beam = beam
        self.own_lexicon = lexicon == "default"           # the language's; else ``lexicon`` whatever the language
        if not (self.own_lexicon or lexicon is None or isinstance(lexicon, Lexicon)):
            lexicon = Lexicon.read(lexicon)
        self.given_lexicon = None if self.own_lexicon else lexicon
        self.use_language_model = language_model
        codes = tuple(detect) if language == "auto" else (language,)
        if not codes:
            raise ValueError("detect: expected at least one language for --language auto")
        if not (self.own_lexicon or language_model):
            codes = codes[:1]                 # nothing read depends on the language
        self.languages = {code: Language(code, self.alphabet) for code in codes}
        self.read_in(codes[0])

    def read_in(self, code: str) -> None:
        """Read in language ``code`` (a key of ``self.languages``) from now on: its lexicon (unless another
        was given) and character model."""
        language = self.languages[code]
        self.language = code
        self.lexicon = language.lexicon if self.own_lexicon else self.given_lexicon
        self.language_model = language.model if self.use_language_model else None

    def scorer(self) -> PrefixScorer | None:
        """A fresh language-model scorer for one word (None without a language model)."""
        if self.language_model is None:
            return None
        return PrefixScorer(self.language_model, self.alphabet.chars, self.lm_weight, self.lm_length_bonus)

    def features(self, ink: Ink):
        return ink_to_features(ink, self.meta["spacing"])

    @property
    def model(self):
        """The first network (the one the explain picture shows)."""
        return self.models[0]

    def log_probs(self, inks: list) -> list[torch.Tensor]:
        """Per word, (M, T_i, K) log-probabilities of the M networks (a word with no usable ink gives
        (M, 0, K))."""
        feats = [self.features(ink) for ink in inks]
        usable = [i for i, f in enumerate(feats) if len(f) > 0]
        out = [torch.zeros(len(self.models), 0, len(self.alphabet))] * len(inks)
        for i, lp in zip(usable, member_log_probs(self.models, [feats[i] for i in usable])):
            out[i] = lp
        return out

    def read_words(self, inks: list) -> list[str]:
        """One transcription per Ink, all read in the language they read as (``read_log_probs``)."""
        return self.read_log_probs(self.log_probs(inks))

    def read_log_probs(self, log_probs: list) -> list[str]:
        """One transcription per word's (M, T, K) log-probabilities, all in the one of ``self.languages``
        whose readings score highest (``languages.choose_language``; only the languages the character
        models leave plausible are read), which becomes ``self.language``."""
        codes = list(self.languages)
        if len(codes) > 1:
            best_paths = [self.alphabet.decode(ctc.best_path(lp[0])) for lp in log_probs if lp.shape[-2]]
            codes = plausible_languages(best_paths, {code: self.languages[code].model for code in codes})
        read = {}
        for code in codes:
            self.read_in(code)
            read[code] = [self.scored_decode(lp) if lp.shape[-2] else ("", 0.0) for lp in log_probs]
        totals = {code: sum(score for _, score in words if score > -math.inf) for code, words in read.items()}
        self.read_in(choose_language(totals, default=next(iter(self.languages))))
        return [word for word, _ in read[self.language]]

    def decode(self, log_probs: torch.Tensor) -> str:
        """The word of one word's (M, T, K) log-probabilities (or one network's (T, K)), with this
        recogniser's lexicon and language model (in ``self.language``)."""
        return self.scored_decode(log_probs)[0]

    def scored_decode(self, log_probs: torch.Tensor) -> tuple[str, float]:
        """``decode``'s word and its score (``lexicon.scored_choice``)."""
        open_reading, candidates = ensemble_candidates(log_probs if log_probs.dim() == 3 else log_probs[None],
                                                       self.alphabet, self.lexicon, self.beam, self.scorer)
        return scored_choice(open_reading, candidates, **self.word_choice)
