"""Variable-length batches: padded (T, B, F) tensors with a (B,) lengths tensor."""
import torch


def step_mask(lengths: torch.Tensor, steps: int, dtype: torch.dtype) -> torch.Tensor:
    """(T, B, 1) mask: 1 where step t < lengths[b], else 0."""
    t = torch.arange(steps, device=lengths.device).unsqueeze(1)
    return (t < lengths.unsqueeze(0)).to(dtype).unsqueeze(2)


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    """Reverse each sequence of x (T, B, F) within its own length; padding stays where it is."""
    if lengths is None:
        return x.flip(0)
    T = x.shape[0]
    t = torch.arange(T, device=x.device).unsqueeze(1)
    n = lengths.to(x.device).unsqueeze(0)
    source = torch.where(t < n, n - 1 - t, t)  # (T, B)
    return x.gather(0, source.unsqueeze(2).expand_as(x))
