"""Optimisers and schedules beyond torch.optim (torch.optim-compatible)."""
from .conjugate_gradient import CGResult, conjugate_gradient
from .gauss_newton import Curvature, GaussNewton
from .hessian_free import HessianFree
from .momentum import sutskever_momentum

__all__ = ["CGResult", "Curvature", "GaussNewton", "HessianFree", "conjugate_gradient", "sutskever_momentum"]
