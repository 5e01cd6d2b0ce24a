"""Config files for the command line: a TOML or YAML mapping of option names to values.

The extension picks the format: ``.toml`` (tomllib) or ``.yaml``/``.yml`` (pyyaml). Every error is a
``ConfigError`` (a ValueError) with a one-line message that starts with the file's path and, where the
parser reports one, the line number.
"""
import tomllib
from pathlib import Path

__all__ = ["ConfigError", "load_config", "FORMATS"]

FORMATS = {".toml": "TOML", ".yaml": "YAML", ".yml": "YAML"}


class ConfigError(ValueError):
    """A config file that cannot be used; the message is one line, ``<file>: <what is wrong>``."""


def _error(path, what) -> ConfigError:
    return ConfigError(" ".join(f"{path}: {what}".split()))


def load_config(path) -> dict:
    """The mapping at the top of the TOML or YAML file ``path`` (an empty YAML file gives {}).

    Keys must be strings; values are whatever the format parses (checking them is the caller's job).
    """
    path = Path(path)
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise _error(path, f"unknown config format {path.suffix or '(no extension)'!r}; "
                           f"expected one of {', '.join(FORMATS)}")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise _error(path, f"cannot read config file ({e.strerror or e})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _error(path, f"not UTF-8 text (byte {e.start})") from None
    values = _parse_toml(path, text) if kind == "TOML" else _parse_yaml(path, text)
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise _error(path, f"expected a mapping of option names to values at the top, got {type(values).__name__}")
    for key in values:
        if not isinstance(key, str):
            raise _error(path, f"option names must be strings, got {key!r}")
    return values


def _parse_toml(path: Path, text: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:  # the message ends "(at line L, column C)"
        raise _error(path, f"invalid TOML: {e}") from None


def _parse_yaml(path: Path, text: str):
    try:
        import yaml
    except ImportError:
        raise _error(path, "reading YAML needs pyyaml (pip install pyyaml), or use a .toml file") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        problem = getattr(e, "problem", None) or str(e)
        where = f" (at line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise _error(path, f"invalid YAML: {problem}{where}") from None
