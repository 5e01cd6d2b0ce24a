"""fit(): the one training loop every experiment and application shares.

Batches come from the task with a generator seeded by (seed, step), so a run is reproducible and a
resumed run sees exactly the batches it would have seen. Checkpoints hold the model, optimiser,
schedule, RNG and metrics; resuming continues bit for bit (CPU, one thread). Under torchrun each
rank trains on its block of every global batch with DistributedDataParallel; only rank 0 writes.
"""
import math
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel

from ..data.task import Task, shard
from ..cells import FullyRecurrentCell
from ..gradients import NonFiniteGradientError, clip_grad_norm, clip_grad_value, vanishing_gradient_regulariser
from ..optim import scheduled_momentum
from ..time import truncated_bptt
from . import distributed, state
from .checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from .config import FitConfig
from .hessian_free_step import hessian_free_update, make_hessian_free
from .metrics import MetricsLog
from .progress import RunProgress
from .seeding import batch_generator, rank_draws


@dataclass
class FitResult:
    """How a run ended: steps done, the step whose evaluation met the task's criterion (or None),
    every evaluation record, seconds of training in this call, and the last checkpoint written."""
    steps: int
    solved_at: int | None
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    checkpoint: Path | None = None


def make_optimizer(parameters, config: FitConfig) -> torch.optim.Optimizer:
    """The optimiser ``config.optimizer`` names, with its learning rate and weight decay."""
    kw = {"lr": config.lr, "weight_decay": config.weight_decay}
    if config.optimizer == "hessian-free":
        raise ValueError("optimizer: hessian-free needs the model; build it with make_hessian_free")
    if config.optimizer == "adam":
        return torch.optim.Adam(parameters, **kw)
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(parameters, **kw)
    momentum = 0.0 if config.optimizer == "sgd" else config.momentum
    first = scheduled_momentum(0, config.momentum, config.momentum_schedule, config.momentum_warmup,
                               config.momentum_cooldown, config.steps)
    if first:   # a schedule sets each update's momentum; start at update 0's (torch's Nesterov refuses 0)
        momentum = first
    return torch.optim.SGD(parameters, momentum=momentum, nesterov=config.optimizer == "nesterov", **kw)


def make_lr_schedule(optimizer, config: FitConfig):
    """The learning-rate schedule ``config.lr_schedule`` names, stepped once per training batch."""
    if config.lr_schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.steps)
    if config.lr_schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, config.lr_decay_every, config.lr_decay)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)


RUN_FIELDS = ("step", "train_loss", "eval_loss", "grad_norm", "seq_per_s", "wall_s", "lr")


def task_metrics(record: dict) -> dict:
    """The task's own metrics in an evaluation record, without the fields ``fit`` adds (RUN_FIELDS)."""
    return {k: v for k, v in record.items() if k not in RUN_FIELDS}


def fit(model: torch.nn.Module, task: Task, config: FitConfig, *, out_dir=None, resume: bool = False,
        quiet: bool = False, device="cpu", eval_task: Task | None = None) -> FitResult:
    """Train ``model`` (forward(x, state=None) -> (y (T, B, O), state)) on ``task``.

    out_dir: where checkpoints (``ckpt-*.safetensors`` + ``.json``) and ``metrics.jsonl`` go; None
    keeps nothing. resume: continue from the newest checkpoint in out_dir (a fresh start if none).
    eval_task: the task whose held-out sequences evaluations (and the early stop) use; default ``task``.
    Raises NonFiniteGradientError, naming the update, if a gradient turns NaN or inf (the update is not applied).
    """
    with distributed.joined(device) as cluster:
        return _fit(model, task, config, out_dir, resume, quiet, eval_task, cluster)


def _fit(model, task, config, out_dir, resume, quiet, eval_task, cluster) -> FitResult:
    """fit's training loop, on the ranks of ``cluster``."""
    if config.batch_size % cluster.world:
        raise ValueError(f"batch_size: expected a multiple of the {cluster.world} ranks, got {config.batch_size}")
    out = None if out_dir is None else Path(out_dir)
    if out is not None and cluster.is_main:
        out.mkdir(parents=True, exist_ok=True)
    if config.omega:
        _check_omega(model, cluster.world)
    hessian_free = config.optimizer == "hessian-free"
    if hessian_free and cluster.world > 1:
        raise ValueError(f"optimizer: hessian-free runs on one process, got {cluster.world} ranks")
    model.to(cluster.device)
    optimizer = make_hessian_free(model, config) if hessian_free else make_optimizer(model.parameters(), config)
    scheduler = make_lr_schedule(optimizer, config)
    run = _start(model, optimizer, scheduler, config, out, resume, cluster)
    trainer = DistributedDataParallel(model) if cluster.world > 1 else model
    eval_task = eval_task or task
    eval_x, eval_y = eval_task.batch(config.eval_size, batch_generator(config.seed, "eval"))
    eval_x, eval_y = eval_x.to(cluster.device), _to(eval_y, cluster.device)
    main = cluster.is_main
    logs = MetricsLog(out if main else None, run["history"])
    progress = RunProgress(config.steps, run["step"], quiet or not main)
    step, since, solved_at, checkpoint = run["step"], run["since"], run["solved_at"], None
    t0, wall0, grad_norm, done_here = time.perf_counter(), run["wall_s"], math.nan, 0
    try:
        while step < config.steps and solved_at is None:
            x, y = task.batch(config.batch_size, batch_generator(config.seed, step))
            x = shard(x, cluster.rank, cluster.world, dim=1).to(cluster.device)
            y = _to(shard(y, cluster.rank, cluster.world, dim=task.target_batch_dim), cluster.device)
            momentum = scheduled_momentum(step, config.momentum, config.momentum_schedule, config.momentum_warmup,
                                          config.momentum_cooldown, config.steps)
            if momentum is not None:
                for group in optimizer.param_groups:
                    group["momentum"] = momentum
            if hessian_free:
                xc, yc = task.batch(config.hf_curvature_batch, batch_generator(config.seed, f"curvature:{step}"))
                curvature = (xc.to(cluster.device), _to(yc, cluster.device))
                loss, grad_norm = hessian_free_update(model, task, x, y, optimizer, curvature)
            else:
                try:
                    with rank_draws(config.seed, step, cluster.rank, cluster.device):
                        loss, grad_norm = _train_on(trainer, task, x, y, optimizer, config)
                except NonFiniteGradientError as error:
                    raise NonFiniteGradientError(f"update {step + 1}: {error}") from None
            scheduler.step()
            step, done_here = step + 1, done_here + 1
            since.append(loss)
            seconds = time.perf_counter() - t0
            progress.step(step, f"loss {loss:.4g}  {config.batch_size * done_here / seconds:.0f} seq/s")
            if step % config.eval_every == 0 or step == config.steps:
                record = _evaluate(model, eval_task, eval_x, eval_y, step, since, grad_norm,
                                   config.batch_size * done_here / seconds, wall0 + seconds,
                                   optimizer.param_groups[0]["lr"])
                run["history"].append(record)
                since = []
                logs.write(record)
                progress.report(_line(record))
                if config.stop_when_solved and eval_task.solved(record):
                    solved_at = step
            end = step == config.steps or solved_at is not None
            if out is not None and main and (end or config.checkpoint_every and step % config.checkpoint_every == 0):
                tensors, meta = state.capture(model, optimizer, scheduler)
                meta.update(config=config.to_dict(), task=task.name, step=step, since=since,
                            history=run["history"], solved_at=solved_at,
                            wall_s=wall0 + time.perf_counter() - t0)
                checkpoint = save_checkpoint(out, step, tensors, meta, keep_last=config.keep_last)
    finally:
        progress.close()
        logs.close()
    return FitResult(step, solved_at, run["history"], time.perf_counter() - t0, checkpoint)


def _start(model, optimizer, scheduler, config, out, resume, cluster) -> dict:
    """The run's starting point: fresh, or restored from out's newest checkpoint."""
    fresh = {"step": 0, "history": [], "since": [], "solved_at": None, "wall_s": 0.0}
    existing = out is not None and latest_checkpoint(out) is not None
    if not resume:
        if existing:
            raise ValueError(f"out_dir: {out} already holds checkpoints; resume, or choose another directory")
        torch.manual_seed(config.seed)   # draws outside the training steps (those inside: rank_draws)
        return fresh
    if out is None:
        raise ValueError("resume: needs out_dir, the directory of the run to continue")
    payload = load_checkpoint(out) if cluster.is_main and existing else None
    payload = cluster.broadcast(payload)
    if payload is None:
        torch.manual_seed(config.seed)
        return fresh
    tensors, meta = payload
    _same_config(meta["config"], config, out)
    state.restore(model, optimizer, scheduler, tensors, meta)
    return {k: meta[k] for k in fresh}


def _same_config(saved: dict, config: FitConfig, out: Path) -> None:
    """A resumed run must train as the saved one did (it may run for more steps)."""
    now = config.to_dict()
    differ = sorted(k for k in now if k != "steps" and saved.get(k) != now[k])
    if differ:
        raise ValueError(f"resume: {out} was trained with other settings ({', '.join(differ)}); "
                         f"resume with the same ones")


def _train_on(trainer, task, x, y, optimizer, config) -> tuple[float, float]:
    """One training batch: full or truncated BPTT, clipping, optimiser step(s). Returns (loss, grad norm)."""
    norms = []

    def update():
        parameters = [(n, p) for n, p in trainer.named_parameters() if p.grad is not None]
        norms.append(clip_grad_norm(parameters, config.clip_norm or math.inf))
        if config.clip_value is not None:
            clip_grad_value(parameters, config.clip_value)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    if config.omega:
        loss = _backward_with_omega(trainer, task, x, y, config.omega, config.omega_reduction)
        update()
        return loss.item(), norms[-1]
    if config.tbptt is None:
        output, _ = trainer(x)
        loss = task.loss(output, y)
        loss.backward()
        update()
        return loss.item(), norms[-1]
    if task.target_batch_dim != 1:
        raise ValueError(f"tbptt: task {task.name!r} has no per-step targets (time-major), so it "
                         f"cannot be trained by truncated BPTT")
    k1, k2 = config.tbptt
    losses, _ = truncated_bptt(trainer, x, y, task.loss, k1, k2, update=update)
    return statistics.fmean(losses), norms[-1]


def _check_omega(model, world: int) -> None:
    cells = getattr(getattr(model, "layer", None), "cells", [])
    if world > 1 or len(cells) != 1 or not isinstance(cells[0], FullyRecurrentCell) or cells[0].output_units:
        raise ValueError("omega: the regulariser needs a SequenceModel over a one-layer, one-direction RNN "
                         "whose outputs are all its units, trained in one process")


def _backward_with_omega(model, task, x, y, weight: float, reduction: str) -> torch.Tensor:
    """Backpropagate the task's loss + ``weight`` x Omega (Pascanu et al. 2013); returns the task's loss."""
    output, _, hidden = model(x, return_hidden=True)
    loss = task.loss(output, y)
    d_hidden, = torch.autograd.grad(loss, hidden, retain_graph=True)
    cell = model.layer.cells[0]
    omega = vanishing_gradient_regulariser(hidden, d_hidden, cell.recurrent_weight(), cell.activation, reduction)
    (loss + weight * omega).backward()
    return loss


def _evaluate(model, task, x, y, step, since, grad_norm, speed, wall, lr) -> dict:
    was_training = model.training
    model.eval()
    with torch.no_grad():
        output, _ = model(x)
        record = {"step": step, "train_loss": statistics.fmean(since) if since else math.nan,
                  "eval_loss": task.loss(output, y).item(), **task.metrics(output, y),
                  "grad_norm": grad_norm, "seq_per_s": speed, "wall_s": wall, "lr": lr}
    model.train(was_training)
    return record


def _line(record: dict) -> str:
    extras = "  ".join(f"{k} {v:.4g}" for k, v in task_metrics(record).items())
    return (f"step {record['step']:>6}  train {record['train_loss']:.4g}  eval {record['eval_loss']:.4g}  "
            f"{extras}  |g| {record['grad_norm']:.3g}  {record['seq_per_s']:.0f} seq/s")


def _to(target, device):
    return target.to(device) if isinstance(target, torch.Tensor) else target
