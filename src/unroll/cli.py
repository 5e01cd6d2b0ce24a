"""The ``unroll`` command line: parses arguments and calls the library; no work of its own.

Each command (or command group) is added by one small function ``add_<name>(commands)`` listed in
``COMMANDS``; it creates its subparser and sets ``run=<function(args) -> int>`` as the default.
The global options (``GLOBALS``) are added to the top-level parser and to every command, so they may
come before or after the command; a ``--config`` file gives any of a command's options defaults.
Every error a user can cause is one line on stderr, ``unroll: error: ...``, and exit status 2.
"""
import argparse
import inspect
import os
import sys
import types
import typing
from dataclasses import fields

from . import __version__
from .config_file import ConfigError, load_config
from .gradients import NonFiniteGradientError

# Global options and their values when neither the command line nor a config file gives them.
GLOBALS = {"debug": False, "quiet": False, "device": "cpu", "threads": None, "seed": None, "config": None}
ERRORS = (ValueError, TypeError, OSError, NonFiniteGradientError)   # CheckpointError is a ValueError
_NOT_IN_CONFIG = {"help", "config", "debug"}


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``unroll: error: <message> (see '<prog> --help')``, exit status 2."""

    def error(self, message):
        self.exit(2, f"unroll: error: {' '.join(message.split())} (see '{self.prog} --help')\n")


def _positive_int(value):
    """argparse/config type: an int >= 1."""
    if isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return value


def _int_pair(value):
    """argparse/config type: "K1,K2" (or a list [K1, K2] from a config file) -> [K1, K2]."""
    if isinstance(value, str):
        try:
            value = [int(k) for k in value.split(",")]
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected K1,K2 (two integers), got {value!r}") from None
    if not (isinstance(value, list) and len(value) == 2
            and all(isinstance(k, int) and not isinstance(k, bool) for k in value)):
        raise argparse.ArgumentTypeError(f"expected K1,K2 (two integers), got {value!r}")
    return value


def _add_global_options(p: argparse.ArgumentParser) -> None:
    """GLOBALS as options of ``p``; absent unless given (main fills the defaults), so that a command's
    copy of an option does not overwrite the value given before the command."""
    g = p.add_argument_group("global options (before or after the command)")
    s = argparse.SUPPRESS
    g.add_argument("--debug", action="store_true", default=s,
                   help="on an error, show the full traceback instead of one line")
    g.add_argument("--quiet", action="store_true", default=s, help="print only the final line")
    g.add_argument("--device", choices=("cpu", "cuda"), default=s, help="where to compute (default: cpu)")
    g.add_argument("--threads", type=_positive_int, metavar="N", default=s,
                   help="CPU threads torch may use (default: torch's own choice)")
    g.add_argument("--seed", type=int, metavar="N", default=s,
                   help="seed for the initial weights and the data (default: 0)")
    g.add_argument("--config", metavar="FILE", default=s,
                   help="TOML (.toml) or YAML (.yaml, .yml) file of option = value defaults for the "
                        "command, e.g. steps = 500; flags on the command line override it")


# ---- demo -------------------------------------------------------------------------------------------

def add_demo(commands) -> None:
    p = commands.add_parser("demo", help="train a small LSTM to recall a marked bit across a noisy sequence",
                            description="Train a small LSTM to recall, at the last of 20 noisy steps, the "
                                        "bit marked in the first half; prints the loss falling.")
    p.add_argument("--steps", type=int, default=500, help="Adam updates (default: 500)")
    p.set_defaults(run=_run_demo)


def _run_demo(args) -> int:
    import torch

    from . import demo

    if args.device != "cpu":
        raise ValueError(f"device: the demo runs on the CPU only, got {args.device!r}")
    if args.threads is None:
        torch.set_num_threads(1)
    r = demo.run(args.steps, 0 if args.seed is None else args.seed, quiet=args.quiet)
    print(f"recalled the marked bit in {r.history[-1]['accuracy']:.1%} of {demo.EVAL_SIZE} held-out "
          f"sequences after {r.steps} updates ({r.seconds:.1f} s; chance is 50%)")
    return 0


# ---- train ------------------------------------------------------------------------------------------

# Help for FitConfig's fields; a field missing here still gets a flag.
_FIT_HELP = {
    "steps": "training batches",
    "batch_size": "sequences per batch (all ranks together under torchrun)",
    "optimizer": "sgd, momentum (classical), nesterov, adam or rmsprop",
    "lr": "learning rate",
    "momentum": "momentum of --optimizer momentum/nesterov; the cap of --momentum-schedule",
    "momentum_schedule": "raise the momentum during training as Sutskever et al. 2013, up to --momentum",
    "weight_decay": "L2 weight decay",
    "lr_schedule": "constant, cosine (to 0 at the last step) or step (x --lr-decay every --lr-decay-every steps)",
    "lr_decay": "factor of --lr-schedule step",
    "lr_decay_every": "steps between decays of --lr-schedule step",
    "clip_norm": "clip the gradients' total norm to this (default: off)",
    "clip_value": "clip every gradient element to [-V, V] (default: off)",
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
        kw = {"type": _int_pair, "metavar": "K1,K2"}
    else:
        raise TypeError(f"FitConfig.{field.name}: no command-line form for {field.type}")
    if field.name in choices:
        kw.update(choices=choices[field.name], metavar=None)
    if field.default is not None and "(default:" not in help:
        help += " (default: %(default)s)"
    group.add_argument(flag, default=field.default, help=help, **kw)


def add_train(commands) -> None:
    from .data import TASKS
    from .train import FitConfig, build_model
    from .train.config import LR_SCHEDULES, OPTIMIZERS
    from .train.model import KINDS

    p = commands.add_parser(
        "train", help="train a recurrent net on a task; checkpoints and metrics.jsonl in --out",
        description="Build a task and a model (initial weights drawn from --seed), then train with fit(): "
                    "one line per evaluation, a summary line at the end. With --out, metrics.jsonl and "
                    "checkpoints go there and --resume continues the newest checkpoint. Under "
                    "'torchrun --nproc_per_node=N -m unroll.cli train ...' it trains data-parallel.")
    task = p.add_argument_group("task")
    task.add_argument("--task", choices=sorted(TASKS), default="recall", help="the task (default: recall)")
    task.add_argument("--length", type=_positive_int, metavar="N",
                      help="sequence length, for tasks that take one (default: the task's own)")
    model = p.add_argument_group("model")
    defaults = inspect.signature(build_model).parameters
    model.add_argument("--model", choices=KINDS, default="lstm", help="recurrent layer (default: lstm)")
    model.add_argument("--hidden", type=_positive_int, metavar="N", default=defaults["hidden_size"].default,
                       help="hidden units per layer (default: %(default)s)")
    model.add_argument("--layers", type=_positive_int, metavar="N", default=defaults["num_layers"].default,
                       help="stacked recurrent layers (default: %(default)s)")
    model.add_argument("--peephole", action="store_true", help="LSTM peephole connections from the cell to the gates")
    fit_options = p.add_argument_group("training")
    choices = {"optimizer": OPTIMIZERS, "lr_schedule": LR_SCHEDULES}
    for field in fields(FitConfig):
        if field.name != "seed":   # --seed is global
            _add_fit_option(fit_options, field, choices)
    out = p.add_argument_group("output")
    out.add_argument("--out", metavar="DIR", help="directory for checkpoints and metrics.jsonl (default: keep nothing)")
    out.add_argument("--resume", action="store_true",
                     help="continue from the newest checkpoint in --out (a fresh start if there is none)")
    p.set_defaults(run=_run_train)


def _run_train(args) -> int:
    import torch

    from .data import make_task
    from .train import FitConfig, build_model, fit

    task = make_task(args.task, **({} if args.length is None else {"length": args.length}))
    names = [f.name for f in fields(FitConfig) if f.name != "seed"]
    config = FitConfig(**{n: getattr(args, n) for n in names}, **({} if args.seed is None else {"seed": args.seed}))
    layer_options = {}
    if args.peephole:
        if args.model != "lstm":
            raise ValueError(f"peephole: only the LSTM has peepholes, got --model {args.model}")
        layer_options["peephole"] = True
    torch.manual_seed(config.seed)   # the initial weights
    model = build_model(args.model, task.input_size, task.output_size, args.hidden, args.layers, **layer_options)
    try:
        result = fit(model, task, config, out_dir=args.out, resume=args.resume, quiet=args.quiet, device=args.device)
    finally:
        if torch.distributed.is_available() and torch.distributed.is_initialized():   # under torchrun
            torch.distributed.destroy_process_group()
    if os.environ.get("RANK", "0") == "0":
        print(_summary(result, args.out), flush=True)
    return 0


def _summary(result, out) -> str:
    """One line: steps, when solved, the last evaluation's metrics, the checkpoint."""
    from .train.checkpoint import latest_checkpoint

    solved = "not solved" if result.solved_at is None else f"solved at step {result.solved_at}"
    parts = [f"trained {result.steps} steps ({solved}; {result.seconds:.1f} s here)"]
    if result.history:
        last = result.history[-1]
        shown = {k: v for k, v in last.items()
                 if k not in ("step", "train_loss", "grad_norm", "seq_per_s", "wall_s", "lr")}
        parts.append(f"eval at step {last['step']}: " + ", ".join(
            f"{'loss' if k == 'eval_loss' else k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
            for k, v in shown.items()))
    checkpoint = result.checkpoint or (latest_checkpoint(out) if out is not None else None)
    parts.append(f"checkpoint {checkpoint}" if checkpoint else "no checkpoint (no --out)")
    return "; ".join(parts)


COMMANDS = (add_demo, add_train)


# ---- the program ------------------------------------------------------------------------------------

def parser() -> argparse.ArgumentParser:
    p = Parser(prog="unroll", description="Recurrent neural networks trained by backpropagation through time.",
               epilog="Global options may also follow the command. 'unroll COMMAND --help' lists a "
                      "command's options.")
    p.add_argument("--version", action="version", version=f"unroll {__version__}")
    _add_global_options(p)
    commands = p.add_subparsers(title="commands", dest="command", metavar="COMMAND", required=True)
    for add in COMMANDS:
        add(commands)
    for command in {id(c): c for c in commands.choices.values()}.values():   # aliases share a parser
        _add_global_options(command)
    return p


def _command_parser(p: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    return next(a for a in p._actions if isinstance(a, argparse._SubParsersAction)).choices[name]


def _config_value(action: argparse.Action, value, where: str):
    """A config file's value for ``action``'s option, checked and converted as the flag's text would be."""
    if action.nargs == 0:   # a switch
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if value is None and action.default is None:
        return None
    convert = action.type or str
    accepts = {int: (int, str), float: (int, float, str), str: (str,)}.get(convert, (object,))
    try:
        if isinstance(value, bool) or not isinstance(value, accepts):
            raise ValueError
        value = convert(value)
    except argparse.ArgumentTypeError as e:
        raise ConfigError(f"{where}: {e}") from None
    except (ValueError, TypeError):
        name = {int: "an integer", float: "a number", str: "a string"}.get(convert, "a valid value")
        raise ConfigError(f"{where}: expected {name}, got {value!r}") from None
    if action.choices is not None and value not in action.choices:
        raise ConfigError(f"{where}: expected one of {', '.join(map(str, action.choices))}, got {value!r}")
    return value


def _with_config(p: argparse.ArgumentParser, argv: list, args: argparse.Namespace) -> argparse.Namespace:
    """Parse ``argv`` again with the options of ``args.config`` as the command's defaults."""
    path = args.config
    values = load_config(path)
    command = _command_parser(p, args.command)
    options = {a.dest: a for a in command._actions if a.option_strings and a.dest not in _NOT_IN_CONFIG}
    unknown = sorted(k for k in values if k.replace("-", "_") not in options)
    if unknown:
        raise ConfigError(f"{path}: unknown option(s) {', '.join(unknown)} for 'unroll {args.command}'; "
                          f"known: {', '.join(sorted(options))}")
    typed = {}
    for key, value in values.items():
        dest = key.replace("-", "_")
        if dest in typed:
            raise ConfigError(f"{path}: option {dest} given twice")
        typed[dest] = _config_value(options[dest], value, f"{path}: {key}")
    command.set_defaults(**{k: v for k, v in typed.items() if k not in GLOBALS})
    args = p.parse_args(argv)
    for name in GLOBALS.keys() & typed.keys():   # a global option given on the command line wins
        if not hasattr(args, name):
            setattr(args, name, typed[name])
    return args


def _set_up(args) -> None:
    """Apply the global options that act before any command: threads, and the device check."""
    import torch

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device: cuda requested, but torch sees no CUDA device (torch.cuda.is_available() is False)")


def _one_line(e: BaseException) -> str:
    if isinstance(e, OSError) and e.filename is not None and e.strerror:
        text = f"{e.filename}: {e.strerror}"
    else:
        text = str(e) or type(e).__name__
    return " ".join(text.split())


def main(argv=None) -> int:
    """Run one command. Errors a user can cause print one line on stderr and return 2 (with --debug
    they are raised, traceback and all); Ctrl-C prints 'unroll: interrupted' and returns 130."""
    argv = sys.argv[1:] if argv is None else list(argv)
    p = parser()
    args = p.parse_args(argv)
    debug = getattr(args, "debug", False)
    try:
        if getattr(args, "config", None) is not None:
            args = _with_config(p, argv, args)
        for name, default in GLOBALS.items():
            if not hasattr(args, name):
                setattr(args, name, default)
        _set_up(args)
        return args.run(args)
    except ERRORS as e:
        if debug:
            raise
        print(f"unroll: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if debug:
            raise
        print("unroll: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
