"""unroll train: fit() a model on a registered task, with checkpoints, resume and data-parallel runs."""
import inspect
import os
import types
import typing
from dataclasses import fields

from . import train_handwriting
from .options import int_pair, positive_int

# Help for FitConfig's fields; a field missing here still gets a flag.
_FIT_HELP = {
    "steps": "training batches",
    "batch_size": "sequences per batch (all ranks together under torchrun)",
    "optimizer": "sgd, momentum (classical), nesterov, adam, rmsprop or hessian-free (Martens 2010)",
    "lr": "learning rate",
    "momentum": "momentum of --optimizer momentum/nesterov; the cap of --momentum-schedule",
    "momentum_schedule": "raise the momentum during training as Sutskever et al. 2013, up to --momentum",
    "momentum_warmup": "updates at momentum 0.9 before --momentum (or --momentum-schedule) takes over "
                       "(Sutskever et al. 2013's RNNs: 1000)",
    "momentum_cooldown": "last updates of --steps at momentum 0.9 (Sutskever et al. 2013's deep autoencoders: 1000)",
    "weight_decay": "L2 weight decay",
    "lr_schedule": "constant, cosine (to 0 at the last step) or step (x --lr-decay every --lr-decay-every steps)",
    "lr_decay": "factor of --lr-schedule step",
    "lr_decay_every": "steps between decays of --lr-schedule step",
    "clip_norm": "clip the gradients' total norm to this (default: off)",
    "clip_value": "clip every gradient element to [-V, V] (default: off)",
    "omega": "weight of Pascanu et al.'s vanishing-gradient regulariser (one-layer RNNs; default: off)",
    "omega_reduction": "Omega summed over steps as the paper writes it, or averaged as the authors' code",
    "hf_curvature_batch": "hessian-free: sequences in the separate curvature minibatch",
    "hf_cg_iters": "hessian-free: most conjugate-gradient steps per update",
    "hf_damping": "hessian-free: initial Levenberg-Marquardt damping lambda",
    "hf_structural": "hessian-free: structural damping mu (the hidden-state penalty weighs mu x lambda; 0: off)",
    "tbptt": "truncated BPTT: every K1 steps backpropagate through the last K2 >= K1 (default: full BPTT)",
    "eval_every": "steps between evaluations (a metrics line; the early-stop check)",
    "eval_size": "held-out sequences per evaluation",
    "checkpoint_every": "steps between checkpoints in --out; 0: only at the end",
    "keep_last": "checkpoints kept in --out",
    "stop_when_solved": "keep training after the task's success criterion holds",
}


def _add_fit_option(group, field, choices: dict) -> None:
    """One flag for a FitConfig field, typed by its annotation: bool -> a switch (--no-NAME when it
    defaults to True), int/float/str -> a value (None allowed when the default is None), list[int] -> K1,K2."""
    kind = field.type
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        kind = next(t for t in typing.get_args(kind) if t is not type(None))
    flag = "--" + field.name.replace("_", "-")
    help = _FIT_HELP.get(field.name, field.name.replace("_", " "))
    if kind is bool:
        if field.default:
            group.add_argument("--no-" + flag[2:], dest=field.name, action="store_false", help=help)
        else:
            group.add_argument(flag, action="store_true", help=help)
        return
    if kind in (int, float, str):
        kw = {"type": None if kind is str else kind, "metavar": {int: "N", float: "X"}.get(kind)}
    elif typing.get_origin(kind) is list:
        kw = {"type": int_pair, "metavar": "K1,K2"}
    else:
        raise TypeError(f"FitConfig.{field.name}: no command-line form for {field.type}")
    if field.name in choices:
        kw.update(choices=choices[field.name], metavar=None)
    if field.default is not None and "(default:" not in help:
        help += " (default: %(default)s)"
    group.add_argument(flag, default=field.default, help=help, **kw)


def add(commands) -> None:
    from ..data import TASKS
    from ..layers import LSTM
    from ..train import FitConfig, build_model
    from ..train.config import LR_SCHEDULES, OPTIMIZERS
    from ..train.model import KINDS

    p = commands.add_parser(
        "train", help="train a recurrent net on a task; checkpoints and metrics.jsonl in --out",
        description="Build a task and a model (initial weights drawn from --seed), then train with fit(): "
                    "one line per evaluation, a summary line at the end. With --out, metrics.jsonl and "
                    "checkpoints go there and --resume continues the newest checkpoint. Under "
                    "'torchrun --nproc_per_node=N -m unroll.cli train ...' it trains data-parallel.")
    task = p.add_argument_group("task")
    task.add_argument("--task", choices=sorted(TASKS), default="recall", help="the task (default: recall)")
    task.add_argument("--length", type=positive_int, metavar="N",
                      help="sequence length, for tasks that take one (default: the task's own)")
    model = p.add_argument_group("model")
    defaults = inspect.signature(build_model).parameters
    model.add_argument("--model", choices=KINDS, default="lstm", help="recurrent layer (default: lstm)")
    model.add_argument("--hidden", type=positive_int, metavar="N", default=defaults["hidden_size"].default,
                       help="hidden units per layer (default: %(default)s)")
    model.add_argument("--layers", type=positive_int, metavar="N", default=defaults["num_layers"].default,
                       help="stacked recurrent layers (default: %(default)s)")
    model.add_argument("--peephole", action="store_true", help="LSTM peephole connections from the cell to the gates")
    model.add_argument("--backend", choices=LSTM.backends, default="fused",
                       help="how the layer runs through time: the fused BPTT path, the reference autograd loop, or "
                            "torch's own kernels, cuDNN on CUDA (an LSTM without peepholes, a tanh RNN) "
                            "(default: %(default)s)")
    fit_options = p.add_argument_group("training")
    choices = {"optimizer": OPTIMIZERS, "lr_schedule": LR_SCHEDULES, "omega_reduction": ("sum", "mean")}
    for field in fields(FitConfig):
        if field.name != "seed":   # --seed is global
            _add_fit_option(fit_options, field, choices)
    out = p.add_argument_group("output")
    out.add_argument("--out", metavar="DIR", help="directory for checkpoints and metrics.jsonl (default: keep nothing)")
    out.add_argument("--resume", action="store_true",
                     help="continue from the newest checkpoint in --out (a fresh start if there is none)")
    p.set_defaults(run=_run_train)
    train_handwriting.add(p)


def _run_train(args) -> int:
    import torch

    from ..data import make_task
    from ..train import FitConfig, build_model, fit

    task = make_task(args.task, **({} if args.length is None else {"length": args.length}))
    names = [f.name for f in fields(FitConfig) if f.name != "seed"]
    config = FitConfig(**{n: getattr(args, n) for n in names}, **({} if args.seed is None else {"seed": args.seed}))
    layer_options = {"backend": args.backend}
    if args.peephole:
        if args.model != "lstm":
            raise ValueError(f"peephole: only the LSTM has peepholes, got --model {args.model}")
        layer_options["peephole"] = True
    torch.manual_seed(config.seed)   # the initial weights
    model = build_model(args.model, task.input_size, task.output_size, args.hidden, args.layers, **layer_options)
    result = fit(model, task, config, out_dir=args.out, resume=args.resume, quiet=args.quiet, device=args.device)
    if os.environ.get("RANK", "0") == "0":
        print(_summary(result, args.out), flush=True)
    return 0


def _summary(result, out) -> str:
    """One line: steps, when solved, the last evaluation's metrics, the checkpoint."""
    from ..train.checkpoint import latest_checkpoint
    from ..train.fit import task_metrics

    solved = "not solved" if result.solved_at is None else f"solved at step {result.solved_at}"
    parts = [f"trained {result.steps} steps ({solved}; {result.seconds:.1f} s here)"]
    if result.history:
        last = result.history[-1]
        shown = {"eval_loss": last["eval_loss"], **task_metrics(last)}
        parts.append(f"eval at step {last['step']}: " + ", ".join(
            f"{'loss' if k == 'eval_loss' else k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
            for k, v in shown.items()))
    checkpoint = result.checkpoint or (latest_checkpoint(out) if out is not None else None)
    parts.append(f"checkpoint {checkpoint}" if checkpoint else "no checkpoint (no --out)")
    return "; ".join(parts)
