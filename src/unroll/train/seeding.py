"""Seeds derived from a run's seed: the batches that every rank shares, and the draws each rank makes alone."""
import hashlib
from contextlib import contextmanager

import torch


def derived_seed(*parts) -> int:
    """A 63-bit seed from ``parts`` (a run's seed, a step, a purpose, ...), the same in every process."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def batch_generator(seed: int, step) -> torch.Generator:
    """The generator of batch ``step`` (or of the evaluation set, step="eval") of a run seeded ``seed``."""
    return torch.Generator().manual_seed(derived_seed(seed, step))


@contextmanager
def rank_draws(seed: int, step: int, rank: int, device: torch.device):
    """Within: torch's global generator seeded from (seed, step, rank), for the draws inside the model (dropout).
    Each rank of a data-parallel run then draws its own masks (one seed would give every rank the same masks
    on different sequences) and a resumed run draws the same ones again. Torch's generators are restored
    after the block, so the draws that every rank must share (data augmentation) stay in step."""
    devices = []
    if device.type == "cuda":
        devices = [device.index if device.index is not None else torch.cuda.current_device()]
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(derived_seed(seed, step, "model", rank))
        yield
