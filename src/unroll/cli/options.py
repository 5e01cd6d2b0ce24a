"""The command line's shared pieces: the one-line-error parser, argument types and the global options."""
import argparse

# Global options and their values when neither the command line nor a config file gives them.
GLOBALS = {"debug": False, "quiet": False, "device": "cpu", "threads": None, "seed": None, "config": None}


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``unroll: error: <message> (see '<prog> --help')``, exit status 2."""

    def error(self, message):
        self.exit(2, f"unroll: error: {' '.join(message.split())} (see '{self.prog} --help')\n")


def positive_int(value):
    """argparse/config type: an int >= 1."""
    if isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return value


def int_pair(value):
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


def add_global_options(p: argparse.ArgumentParser) -> None:
    """GLOBALS as options of ``p``; absent unless given (main fills the defaults), so that a command's
    copy of an option does not overwrite the value given before the command."""
    g = p.add_argument_group("global options (before or after the command)")
    s = argparse.SUPPRESS
    g.add_argument("--debug", action="store_true", default=s,
                   help="on an error, show the full traceback instead of one line")
    g.add_argument("--quiet", action="store_true", default=s, help="print only the final line")
    g.add_argument("--device", choices=("cpu", "cuda"), default=s, help="where to compute (default: cpu)")
    g.add_argument("--threads", type=positive_int, metavar="N", default=s,
                   help="CPU threads torch may use (default: torch's own choice)")
    g.add_argument("--seed", type=int, metavar="N", default=s,
                   help="seed for the initial weights and the data (default: 0)")
    g.add_argument("--config", metavar="FILE", default=s,
                   help="TOML (.toml) or YAML (.yaml, .yml) file of option = value defaults for the "
                        "command, e.g. steps = 500; flags on the command line override it")
