"""The recogniser: input standardisation -> stacked bidirectional LSTM (unroll.layers.LSTM) -> per-step
log-probabilities over the alphabet plus the CTC blank."""
import torch
from torch import nn

from ..layers import LSTM


class InkRecognizer(nn.Module):
    """(T, B, F) features with (B,) lengths -> (T, B, K) log-probabilities (class 0 = blank)."""

    def __init__(self, num_features: int, num_classes: int, hidden_size: int = 96, num_layers: int = 2,
                 peephole: bool = False, dropout: float = 0.0):
        super().__init__()
        self.config = {"num_features": num_features, "num_classes": num_classes, "hidden_size": hidden_size,
                       "num_layers": num_layers, "peephole": peephole, "dropout": dropout}
        self.register_buffer("feature_mean", torch.zeros(num_features))
        self.register_buffer("feature_std", torch.ones(num_features))
        self.lstm = LSTM(num_features, hidden_size, num_layers, bidirectional=True, peephole=peephole,
                         dropout=dropout)
        self.output = nn.Linear(2 * hidden_size, num_classes)

    def set_standardization(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.feature_mean.copy_(mean)
        self.feature_std.copy_(std.clamp_min(1e-3))

    def hidden(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """(T, B, 2H) top-layer outputs."""
        return self.lstm((x - self.feature_mean) / self.feature_std, lengths=lengths)[0]

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        return torch.log_softmax(self.output(self.hidden(x, lengths)), dim=-1)
