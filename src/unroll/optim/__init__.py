"""Optimisers and schedules beyond torch.optim (torch.optim-compatible)."""
from .momentum import sutskever_momentum

__all__ = ["sutskever_momentum"]
