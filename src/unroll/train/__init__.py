"""Training: fit(), checkpoints, metrics, progress and data-parallel runs."""
from .config import FitConfig
from .fit import FitResult, fit
from .model import SequenceModel, build_model

__all__ = ["FitConfig", "FitResult", "SequenceModel", "build_model", "fit"]
