"""Reading ink with a trained recogniser: featurise each word, run the BLSTM (each network of an ensemble)
once, decode with or without a lexicon, the open-vocabulary reading guided by a character language model of
the language's words."""
import torch

from ..data.ink.ink import Ink
from ..data.ink.preprocess import ink_to_features
from .charlm import CharNgram, PrefixScorer
from .ensemble import ensemble_candidates
from .evaluate import WORD_CHOICE, member_log_probs
from .lexicon import Lexicon, choose_word, language_lexicon
from .shipped import MODEL_DIR, load_model

# decoding settings for a model folder that does not give them (the shipped one does)
DECODING = {"prior_weight": 0.5, "length_bonus": 2.0, "oov_prior": -25.0, "capitalised_bonus": 0.0,
            "uppercase_bonus": 0.0, "lm_weight": 1.0, "lm_length_bonus": 2.0}


class Recognizer:
    """A model (one network, or an ensemble's: ``models``) with its alphabet, resampling spacing, (optional)
    lexicon and (optional) language model.

    ``language``: a wordfreq language code, or several joined by commas (``language_lexicon``); its lexicon is
    the default one and its words train the character language model (English ships with the package; another
    language is built from wordfreq, about 2 s).
    ``lexicon``: "default" (the language's), None (open vocabulary), a path, or a Lexicon.
    ``language_model``: whether a character n-gram model of the language's words guides the open-vocabulary
    reading (the reading itself without a lexicon, the fallback with one).
    ``networks``: read with the model's first N networks only (None: all; 1 is several times faster).
    """

    def __init__(self, model_dir=MODEL_DIR, lexicon="default", beam: int = 24, language_model: bool = True,
                 language: str = "en", networks: int | None = None):
        self.models, self.alphabet, self.meta = load_model(model_dir)
        if networks is not None:
            if not 1 <= networks <= len(self.models):
                raise ValueError(f"networks: the model has {len(self.models)} network(s), got {networks}")
            self.models = self.models[:networks]
        decoding = {**DECODING, **self.meta.get("decoding", {})}
        self.word_choice = {k: decoding[k] for k in WORD_CHOICE}      # choose_word's settings
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
        """One transcription per Ink."""
        return [self.decode(lp) if lp.shape[-2] else "" for lp in self.log_probs(inks)]

    def decode(self, log_probs: torch.Tensor) -> str:
        """The word of one word's (M, T, K) log-probabilities (or one network's (T, K)), with this
        recogniser's lexicon and language model."""
        open_reading, candidates = ensemble_candidates(log_probs if log_probs.dim() == 3 else log_probs[None],
                                                       self.alphabet, self.lexicon, self.beam, self.scorer)
        return choose_word(open_reading, candidates, **self.word_choice)
