"""The reservoir of an echo state network: a fixed random recurrent net of leaky-integrator tanh units.

    x[t] = (1 - a) * x[t-1] + a * tanh(W x[t-1] + W_in u[t] + W_fb y[t-1] + b + noise[t])

a: the leak rate (scalar or one per unit, in (0, 1]); u: the input; y[t-1]: the output fed back (the
target under teacher forcing, the readout's own output in closed loop); noise: optional Gaussian state
noise inside the nonlinearity (Jaeger 2001). W is dense or sparse (CSR), scaled to a spectral radius;
W_in, W_fb and b are uniform in [-scaling, scaling], W_in with a given fraction of nonzeros. Nothing here
is trained: the weights are buffers and the runs need no autograd.

Everything but the recurrence is one matrix product over all steps (``drive``); the time loop then runs on
CPU in C++ (unroll.time.native: the reservoir's own loop for a sparse W, the fused RNN's for a dense W
without leak), in numpy when the extension is off or for a dense leaky W (the reference the C++ loops are
tested against), and in torch on GPUs, where long runs replay one chunk of steps captured as a CUDA graph
(the per-step kernels are too small to outrun their launches).
"""
import warnings

import numpy as np
import scipy.sparse
import torch

from ..cells import activations
from ..checks import finite, int_at_least, positive_int, positive_number
from ..init import sparse_, spectral_radius_
from ..time import native
from .arguments import fraction, non_negative

SPARSE_FROM = 500        # sparse=None: store W as CSR from this many units when at most 5% of it is nonzero
SPARSE_DENSITY = 0.05
GRAPH_CHUNK = 128        # steps captured in one CUDA graph, replayed over a long run on a GPU


class Reservoir(torch.nn.Module):
    """Reservoir of ``units`` leaky tanh units driven by ``input_size`` inputs and ``feedback_size`` fed-back
    outputs. Weights are drawn from ``seed`` unless given (``weight`` (N, N), ``weight_in`` (N, I),
    ``bias`` (N,), ``weight_fb`` (N, O): used as given, not rescaled).

    connectivity: the fraction of nonzero recurrent weights (each unit gets round(connectivity * N) >= 1
    incoming N(0, 1) weights, then W is scaled to ``spectral_radius``); input_connectivity: the fraction of
    nonzero input weights; sparse: store W as CSR (None: when N >= 500 and connectivity <= 0.05).
    """

    def __init__(self, input_size: int, units: int, *, spectral_radius: float = 0.9, leak=1.0,
                 input_scaling=1.0, input_connectivity: float = 1.0, connectivity: float = 0.1,
                 bias_scaling: float = 0.0, feedback_size: int = 0, feedback_scaling: float = 1.0,
                 sparse: bool | None = None, seed: int = 0, dtype: torch.dtype = torch.float32,
                 weight=None, weight_in=None, bias=None, weight_fb=None):
        super().__init__()
        int_at_least("input_size", input_size, 0)
        positive_int("units", units)
        int_at_least("feedback_size", feedback_size, 0)
        positive_number("spectral_radius", spectral_radius)
        fraction("connectivity", connectivity)
        fraction("input_connectivity", input_connectivity)
        for name, value in (("bias_scaling", bias_scaling), ("feedback_scaling", feedback_scaling)):
            non_negative(name, value)
        self.input_size, self.units, self.feedback_size = input_size, units, feedback_size
        generator = torch.Generator().manual_seed(seed)
        leak = _leak(leak, units)
        scaling = _input_scaling(input_scaling, input_size)
        # draw every matrix (so each keeps its values whichever others are given), then take the given ones
        drawn_w = sparse_(torch.empty(units, units, dtype=torch.float64),
                          max(1, round(connectivity * units)), generator=generator)
        drawn_in = _uniform((units, input_size), generator) * scaling
        drawn_in *= torch.rand(units, input_size, generator=generator, dtype=torch.float64) < input_connectivity
        drawn_bias = _uniform((units,), generator) * bias_scaling
        drawn_fb = _uniform((units, feedback_size), generator) * feedback_scaling
        if weight is None:
            spectral_radius_(drawn_w, spectral_radius)
        w = _given("weight", weight, (units, units), drawn_w)
        if sparse is None:
            sparse = units >= SPARSE_FROM and float((w != 0).float().mean()) <= SPARSE_DENSITY
        self.sparse = bool(sparse)
        self.register_buffer("weight", _csr(w.to(dtype)) if self.sparse else w.to(dtype))
        self.register_buffer("weight_in", _given("weight_in", weight_in, (units, input_size), drawn_in).to(dtype))
        self.register_buffer("bias", _given("bias", bias, (units,), drawn_bias).to(dtype))
        self.register_buffer("weight_fb", _given("weight_fb", weight_fb, (units, feedback_size), drawn_fb).to(dtype))
        self.register_buffer("leak", leak.to(dtype))
        self._cpu_w = None

    def initial_state(self, batch: int) -> torch.Tensor:
        """Zeros (batch, N)."""
        return torch.zeros(batch, self.units, dtype=self.bias.dtype, device=self.bias.device)

    @torch.no_grad()
    def forward(self, u: torch.Tensor | None = None, state: torch.Tensor | None = None,
                feedback: torch.Tensor | None = None, *, noise: float = 0.0,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Run over a sequence: u (T, B, I) inputs (None when I = 0), feedback (T, B, O) the outputs fed back
        (feedback[t] enters step t: under teacher forcing the target of step t-1), state (B, N) the state
        before step 0 (zeros if None). noise: std of Gaussian state noise drawn from ``generator``.
        Returns (states (T, B, N), last state (B, N))."""
        drive = self.drive(u, feedback, noise=noise, generator=generator)
        x = self.initial_state(drive.shape[1]) if state is None else self._state(state, drive.shape[1])
        if drive.device.type == "cuda":
            return drive, self._run_graphed(drive, x)
        if drive.device.type != "cpu":
            return drive, self._run_torch(drive, x, self._loop_leak())
        if self.sparse and native.available():     # the reservoir's C++ loop, in place on drive
            w = self.weight
            native.reservoir_forward_(drive, x, w.crow_indices(), w.col_indices(), w.values(),
                                      self.leak.expand(self.units))
            return drive, drive[-1]
        if self._dense_without_leak() and native.available():   # the fused RNN's: h = tanh(drive + h W^T)
            states = native.rnn_forward(drive, x, self.weight, self._tanh_codes(), None)
            return states, states[-1]
        return drive, torch.from_numpy(self._run_numpy(drive.numpy(), x.numpy()))

    def _dense_without_leak(self) -> bool:
        return not self.sparse and self.leak.dim() == 0 and float(self.leak) == 1.0

    def _tanh_codes(self) -> torch.Tensor:
        return torch.full((self.units,), activations.code("tanh"), dtype=torch.int64)

    def _loop_leak(self):
        """The leak as the torch loop applies it: None (no leak), a number, or one per unit (N,). Read before
        a CUDA graph capture, which must not copy from the GPU."""
        if self.leak.dim() > 0:
            return self.leak
        leak = float(self.leak)
        return None if leak == 1.0 else leak

    def _run_torch(self, drive: torch.Tensor, x: torch.Tensor, leak) -> torch.Tensor:
        """The time loop in torch (GPUs), in place on drive (T, B, N) from x (B, N), with ``leak`` from
        ``_loop_leak``. Returns the last state."""
        for d in drive.unbind(0):                  # d becomes the state of its step, in place
            if self.sparse:
                d += torch.sparse.mm(self.weight, x.T).T
            else:
                torch.addmm(d, x, self.weight.T, out=d)
            d.tanh_()
            if leak is not None:
                torch.lerp(x, d, leak, out=d)
            x = d
        return x

    def _run_graphed(self, drive: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``_run_torch`` on a CUDA device with its launches recorded once: the first GRAPH_CHUNK steps run
        eagerly on a side stream (warming cuBLAS / cuSPARSE up, as capture needs), a CUDA graph records the loop
        over one chunk of static buffers, and each further whole chunk is copied in, replayed and copied out;
        the steps after the last whole chunk run eagerly. Runs under three chunks long are not captured."""
        leak, whole = self._loop_leak(), drive.shape[0] // GRAPH_CHUNK * GRAPH_CHUNK
        if whole < 3 * GRAPH_CHUNK:
            return self._run_torch(drive, x, leak)
        side = torch.cuda.Stream(drive.device)
        side.wait_stream(torch.cuda.current_stream(drive.device))
        with torch.cuda.stream(side):
            x = self._run_torch(drive[:GRAPH_CHUNK], x, leak)
        torch.cuda.current_stream(drive.device).wait_stream(side)
        chunk, state = torch.empty_like(drive[:GRAPH_CHUNK]), x.clone()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            state.copy_(self._run_torch(chunk, state, leak))
        for start in range(GRAPH_CHUNK, whole, GRAPH_CHUNK):
            steps = drive[start:start + GRAPH_CHUNK]
            chunk.copy_(steps)
            graph.replay()
            steps.copy_(chunk)
        return self._run_torch(drive[whole:], state, leak)

    def _run_numpy(self, drive: np.ndarray, x: np.ndarray) -> np.ndarray:
        """The time loop on CPU, in place on drive (T, B, N) from x (B, N): numpy's per-call overhead is a
        fraction of torch's, which is what a step of a small reservoir costs. Returns the last state."""
        w = self._cpu_matrix()
        leak = self.leak.numpy()
        leaky = bool((leak != 1).any())
        for d in drive:
            d += (w @ x.T).T
            np.tanh(d, out=d)
            if leaky:                               # d = x + leak * (d - x)
                d -= x
                d *= leak
                d += x
            x = d
        return x

    def _cpu_matrix(self):
        """W as a numpy array or a scipy CSR matrix sharing the buffer's memory."""
        w = self.weight
        if self._cpu_w is None or self._cpu_w[0] is not w:
            matrix = (scipy.sparse.csr_matrix((w.values().numpy(), w.col_indices().numpy(), w.crow_indices().numpy()),
                                              shape=tuple(w.shape)) if self.sparse else w.numpy())
            self._cpu_w = (w, matrix)
        return self._cpu_w[1]

    @torch.no_grad()
    def drive(self, u=None, feedback=None, *, noise: float = 0.0, generator=None) -> torch.Tensor:
        """W_in u[t] + W_fb feedback[t] + b (+ noise), (T, B, N): everything but the recurrence."""
        steps, batch = self._sizes(u, feedback)
        if self.input_size:                        # one pass over the (T, B, N) result
            drive = torch.addmm(self.bias, u.reshape(-1, self.input_size), self.weight_in.T) \
                .view(steps, batch, self.units)
        else:
            drive = self.bias.expand(steps, batch, self.units).clone()
        if self.feedback_size:
            drive.view(-1, self.units).addmm_(feedback.reshape(-1, self.feedback_size), self.weight_fb.T)
        if noise:
            non_negative("noise", noise)
            drive += noise * torch.randn(drive.shape, generator=generator, dtype=drive.dtype).to(drive.device)
        return drive

    @torch.no_grad()
    def step(self, u_t: torch.Tensor | None, x: torch.Tensor, feedback_t: torch.Tensor | None = None) -> torch.Tensor:
        """One step: u_t (B, I), x (B, N) the previous state, feedback_t (B, O); returns the new state (B, N)."""
        states, _ = self.forward(None if u_t is None else u_t.unsqueeze(0), x,
                                 None if feedback_t is None else feedback_t.unsqueeze(0))
        return states[0]

    def _sizes(self, u, feedback) -> tuple[int, int]:
        like = self.bias
        for name, value, size in (("u", u, self.input_size), ("feedback", feedback, self.feedback_size)):
            if size == 0:
                if value is not None and (value.dim() != 3 or value.shape[2] != 0):
                    raise ValueError(f"{name}: this reservoir takes no {name} ({name}_size 0), "
                                     f"got shape {tuple(value.shape)}")
                continue
            if value is None:
                raise ValueError(f"{name}: expected a tensor (T, B, {size}), got None")
            _tensor(name, value, size, like)
        shapes = {tuple(v.shape[:2]) for v in (u, feedback) if v is not None}
        if not shapes:
            raise ValueError("u: expected inputs (T, B, I) or feedback (T, B, O) to set the number of steps, "
                             "got neither")
        if len(shapes) > 1:
            raise ValueError(f"feedback: expected the same (T, B) as u, got {tuple(feedback.shape[:2])} "
                             f"and {tuple(u.shape[:2])}")
        steps, batch = shapes.pop()
        if steps == 0 or batch == 0:
            raise ValueError(f"u: expected at least one step and one sequence, got (T, B) = ({steps}, {batch})")
        return steps, batch

    def _state(self, state, batch: int) -> torch.Tensor:
        if not isinstance(state, torch.Tensor) or tuple(state.shape) != (batch, self.units):
            got = tuple(state.shape) if isinstance(state, torch.Tensor) else type(state).__name__
            raise ValueError(f"state: expected shape ({batch}, {self.units}), got {got}")
        if state.dtype != self.bias.dtype or state.device != self.bias.device:
            raise TypeError(f"state: expected dtype {self.bias.dtype} on {self.bias.device}, "
                            f"got {state.dtype} on {state.device}")
        finite(state, "state")
        return state

    def extra_repr(self) -> str:
        return (f"input_size={self.input_size}, units={self.units}, feedback_size={self.feedback_size}, "
                f"sparse={self.sparse}")


def _csr(w: torch.Tensor) -> torch.Tensor:
    with warnings.catch_warnings():       # "sparse CSR support is in beta": the product and .to() are all we use
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return w.to_sparse_csr()


def _tensor(name: str, value, size: int, like: torch.Tensor) -> None:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor (T, B, {size}), got {type(value).__name__}")
    if value.dim() != 3 or value.shape[2] != size:
        raise ValueError(f"{name}: expected shape (T, B, {size}), got {tuple(value.shape)}")
    if value.dtype != like.dtype or value.device != like.device:
        raise TypeError(f"{name}: expected dtype {like.dtype} on {like.device} like the reservoir, "
                        f"got {value.dtype} on {value.device}")
    finite(value, name)


def _given(name: str, value, shape: tuple, drawn: torch.Tensor) -> torch.Tensor:
    if value is None:
        return drawn
    if isinstance(value, np.ndarray) or scipy.sparse.issparse(value):
        value = torch.as_tensor(value.toarray() if scipy.sparse.issparse(value) else value)
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name}: expected a tensor of shape {shape}, got {type(value).__name__}")
    value = value.to_dense() if value.layout != torch.strided else value
    if tuple(value.shape) != shape:
        raise ValueError(f"{name}: expected shape {shape}, got {tuple(value.shape)}")
    finite(value, name)
    return value.detach().cpu().to(torch.float64)


def _uniform(shape: tuple, generator) -> torch.Tensor:
    return torch.rand(shape, generator=generator, dtype=torch.float64) * 2 - 1


def _leak(leak, units: int) -> torch.Tensor:
    value = torch.as_tensor(leak, dtype=torch.float64)
    if value.dim() > 1 or (value.dim() == 1 and value.shape[0] != units):
        raise ValueError(f"leak: expected a number or one per unit ({units},), got shape {tuple(value.shape)}")
    if not bool(((value > 0) & (value <= 1)).all()):
        raise ValueError(f"leak: expected values in (0, 1], got {leak!r}")
    return value


def _input_scaling(scaling, features: int) -> torch.Tensor:
    value = torch.as_tensor(scaling, dtype=torch.float64)
    if value.dim() > 1 or (value.dim() == 1 and value.shape[0] != features):
        raise ValueError(f"input_scaling: expected a number or one per input ({features},), "
                         f"got shape {tuple(value.shape)}")
    if not bool((value >= 0).all()):
        raise ValueError(f"input_scaling: expected values >= 0, got {scaling!r}")
    return value
