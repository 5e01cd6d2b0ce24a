"""The long-lag benchmark's methods: each name builds a model for a task and the FitConfig that trains it.

A method is (model builder, fit options). Settings follow the paper each method comes from; where the
paper's setting does not fit a CPU run (minibatches of 1000) or is not in the spec, the choice is named
in ``Method.note``.
"""
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from ...data.task import Task
from ...init import chrono_, identity_, sparse_
from ...layers import MemoryBlocks
from ...train import FitConfig, SequenceModel, build_model

CLIP = 1.0   # gradient-norm threshold of every clipped method (Pascanu et al. 2013)


@dataclass(frozen=True)
class Method:
    """``build(task, seed)`` -> a fresh model with weights drawn from ``seed``; ``fit`` -> FitConfig options
    (steps, eval and seed are set by the runner), overridden per task name by ``fit_by_task``; ``source`` and
    ``note`` for the docs; ``train_lengths`` -> (a, b): train on lengths drawn per batch from [a T, b T),
    evaluate at T (None: at T)."""
    name: str
    build: Callable[[Task, int], torch.nn.Module]
    fit: dict = field(default_factory=dict)
    source: str = ""
    note: str = ""
    train_lengths: tuple[float, float] | None = None
    fit_by_task: dict[str, dict] = field(default_factory=dict)

    def config(self, task: str, *, steps: int, seed: int, eval_every: int, eval_size: int,
               stop_when_solved: bool = True, overrides: dict | None = None) -> FitConfig:
        """The FitConfig that trains this method on the task named ``task``; ``overrides`` (e.g. {"lr": 0.1})
        replace the method's own options."""
        options = {**self.fit, **self.fit_by_task.get(task, {}), **(overrides or {})}
        return FitConfig(steps=steps, seed=seed, eval_every=min(eval_every, steps), eval_size=eval_size,
                         stop_when_solved=stop_when_solved, **options)


def _rnn(task: Task, seed: int, hidden: int, nonlinearity: str = "tanh") -> SequenceModel:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_model("rnn", task.input_size, task.output_size, hidden, nonlinearity=nonlinearity)


@torch.no_grad()
def _gaussian_(w: torch.Tensor, std: float, generator: torch.Generator) -> None:
    w.copy_(std * torch.randn(w.shape, generator=generator, dtype=torch.float64))


def echo_state(hidden: int, input_std: float = 0.001, radius: float = 1.1, incoming: int = 15,
               output_std: float = 0.1, mean_output_bias: bool = True):
    """A tanh RNN initialised as Sutskever et al. 2013 (Table 4): W_hh ``incoming`` N(0, 1) weights per unit
    scaled to spectral radius ``radius``; W_in ``input_std`` N(0, 1); W_out ``output_std`` N(0, 1); hidden
    biases 0; the output bias at the mean target of a regression task (``mean_output_bias``; else 0).
    With input_std = output_std = 0.01, radius 0.95 and output bias 0 it is Pascanu et al.'s "smart tanh"
    initialisation."""
    def build(task: Task, seed: int) -> SequenceModel:
        model = _rnn(task, seed, hidden)
        cell, g = model.layer.cells[0], torch.Generator().manual_seed(seed)
        sparse_(cell.weight_hh, incoming, radius, g)
        _gaussian_(cell.weight_ih, input_std, g)
        _gaussian_(model.readout.weight, output_std, g)
        with torch.no_grad():
            cell.bias.zero_()
            model.readout.bias.copy_(_mean_target(task, g) if mean_output_bias else 0.0)
        return model
    return build


def _mean_target(task: Task, generator: torch.Generator, sequences: int = 4096) -> float:
    """The mean target over ``sequences`` drawn sequences of a regression task; 0 for a classification one."""
    _, target = task.batch(sequences, generator)
    return float(target.mean()) if torch.is_tensor(target) and target.is_floating_point() else 0.0


def irnn(hidden: int, input_std: float = 0.001):
    """Le, Jaitly & Hinton 2015: ReLU units, W_hh = identity, biases 0, W_in ``input_std`` N(0, 1)."""
    def build(task: Task, seed: int) -> SequenceModel:
        model = _rnn(task, seed, hidden, "relu")
        cell = model.layer.cells[0]
        identity_(cell.weight_hh)
        _gaussian_(cell.weight_ih, input_std, torch.Generator().manual_seed(seed))
        with torch.no_grad():
            cell.bias.zero_()
        return model
    return build


def lstm(hidden: int, chrono: bool = False):
    """An LSTM with the library's default init (keep-gate bias 1), or with ``chrono`` gate biases for lags up
    to the task's length T (Tallec & Ollivier 2018)."""
    def build(task: Task, seed: int) -> SequenceModel:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = build_model("lstm", task.input_size, task.output_size, hidden)
        if chrono:
            chrono_(model.layer.cells[0].bias, max(task.length, 3), torch.Generator().manual_seed(seed))
        return model
    return build


@dataclass(frozen=True)
class Net1997:
    """One of Hochreiter & Schmidhuber 1997's nets (Section 5, Table 10): ``blocks`` memory blocks of
    ``cells_per_block`` cells, staggered write- or read-gate biases, every other weight from
    U[-init_range, init_range], output units reading the cells only (with biases or not), and the paper's
    learning rate ``alpha``."""
    experiment: str
    blocks: int
    cells_per_block: int
    write_gate_biases: tuple[float, ...] | None = None
    read_gate_biases: tuple[float, ...] | None = None
    init_range: float = 0.1
    readout_bias: bool = True
    alpha: float = 0.5

    @property
    def lr(self) -> float:
        """The paper updates by alpha e y with e = f'(net) (t - y) (its Appendix A.1, eqs. 19 and 22): the
        gradient of half the squared error. Our losses are the squared error itself, so lr = alpha / 2."""
        return self.alpha / 2


EXP4 = Net1997("Exp. 4", 2, 2, write_gate_biases=(-3.0, -6.0))
NETS_1997 = {      # the paper's own net for each of its experiments; Exp. 4's for every other task
    "embedded-reber-1997": Net1997("Exp. 1", 3, 2, read_gate_biases=(-1.0, -2.0, -3.0), init_range=0.2,
                                   readout_bias=False),
    "two-sequence-1997": Net1997("Exp. 3a", 3, 1, write_gate_biases=(-1.0, -3.0, -5.0),
                                 read_gate_biases=(-2.0, -4.0, -6.0), readout_bias=False, alpha=1.0),
    "multiplication-1997": Net1997("Exp. 5", 2, 2, write_gate_biases=(-3.0, -6.0), alpha=0.1),
    "temporal-order-2bit-1997": Net1997("Exp. 6a", 2, 2, write_gate_biases=(-2.0, -4.0)),
    "temporal-order-3bit-1997": Net1997("Exp. 6b", 3, 2, write_gate_biases=(-2.0, -4.0, -6.0), alpha=0.1),
}


def memory_blocks(nets: dict[str, Net1997], default: Net1997):
    """The 1997 LSTM (``MemoryBlocks``: no keep gate, truncated gradient) as the net ``nets`` names for the
    task (else ``default``); the readout drawn from the same range; logistic output units where the task's
    targets are values in [0, 1] (the paper's), linear elsewhere."""
    def build(task: Task, seed: int) -> SequenceModel:
        net = nets.get(task.name, default)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            layer = MemoryBlocks(task.input_size, net.blocks, net.cells_per_block, init_range=net.init_range,
                                 write_gate_biases=net.write_gate_biases, read_gate_biases=net.read_gate_biases)
            model = SequenceModel(layer, task.output_size, logistic_output=task.unit_interval_targets,
                                  readout_bias=net.readout_bias)
            with torch.no_grad():
                for p in model.readout.parameters():
                    p.uniform_(-net.init_range, net.init_range)
        return model
    return build


def martens_sparse(hidden: int, incoming: int = 15, input_std: float = 0.25):
    """A tanh RNN initialised as Martens & Sutskever 2011's code: W_hh ``incoming`` N(0, 1) / sqrt(incoming)
    weights per unit; W_in ``input_std`` N(0, 1); biases 0; the readout keeps the library default."""
    def build(task: Task, seed: int) -> SequenceModel:
        model = _rnn(task, seed, hidden)
        cell, g = model.layer.cells[0], torch.Generator().manual_seed(seed)
        sparse_(cell.weight_hh, incoming, generator=g)
        _gaussian_(cell.weight_ih, input_std, g)
        with torch.no_grad():
            cell.weight_hh.mul_(incoming ** -0.5)
            cell.bias.zero_()
        return model
    return build


PASCANU = "Pascanu, Mikolov & Bengio 2013"
PASCANU_LENGTHS = (0.25, 1.0)   # T' ~ U[T/4, T): their U[50, 200) at T = 200
HF = {"optimizer": "hessian-free", "lr": 1.0, "batch_size": 1000, "hf_curvature_batch": 100, "hf_cg_iters": 40,
      "hf_damping": 0.01, "hf_structural": 1 / 30, "weight_decay": 2e-5}
SMART_TANH = echo_state(50, input_std=0.01, radius=0.95, output_std=0.01, mean_output_bias=False)
OMEGA = 4.0   # the regulariser's weight in Pascanu et al. 2013
PASCANU_SGD = {"optimizer": "sgd", "lr": 0.01, "batch_size": 20}
PASCANU_CLIP = {**PASCANU_SGD, "clip_norm": CLIP}
PASCANU_OMEGA = {**PASCANU_CLIP, "omega": OMEGA}
METHODS: dict[str, Method] = {m.name: m for m in (
    Method("tanh-sgd", SMART_TANH, PASCANU_SGD, PASCANU,
           "50 units, SGD lr 0.01, batch 20, 'smart tanh' init (W_in, W_out 0.01 N(0, 1); W_hh 15 weights per "
           "unit, spectral radius 0.95); trained on lengths T' ~ U[T/4, T) drawn per batch (their U[50, 200) "
           "at T = 200), evaluated at T", PASCANU_LENGTHS),
    Method("tanh-sgd-clip", SMART_TANH, PASCANU_CLIP, PASCANU,
           f"as tanh-sgd, gradient norm clipped at {CLIP:g}", PASCANU_LENGTHS),
    Method("tanh-sgd-clip-omega", SMART_TANH, PASCANU_OMEGA, PASCANU,
           f"as tanh-sgd-clip, plus the vanishing-gradient regulariser Omega with weight {OMEGA:g}, summed over "
           f"steps as the paper's formula", PASCANU_LENGTHS),
    Method("tanh-sgd-clip-omega-mean", SMART_TANH, {**PASCANU_OMEGA, "omega_reduction": "mean"}, PASCANU,
           f"as tanh-sgd-clip-omega with Omega averaged over steps as the authors' code (weight {OMEGA:g})",
           PASCANU_LENGTHS),
    Method("tanh-nesterov-esn", echo_state(100),
           {"optimizer": "nesterov", "lr": 1e-4, "momentum": 0.995, "momentum_warmup": 1000, "momentum_schedule": True,
            "momentum_cooldown": 1000, "batch_size": 100},
           "Sutskever, Martens, Dahl & Hinton 2013",
           "100 units, batch 100, Nesterov at momentum 0.9 for 1000 updates, then rising as the paper's schedule "
           "min(1 - 2^(-1 - log2(floor(t/250) + 1)), 0.995) (0.99 at 12,500, Table 5's best cap 0.995 from 25,000), "
           "the budget's last 1000 updates at 0.9 again (the paper's practice for its deep autoencoders), "
           "lr 1e-4 on the batch-mean loss (the best of 1e-3, 3e-4, 1e-4, 1e-5 from their grid on adding-2011 at "
           "T = 80: benchmarks/longlag_lr.py), output bias at the mean target"),
    Method("irnn", irnn(100), {"optimizer": "sgd", "lr": 0.01, "batch_size": 16, "clip_norm": CLIP},
           "Le, Jaitly & Hinton 2015", "100 ReLU units, SGD lr 0.01, batch 16, clipping at 1 (lr not in the spec)"),
    Method("lstm-adam", lstm(64), {"optimizer": "adam", "lr": 1e-3, "batch_size": 32}, "",
           "64 units, Adam lr 1e-3, batch 32 (our choice; not a published setting)"),
    Method("lstm-adam-chrono", lstm(64, chrono=True), {"optimizer": "adam", "lr": 1e-3, "batch_size": 32},
           "Tallec & Ollivier 2018 (init)", "as lstm-adam, with chrono gate biases: keep-gate bias log(u), "
           "u ~ U[1, T - 1], write-gate bias minus that"),
    Method("lstm-sgd", lstm(8), {"optimizer": "sgd", "lr": 0.5, "batch_size": 1},
           "Hochreiter & Schmidhuber 1997",
           "online SGD (batch 1), lr 0.5 as 1997 Exp. 4; 8 cells of today's LSTM, with keep gates (1997 had none) "
           "and no negative input-gate biases (the 1997 cell itself: lstm-1997)"),
    Method("lstm-1997", memory_blocks(NETS_1997, EXP4), {"optimizer": "sgd", "lr": EXP4.lr, "batch_size": 1},
           "Hochreiter & Schmidhuber 1997",
           "the 1997 LSTM (unroll.MemoryBlocks): memory blocks whose cells share a write and a read gate, no keep "
           "gate, the truncated gradient, logistic output units reading the cells, online SGD (batch 1) at half "
           "the paper's rate alpha (its updates follow half the squared error, our losses the whole); for each "
           "of the paper's tasks its own net (Section 5): Exp. 1 (Reber: 3 blocks of 2, weights U[-0.2, 0.2], "
           "read-gate biases -1, -2, -3, alpha 0.5, its fastest setting), Exp. 3a (two-sequence: 3 blocks of 1, "
           "write-gate biases -1, -3, -5, read-gate -2, -4, -6, alpha 1.0), Exp. 4 (adding: 2 blocks of 2, "
           "weights U[-0.1, 0.1], write-gate biases -3, -6, alpha 0.5; 93 weights), Exp. 5 (multiplication: "
           "Exp. 4's net, alpha 0.1), Exp. 6 (temporal order: 2 blocks of 2, write-gate biases -2, -4, alpha 0.5; "
           "3 bits: 3 blocks, -2, -4, -6, alpha 0.1); Exp. 4's net for the other tasks",
           fit_by_task={name: {"lr": net.lr} for name, net in NETS_1997.items()}),
    Method("tanh-hf", martens_sparse(100), HF, "Martens & Sutskever 2011",
           "100 tanh units, sparse init (15 weights per unit / sqrt 15, W_in 0.25 N(0, 1)), L2 2e-5, structural "
           "damping mu = 1/30, lambda0 0.01; CPU-sized: gradient batch 1000 (not up to 10 x 1000), curvature "
           "batch 100 (not 1000), at most 40 CG steps (not 300), no CG preconditioner, squared distance on the hidden "
           "states for the structural penalty"),
)}

def get_method(name: str) -> Method:
    """The method ``name``; a ValueError listing the methods for an unknown one."""
    if name in METHODS:
        return METHODS[name]
    raise ValueError(f"method: expected one of {', '.join(METHODS)}, got {name!r}")
