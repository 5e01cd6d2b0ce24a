"""An echo state network: a reservoir and a linear readout, trained with teacher forcing and run in closed loop.

Teacher forcing: during training the reservoir is fed the target of the previous step as its output
feedback, and the readout learns to produce the target from the states (and the inputs, with
``input_to_readout``). Closed loop: the readout's output of each step is fed back instead (through W_fb
when the reservoir has feedback, otherwise as the next input), so the network generates on its own.
"""
import torch

from ..checks import int_at_least
from .readout import RLS, Ridge
from .reservoir import Reservoir


class ESN:
    """reservoir + readout (Ridge by default). noise: std of the state noise used while teacher forcing,
    drawn from ``seed``. output: "linear", or "tanh" for Jaeger's squashing output units (the readout
    then learns atanh of the target, which must lie in (-1, 1), and its output passes through tanh: a
    bounded output keeps closed loops with several fed-back outputs from running away)."""

    def __init__(self, reservoir: Reservoir, readout: Ridge | RLS | None = None, *,
                 input_to_readout: bool = False, noise: float = 0.0, seed: int = 0, output: str = "linear"):
        if not isinstance(reservoir, Reservoir):
            raise TypeError(f"reservoir: expected a Reservoir, got {type(reservoir).__name__}")
        if output not in ("linear", "tanh"):
            raise ValueError(f"output: expected 'linear' or 'tanh', got {output!r}")
        self.squash = output == "tanh"
        self.reservoir, self.readout = reservoir, Ridge() if readout is None else readout
        self.input_to_readout, self.noise = bool(input_to_readout), float(noise)
        self.generator = torch.Generator().manual_seed(seed)

    def features(self, states: torch.Tensor, u: torch.Tensor | None) -> torch.Tensor:
        """What the readout sees: states (..., N), with the inputs (..., I) appended under input_to_readout."""
        return torch.cat((states, u), dim=-1) if self.input_to_readout and u is not None else states

    def teacher_forced(self, u: torch.Tensor | None, y: torch.Tensor, state=None, y_before=None,
                       noise: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the reservoir feeding back the target: step t gets y[t-1] (y_before (B, O), zeros if None,
        at step 0). Returns (states (T, B, N), last state (B, N))."""
        feedback = None
        if self.reservoir.feedback_size:
            first = torch.zeros_like(y[:1]) if y_before is None else y_before.unsqueeze(0)
            feedback = torch.cat((first, y[:-1]))
        return self.reservoir(u, state, feedback, noise=noise, generator=self.generator)

    def fit(self, u: torch.Tensor | None, y: torch.Tensor, washout: int = 0, state=None,
            y_before=None) -> torch.Tensor:
        """Teacher-force over u (T, B, I) (None without inputs) and targets y (T, B, O), fit the ridge readout
        on the steps after ``washout``; returns the last state (B, N) (to continue in closed loop)."""
        if not isinstance(self.readout, Ridge):
            raise TypeError("readout: fit needs a Ridge readout; use fit_online for RLS")
        states, last = self.teacher_forced(u, y, state, y_before, self.noise)
        if self.squash and not bool((y.abs() < 1).all()):
            raise ValueError("y: expected targets in (-1, 1) for tanh output units")
        self.readout.fit(self.features(states, u), torch.atanh(y) if self.squash else y, washout)
        return last

    def output(self, features: torch.Tensor) -> torch.Tensor:
        """The readout's output (..., O) for the features (..., F), through tanh for tanh output units."""
        out = self.readout(features)
        return torch.tanh(out) if self.squash else out

    @torch.no_grad()
    def fit_online(self, u: torch.Tensor | None, y: torch.Tensor, washout: int = 0,
                   state=None) -> tuple[torch.Tensor, torch.Tensor]:
        """FORCE learning with the RLS readout: every step the readout's own output (before its update) is
        fed back and the readout learns the target; the first ``washout`` steps are teacher-forced without
        learning. u (T, 1, I) or None, y (T, 1, O). Returns (outputs (T, 1, O), last state (1, N)).
        FORCE wants slow (leaky) units and a chaotic reservoir, e.g. leak 0.3 and spectral radius 1.5."""
        if not isinstance(self.readout, RLS):
            raise TypeError("readout: fit_online needs an RLS readout")
        if self.squash:
            raise ValueError("output: fit_online learns linear outputs, got 'tanh'")
        int_at_least("washout", washout, 0)
        if not isinstance(y, torch.Tensor) or y.dim() != 3 or y.shape[1] != 1:
            got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
            raise ValueError(f"y: expected one sequence (T, 1, O) for online learning, got {got}")
        x = self.reservoir.initial_state(1) if state is None else state
        previous, outputs = torch.zeros_like(y[0]), []
        for t in range(y.shape[0]):
            u_t = None if u is None else u[t]
            x = self._step(u_t, x, previous)
            z = self.features(x, u_t)
            if t < washout:
                out = self.readout(z)
                previous = y[t]
            else:
                out = self.readout.learn_step(z[0], y[t, 0]).unsqueeze(0).to(y.dtype)
                previous = out
            outputs.append(out)
        return torch.stack(outputs), x

    def predict(self, u: torch.Tensor | None, y: torch.Tensor, state=None, y_before=None) -> torch.Tensor:
        """The readout's outputs (T, B, O) under teacher forcing (one-step-ahead predictions)."""
        states, _ = self.teacher_forced(u, y, state, y_before)
        return self.output(self.features(states, u))

    @torch.no_grad()
    def generate(self, steps: int, state: torch.Tensor, y_before: torch.Tensor,
                 u: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Closed loop for ``steps`` steps from state (B, N) and the last output y_before (B, O); u (steps, B, I)
        inputs for a reservoir with both inputs and feedback. Returns (outputs (steps, B, O), states (steps, B, N))."""
        int_at_least("steps", steps, 1)
        outputs, states, x, previous = [], [], state, y_before
        for t in range(steps):
            u_t = None if u is None else u[t]
            x = self._step(u_t, x, previous)
            previous = self.output(self.features(x, u_t))
            outputs.append(previous)
            states.append(x)
        return torch.stack(outputs), torch.stack(states)

    def _step(self, u_t, x, previous):
        """The reservoir's next state with ``previous`` (B, O) fed back, through W_fb or as the input."""
        if self.reservoir.feedback_size:
            return self.reservoir.step(u_t, x, previous)
        if u_t is not None:
            raise ValueError("u: a reservoir without feedback takes its own output as input in closed loop, got u")
        return self.reservoir.step(previous, x)


def nrmse(prediction: torch.Tensor, target: torch.Tensor) -> float:
    """sqrt(mean squared error / variance of the target)."""
    return float(torch.sqrt(torch.mean((prediction - target) ** 2) / torch.var(target, unbiased=False)))
