"""Length-bucketed batches of variable-length ink for CTC training."""
import numpy as np
import torch


def pad(features: list, labels: list) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(T, B, F) zero-padded inputs, (B,) input lengths, (sum L,) concatenated targets, (B,) target lengths."""
    lengths = torch.tensor([len(f) for f in features])
    x = torch.zeros(int(lengths.max()), len(features), features[0].shape[1])
    for b, f in enumerate(features):
        x[:len(f), b] = torch.from_numpy(np.asarray(f))
    targets = torch.tensor([i for t in labels for i in t], dtype=torch.long)
    return x, lengths, targets, torch.tensor([len(t) for t in labels])


def bucketed_batches(lengths, steps_per_batch: int, seed: int, epoch: int) -> list[list[int]]:
    """Index lists whose padded size (longest x count) stays near ``steps_per_batch``: sequences sorted by
    length with a seeded jitter, cut greedily, and the batches shuffled (same seed and epoch, same batches)."""
    rng = np.random.default_rng([seed, epoch])
    lengths = np.asarray(lengths, dtype=np.float64)
    order = np.argsort(lengths * rng.uniform(0.9, 1.1, len(lengths)), kind="stable")
    batches, current, longest = [], [], 0
    for i in order:
        longest_if = max(longest, lengths[i])
        if current and longest_if * (len(current) + 1) > steps_per_batch:
            batches.append(current)
            current, longest_if = [], lengths[i]
        current.append(int(i))
        longest = longest_if
    if current:
        batches.append(current)
    rng.shuffle(batches)
    return batches
