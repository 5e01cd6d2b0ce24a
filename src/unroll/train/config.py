"""FitConfig: everything that decides a training run, JSON-serialisable so checkpoints carry it."""
from dataclasses import asdict, dataclass, fields

from ..checks import int_at_least, positive_int

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "rmsprop", "hessian-free")
LR_SCHEDULES = ("constant", "cosine", "step")


@dataclass
class FitConfig:
    """How ``fit`` trains.

    steps: number of training batches; batch_size: sequences per batch (the global batch, split
    across ranks when distributed). optimizer: one of OPTIMIZERS ("momentum" and "nesterov" are SGD
    with classical / Nesterov momentum; with ``momentum_schedule`` the momentum follows Sutskever et
    al. 2013, mu_t = min(1 - 2^(-1 - log2(floor(t/250) + 1)), momentum); with ``momentum_warmup`` = N > 0 it is
    0.9 for the first N updates, as that paper's RNNs with N = 1000, then ``momentum`` or, with both, the
    schedule; with ``momentum_cooldown`` = N > 0 the last N of the ``steps`` updates are at 0.9, as that
    paper's deep autoencoders with N = 1000). lr_schedule: "constant",
    "cosine" (to 0 at the last step) or "step" (x ``lr_decay`` every ``lr_decay_every`` steps).
    clip_norm / clip_value: gradient clipping by total norm (Pascanu et al. 2013) or per element.
    omega: weight of Pascanu et al.'s vanishing-gradient regulariser (0: off; one-layer RNNs, full BPTT);
    omega_reduction: "sum" over steps (the paper's formula) or "mean" (the authors' code).
    "hessian-free" (Martens 2010; full BPTT, no clipping; ``lr`` scales its final step, 1 in HF): Gauss-Newton
    curvature on a separate minibatch of ``hf_curvature_batch`` sequences, at most ``hf_cg_iters`` CG
    steps per update, initial damping ``hf_damping``, structural damping mu = ``hf_structural``.
    tbptt: None for full BPTT, or [k1, k2] for truncated BPTT (k2 >= k1). eval_every: steps
    between evaluations (metrics line, early-stop check); eval_size: held-out sequences per
    evaluation. checkpoint_every: steps between checkpoints (0: only at the end); keep_last: how many.
    stop_when_solved: end early once the task's success criterion holds on an evaluation.
    """
    steps: int = 1000
    batch_size: int = 32
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    momentum_schedule: bool = False
    momentum_warmup: int = 0
    momentum_cooldown: int = 0
    weight_decay: float = 0.0
    lr_schedule: str = "constant"
    lr_decay: float = 0.5
    lr_decay_every: int = 1000
    clip_norm: float | None = None
    clip_value: float | None = None
    omega: float = 0.0
    omega_reduction: str = "sum"
    hf_curvature_batch: int = 100
    hf_cg_iters: int = 250
    hf_damping: float = 1.0
    hf_structural: float = 0.0
    tbptt: list[int] | None = None
    eval_every: int = 100
    eval_size: int = 256
    checkpoint_every: int = 0
    keep_last: int = 3
    stop_when_solved: bool = True
    seed: int = 0

    def __post_init__(self):
        for name in ("steps", "batch_size", "eval_every", "eval_size", "keep_last", "lr_decay_every",
                     "hf_curvature_batch", "hf_cg_iters"):
            positive_int(name, getattr(self, name))
        int_at_least("checkpoint_every", self.checkpoint_every, 0)
        int_at_least("momentum_warmup", self.momentum_warmup, 0)
        int_at_least("momentum_cooldown", self.momentum_cooldown, 0)
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer: expected one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        scheduled = [n for n in ("momentum_schedule", "momentum_warmup", "momentum_cooldown") if getattr(self, n)]
        if scheduled and self.optimizer not in ("momentum", "nesterov"):
            raise ValueError(f"{', '.join(scheduled)}: a momentum schedule needs optimizer momentum or nesterov, "
                             f"got {self.optimizer!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule: expected one of {', '.join(LR_SCHEDULES)}, got {self.lr_schedule!r}")
        if not self.lr > 0:
            raise ValueError(f"lr: expected a positive number, got {self.lr!r}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum: expected a number in [0, 1), got {self.momentum!r}")
        if self.optimizer == "nesterov" and self.momentum == 0 and not self.momentum_warmup:
            raise ValueError("momentum: Nesterov momentum needs momentum > 0 (or a warm-up at 0.9 before 0); "
                             "optimizer sgd has none")
        for name in ("clip_norm", "clip_value"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name}: expected a positive number or None, got {value!r}")
        if not self.omega >= 0:
            raise ValueError(f"omega: expected a number >= 0, got {self.omega!r}")
        if self.omega_reduction not in ("sum", "mean"):
            raise ValueError(f"omega_reduction: expected 'sum' or 'mean', got {self.omega_reduction!r}")
        if self.omega and self.tbptt is not None:
            raise ValueError("omega: the regulariser needs full BPTT; drop tbptt or set omega to 0")
        if not self.hf_damping > 0 or not self.hf_structural >= 0:
            raise ValueError(f"hf_damping, hf_structural: expected a positive number and a number >= 0, "
                             f"got {self.hf_damping!r} and {self.hf_structural!r}")
        if self.optimizer == "hessian-free":
            extras = [n for n in ("tbptt", "clip_norm", "clip_value") if getattr(self, n) is not None]
            if extras or self.omega:
                raise ValueError(f"optimizer: hessian-free trains on full sequences without clipping or omega, "
                                 f"got {', '.join(extras + ['omega'] * bool(self.omega))}")
        if self.tbptt is not None:
            if len(self.tbptt) != 2 or not all(isinstance(k, int) and k > 0 for k in self.tbptt) \
                    or self.tbptt[1] < self.tbptt[0]:
                raise ValueError(f"tbptt: expected [k1, k2] with 0 < k1 <= k2, got {self.tbptt!r}")
            self.tbptt = list(self.tbptt)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "FitConfig":
        """Build from a mapping (a config file's table); unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"config: unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**values)
