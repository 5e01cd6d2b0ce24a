"""Online handwriting recognition: a bidirectional LSTM read out by CTC, trained on UNIPEN words.

``Recognizer`` reads Ink with the shipped model (``trained/``);
``unroll.train.handwriting.train_handwriting`` reproduces it.
"""
from .recognize import Recognizer

__all__ = ["Recognizer"]
