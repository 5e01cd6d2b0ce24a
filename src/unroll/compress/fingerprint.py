"""A fingerprint of the numeric environment: the decoder must reproduce the encoder's floats bit for bit."""
import functools
import hashlib
from importlib.metadata import version

import numpy as np
import torch

from .config import ModelConfig

BACKEND = "torch-cpu-float32"
_PROBE_STEPS = 24


@functools.lru_cache(maxsize=8)
def fingerprint(config: ModelConfig) -> str:
    """16 hex digits: a hash of the backend, the torch and constriction versions and the quantised
    probabilities of a short probe run of ``config`` at full batch (same kernels as real coding)."""
    from .predictor import Predictor

    h = hashlib.sha256(f"{BACKEND}|torch {torch.__version__}|constriction {version('constriction')}".encode())
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = Predictor(config, config.streams)
        rng = np.random.default_rng(12345)
        for _ in range(_PROBE_STEPS):
            h.update(model.probabilities().tobytes())
            model.update(rng.integers(0, 256, config.streams))
    finally:
        torch.set_num_threads(threads)
    return h.hexdigest()[:16]


def environment() -> str:
    """The environment in words, for error messages."""
    return f"{BACKEND}, torch {torch.__version__}, constriction {version('constriction')}"
