"""Optimisers and schedules beyond torch.optim (torch.optim-compatible)."""
from .conjugate_gradient import CGResult, conjugate_gradient
from .gauss_newton import Curvature, GaussNewton
from .hessian_free import HessianFree
from .momentum import rnn_momentum, scheduled_momentum, sutskever_momentum

__all__ = ["CGResult", "Curvature", "GaussNewton", "HessianFree", "conjugate_gradient", "rnn_momentum",
           "scheduled_momentum", "sutskever_momentum"]
