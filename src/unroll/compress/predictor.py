"""The whole byte model: the online LSTM and the context counts, mixed; integer-quantised probabilities out."""
import math

import numpy as np
import torch

from .config import ModelConfig
from .contexts import ContextCounts
from .lstm import OnlineLSTM
from .mixer import BUCKETS, Mixer, confidence_bucket

PRECISION = 1 << 20   # quantised probabilities of one step sum to this


class Predictor:
    """B streams in lockstep. ``probabilities()`` -> (B, 256) int64 numpy array, every entry >= 1, each
    row summing to PRECISION: the model's distribution of each stream's next byte. ``update(y)`` gives it
    the true bytes y (B,) (numpy or torch ints) and learns from them. Encoder and decoder run exactly
    these calls in the same order, so their floats agree bit for bit (CPU, float32, one thread).
    """

    def __init__(self, config: ModelConfig, batch: int, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        self.config = config
        self.lstm = OnlineLSTM(batch, config.hidden, config.layers, config.embedding, config.truncation,
                               config.lr, config.beta2, g)
        self.counts = ContextCounts(batch, config.orders, config.table_bits, bool(config.words))
        inputs = 1 + len(self.counts.slots)
        self.mixer = Mixer(inputs, inputs * BUCKETS, config.mixer_lr)
        self.last = torch.zeros(batch, dtype=torch.int64)

    def new_streams(self, batch: int) -> None:
        """Start ``batch`` fresh streams (a new block); learned weights and counts are kept."""
        self.lstm.new_streams(batch)
        self.counts.new_streams(batch)
        self.last = torch.zeros(batch, dtype=torch.int64)

    def probabilities(self) -> np.ndarray:
        lstm_logp = self.lstm.step(self.last)
        count_logp, totals = self.counts.predict()
        logp = torch.cat((lstm_logp[:, None, :], count_logp), dim=1)
        confidence = confidence_bucket(totals)
        buckets = torch.cat((_sharpness(lstm_logp), confidence), dim=1)
        mixed = self.mixer.mix(logp, buckets, _select(confidence))
        q = (mixed.exp() * (PRECISION - 256)).floor().to(torch.int64) + 1
        top = q.argmax(1)
        q[torch.arange(len(q)), top] += PRECISION - q.sum(1)   # the largest entry absorbs rounding
        return q.numpy()

    def update(self, y) -> None:
        y = torch.as_tensor(y, dtype=torch.int64)
        self.lstm.learn(y)
        self.mixer.learn(y)
        self.counts.update(y)
        self.last = y


def _sharpness(logp: torch.Tensor) -> torch.Tensor:
    """The LSTM's confidence as a mixer bucket: (B, 256) log-probabilities -> (B, 1), from about
    1.5 * -log2 of its most probable byte."""
    return (logp.max(1, keepdim=True).values * (-1.5 / math.log(2))).floor().clamp(0, BUCKETS - 1).long()


def _select(confidence: torch.Tensor) -> torch.Tensor:
    """Confidence buckets (B, M) of the count models -> (B,) mixer context: the highest order whose
    context has been seen, and its bucket."""
    seen = confidence > 0
    order = seen.shape[1] - 1 - seen.flip(1).int().argmax(1)     # highest seen order (0 if none)
    return order * BUCKETS + confidence.gather(1, order[:, None])[:, 0]
