"""Ink: readers (UNIPEN, InkML, JSON), an InkML/JSON writer, Hershey-font synthesis and preprocessing."""
from pathlib import Path

from .ink import Ink, InkDocument, InkFormatError
from .inkml import parse_inkml, read_inkml, write_inkml
from .json_ink import parse_json_ink, read_json_ink, write_json_ink
from .unipen import read_unipen

__all__ = ["Ink", "InkDocument", "InkFormatError", "read_ink", "parse_ink", "read_unipen", "read_inkml",
           "write_inkml", "read_json_ink", "write_json_ink", "parse_inkml", "parse_json_ink"]


def sniff(text: str) -> str:
    """'inkml', 'json' or 'unipen' from a file's first non-blank character(s)."""
    head = text.lstrip()[:1]
    return {"<": "inkml", "{": "json", ".": "unipen"}.get(head, "unknown")


def parse_ink(text: str, name: str = "<stdin>", include_dir=None) -> InkDocument:
    """A document from text in any of the three formats (UNIPEN from text resolves .INCLUDE via include_dir)."""
    kind = sniff(text)
    if kind == "inkml":
        return parse_inkml(text, name)
    if kind == "json":
        return parse_json_ink(text, name)
    if kind == "unipen":
        from .unipen import parse_unipen
        return parse_unipen(text, name, include_dir)
    raise InkFormatError(f"{name}:1: not InkML ('<'), JSON ('{{') or UNIPEN ('.'): starts with {text.strip()[:20]!r}")


def read_ink(path, include_dir=None) -> InkDocument:
    """Read an InkML, JSON or UNIPEN file (chosen by its content)."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(256).decode("latin-1")
    except FileNotFoundError:
        raise InkFormatError(f"{path}: file not found") from None
    kind = sniff(head)
    if kind == "inkml":
        return read_inkml(path)
    if kind == "json":
        return read_json_ink(path)
    if kind == "unipen":
        return read_unipen(path, include_dir)
    raise InkFormatError(f"{path}:1: not InkML ('<'), JSON ('{{') or UNIPEN ('.') ink")
