"""Reading ink with a trained recogniser: featurise each word, run the BLSTM once, decode with or without a
lexicon, the open-vocabulary reading guided by a character language model of the language's words."""
import torch

from ..data.ink.ink import Ink
from ..data.ink.preprocess import ink_to_features
from .charlm import CharNgram, PrefixScorer
from .evaluate import log_probs_of
from .lexicon import Lexicon, decode_word, language_lexicon
from .shipped import MODEL_DIR, load_model

# decoding settings for a model folder that does not give them (the shipped one does)
DECODING = {"prior_weight": 0.5, "length_bonus": 2.0, "oov_prior": -25.0, "lm_weight": 1.0, "lm_length_bonus": 2.0}


class Recognizer:
    """A model with its alphabet, resampling spacing, (optional) lexicon and (optional) language model.

    ``language``: a wordfreq language code, or several joined by commas (``language_lexicon``); its lexicon is
    the default one and its words train the character language model (English ships with the package; another
    language is built from wordfreq, about 2 s).
    ``lexicon``: "default" (the language's), None (open vocabulary), a path, or a Lexicon.
    ``language_model``: whether a character n-gram model of the language's words guides the open-vocabulary
    reading (the reading itself without a lexicon, the fallback with one).
    """

    def __init__(self, model_dir=MODEL_DIR, lexicon="default", beam: int = 24, language_model: bool = True,
                 language: str = "en"):
        self.model, self.alphabet, self.meta = load_model(model_dir)
        decoding = {**DECODING, **self.meta.get("decoding", {})}
        self.prior_weight, self.length_bonus = decoding["prior_weight"], decoding["length_bonus"]
        self.oov_prior = decoding["oov_prior"]
        self.lm_weight, self.lm_length_bonus = decoding["lm_weight"], decoding["lm_length_bonus"]
        self.beam = beam
        words = language_lexicon(language, self.alphabet) if lexicon == "default" or language_model else None
        if isinstance(lexicon, Lexicon) or lexicon is None:
            self.lexicon = lexicon
        else:
            self.lexicon = words if lexicon == "default" else Lexicon.read(lexicon)
        self.language_model = CharNgram(words.frequencies) if language_model else None

    def scorer(self) -> PrefixScorer | None:
        """A fresh language-model scorer for one word (None without a language model)."""
        if self.language_model is None:
            return None
        return PrefixScorer(self.language_model, self.alphabet.chars, self.lm_weight, self.lm_length_bonus)

    def features(self, ink: Ink):
        return ink_to_features(ink, self.meta["spacing"])

    def log_probs(self, inks: list) -> list[torch.Tensor]:
        """Per word, (T_i, K) log-probabilities (a word with no usable ink gives a (0, K) tensor)."""
        feats = [self.features(ink) for ink in inks]
        usable = [i for i, f in enumerate(feats) if len(f) > 0]
        out = [torch.zeros(0, len(self.alphabet))] * len(inks)
        for i, lp in zip(usable, log_probs_of(self.model, [feats[i] for i in usable])):
            out[i] = lp
        return out

    def read_words(self, inks: list) -> list[str]:
        """One transcription per Ink."""
        return [self.decode(lp) if len(lp) else "" for lp in self.log_probs(inks)]

    def decode(self, log_probs: torch.Tensor) -> str:
        """The word of one (T, K) log-probability matrix, with this recogniser's lexicon and language model."""
        return decode_word(log_probs, self.alphabet, self.lexicon, self.beam, self.prior_weight, self.length_bonus,
                           self.oov_prior, self.scorer())
