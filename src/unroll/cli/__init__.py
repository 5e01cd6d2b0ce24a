"""The ``unroll`` command line: parses arguments and calls the library; no work of its own.

Each command (or command group) is added by one small function ``add(commands)`` in its own module,
listed in ``COMMANDS``; it creates its subparser and sets ``run=<function(args) -> int>`` as the
default. The global options are added to the top-level parser and to every command, so they may
come before or after the command; a ``--config`` file gives any of a command's options defaults.
Every error a user can cause is one line on stderr, ``unroll: error: ...``, and exit status 2.
"""
import argparse
import signal
import sys
import threading

from .. import __version__
from ..config_file import ConfigError, load_config
from ..gradients import NonFiniteGradientError
from . import bench, compress, demo, ink, recognize, tour, train
from .options import GLOBALS, Parser, add_global_options

ERRORS = (ValueError, TypeError, OSError, NonFiniteGradientError)   # CheckpointError is a ValueError
COMMANDS = (tour.add, demo.add, train.add, bench.add, compress.add, recognize.add, ink.add)
_NOT_IN_CONFIG = {"help", "config", "debug"}


def parser() -> argparse.ArgumentParser:
    p = Parser(prog="unroll", description="Recurrent neural networks trained by backpropagation through time.",
               epilog="Global options may also follow the command. 'unroll COMMAND --help' lists a "
                      "command's options.")
    p.add_argument("--version", action="version", version=f"unroll {__version__}")
    add_global_options(p)
    commands = p.add_subparsers(title="commands", dest="command", metavar="COMMAND", required=True)
    for add in COMMANDS:
        add(commands)
    for command in {id(c): c for c in commands.choices.values()}.values():   # aliases share a parser
        add_global_options(command)
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


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv=None) -> int:
    """Run one command. Errors a user can cause print one line on stderr and return 2 (with --debug
    they are raised, traceback and all); Ctrl-C or SIGTERM prints 'unroll: interrupted' and returns 130
    after the command has unwound (its worker processes stopped, its files closed)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    p = parser()
    args = p.parse_args(argv)
    debug = getattr(args, "debug", False)
    in_main_thread = threading.current_thread() is threading.main_thread()
    before = signal.signal(signal.SIGTERM, _interrupt) if in_main_thread else None
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
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if before is None else before)


