"""Echo state networks: a fixed random reservoir, ridge and RLS readouts, teacher forcing and closed loop."""
from .esn import ESN, nrmse
from .readout import RLS, Ridge, gram
from .reservoir import Reservoir

__all__ = ["ESN", "RLS", "Reservoir", "Ridge", "gram", "nrmse"]
