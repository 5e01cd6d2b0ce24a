"""The learned mixer: geometric mixing of several byte distributions with context-selected weights."""
import torch
from torch.nn import functional as F

BUCKETS = 12


def confidence_bucket(totals: torch.Tensor) -> torch.Tensor:
    """Count totals (B, M) -> bucket 0..BUCKETS-1 (0: unseen context; then about log2 of the total)."""
    return torch.floor(torch.log2(totals + 1.0)).clamp(max=BUCKETS - 1).long()


class Mixer:
    """p(k) proportional to exp(sum_m w_m log p_m(k)) over M inputs, w = u + v: u_m chosen by input m's
    own confidence bucket, the vector v by a context shared by all inputs (``select``).

    ``mix(logp, buckets, select)``: logp (B, M, 256), buckets (B, M) in 0..BUCKETS-1, select (B,) in
    0..contexts-1 -> mixed log-probabilities (B, 256); ``learn(y)``: one gradient step on -log p(y)
    for the true bytes y (B,).
    """

    def __init__(self, inputs: int, contexts: int, lr: float, dtype=torch.float32):
        self.own = torch.full((inputs * BUCKETS,), 0.15, dtype=dtype)
        self.shared = torch.full((contexts, inputs), 0.15, dtype=dtype)
        self.offset = torch.arange(inputs) * BUCKETS
        self.lr = lr

    def weights(self, buckets: torch.Tensor, select: torch.Tensor) -> torch.Tensor:
        """(B, M) mixing weights."""
        return self.own[buckets + self.offset] + self.shared[select]

    def mix(self, logp: torch.Tensor, buckets: torch.Tensor, select: torch.Tensor) -> torch.Tensor:
        self._logp, self._own, self._select = logp, buckets + self.offset, select
        w = self.own[self._own] + self.shared[select]
        self._out = F.log_softmax(torch.bmm(w[:, None, :], logp)[:, 0], dim=1)
        return self._out

    def learn(self, y: torch.Tensor) -> None:
        p = self._out.exp()
        expected = torch.bmm(self._logp, p[:, :, None])[:, :, 0]        # (B, M): E_p[log p_m]
        truth = self._logp.gather(2, y[:, None, None].expand(-1, self._logp.shape[1], 1))[:, :, 0]
        step = self.lr * (truth - expected)                              # minus the gradient, times lr
        self.own.index_add_(0, self._own.reshape(-1), step.reshape(-1))
        self.shared.index_add_(0, self._select, step)
