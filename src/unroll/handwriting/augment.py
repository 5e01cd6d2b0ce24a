"""Writer-like variation for training: each word's pen trajectory drawn wider or narrower, taller or shorter
and more or less slanted, applied directly to its features (so the cached corpus serves every epoch)."""
import torch

WIDTH, HEIGHT, SHEAR = 0.15, 0.1, 0.25     # default ranges: x scale 1 +- 0.15, y scale 1 +- 0.1, shear +- 0.25


def distortions(words: int, generator: torch.Generator | None = None, width: float = WIDTH, height: float = HEIGHT,
                shear: float = SHEAR) -> torch.Tensor:
    """(words, 3): per word sx ~ U[1 - width, 1 + width], sy ~ U[1 - height, 1 + height] and
    k ~ U[-shear, shear], drawn from ``generator`` (None: torch's global one). Ranks that share a batch draw
    for all of its words and keep their own rows, so a run on several processes distorts as one does."""
    half_ranges = torch.tensor([width, height, shear])
    draws = (torch.rand(3, words, generator=generator) * 2 - 1) * half_ranges[:, None]
    return (draws + torch.tensor([1.0, 1.0, 0.0])[:, None]).T


def distort(x: torch.Tensor, moves: torch.Tensor) -> torch.Tensor:
    """x (T, B, 8): the features of ``unroll.data.ink.preprocess.features`` (dx, dy, pen_up, cos, sin, dcos,
    dsin, y) of B words, each starting at t = 0; moves (B, 3): (sx, sy, k) per word (``distortions``).
    Returns the features of every word's points mapped by (x, y) -> (sx x + k y, sy y): the moves and
    heights scaled, the directions and their changes recomputed (the points are no longer evenly spaced,
    as for a writer's speed)."""
    sx, sy, k = moves.to(x.dtype).T
    dx, dy = sx * x[..., 0] + k * x[..., 1], sy * x[..., 1]
    length = torch.hypot(dx, dy)
    moved = length > 0
    safe = torch.where(moved, length, torch.ones_like(length))
    cos, sin = torch.where(moved, dx / safe, 1.0), torch.where(moved, dy / safe, 0.0)
    prev_cos, prev_sin = cos.roll(1, 0), sin.roll(1, 0)
    dcos, dsin = cos * prev_cos + sin * prev_sin, sin * prev_cos - cos * prev_sin
    dcos[0], dsin[0] = 1.0, 0.0
    return torch.stack([dx, dy, x[..., 2], cos, sin, dcos, dsin, sy * x[..., 7]], dim=-1)
