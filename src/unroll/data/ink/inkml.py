"""W3C InkML (https://www.w3.org/TR/InkML/) reader and writer for pen-down traces and labelled trace groups.

Reading: ``<trace>`` point lists (explicit values, and the ``'`` first-difference and ``"`` second-difference
encodings), ``<traceFormat>`` channel order (X and Y used, others skipped), ``<traceGroup>`` with an
``<annotation type="truth">`` (or ``type="label"``) as a labelled word, and ``<traceView traceDataRef>`` to whole
traces. InkML's y axis points down; ``Ink`` keeps y up, so y is negated on the way in and out. Constructs that
would change the coordinates (``mapping``, ``canvasTransform``, ``traceView`` with from/to) are refused by name.
"""
import re
import xml.parsers.expat
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from ...atomic import atomic_write
from .ink import Ink, InkDocument, format_error

__all__ = ["read_inkml", "parse_inkml", "write_inkml", "inkml_text"]

NAMESPACE = "http://www.w3.org/2003/InkML"
_UNSUPPORTED = {"mapping", "canvasTransform", "affineMapping", "matrixMapping", "tableMapping", "bind"}
_KNOWN = {"ink", "definitions", "context", "inkSource", "traceFormat", "channel", "channelProperties",
          "channelProperty", "intermittentChannels", "trace", "traceGroup", "traceView", "annotation",
          "annotationXML", "brush", "brushProperty", "timestamp", "canvas", "sourceProperty", "sampleRate",
          "latency", "activeArea", "srcProperty"}
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_TOKEN = re.compile(r"[!'\"]|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[A-Za-z*?]+")


class _Node:
    def __init__(self, tag, attrs, line):
        self.tag, self.attrs, self.line, self.children, self.text = tag, attrs, line, [], ""


def _tree(text: str, path) -> _Node:
    parser = xml.parsers.expat.ParserCreate(namespace_separator=" ")
    root, stack = [], []

    def start(name, attrs):
        tag = name.rsplit(" ", 1)[-1]
        node = _Node(tag, {k.rsplit(" ", 1)[-1]: v for k, v in attrs.items()}, parser.CurrentLineNumber)
        (stack[-1].children if stack else root).append(node)
        stack.append(node)

    def end(name):
        stack.pop()

    def data(chars):
        if stack:
            stack[-1].text += chars

    parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = start, end, data
    parser.EntityDeclHandler = lambda *a: (_ for _ in ()).throw(
        format_error(path, parser.CurrentLineNumber, "entity declarations are not supported"))
    try:
        parser.Parse(text, True)
    except xml.parsers.expat.ExpatError as e:
        raise format_error(path, e.lineno, f"not well-formed XML ({xml.parsers.expat.ErrorString(e.code)})") from None
    if not root or root[0].tag != "ink":
        raise format_error(path, 1, f"expected an <ink> root element, got <{root[0].tag if root else ''}>")
    return root[0]


def _points(node: _Node, channels: list, path) -> list:
    """(x, y) points of a trace. A value may carry a qualifier that holds for its channel until the next one:
    ``!`` explicit, ``'`` difference from the previous value, ``"`` difference from the previous difference."""
    ix, iy = channels.index("X"), channels.index("Y")
    n = len(channels)
    points, value, velocity, mode = [], [0.0] * n, [0.0] * n, ["!"] * n
    for number, chunk in enumerate(node.text.split(",")):
        tokens = _TOKEN.findall(chunk)
        if not tokens:
            continue
        c, qualifier = 0, None
        for tok in tokens:
            if tok in ("!", "'", '"'):
                qualifier = tok
                continue
            if c >= n:
                raise format_error(path, node.line, f"trace point {number}: more values than the {n} channels "
                                                    f"{channels}")
            if not _NUMBER.fullmatch(tok):
                raise format_error(path, node.line, f"trace point {number}: value {tok!r} is not supported "
                                                    "(only numbers)")
            if qualifier is not None:
                mode[c], qualifier = qualifier, None
            v = float(tok)
            if mode[c] == "!":
                velocity[c], value[c] = 0.0, v
            elif mode[c] == "'":
                velocity[c] = v
                value[c] += v
            else:
                velocity[c] += v
                value[c] += velocity[c]
            c += 1
        if c < max(ix, iy) + 1:
            raise format_error(path, node.line, f"trace point {number}: expected values for {channels}, "
                                                f"got {chunk.strip()!r}")
        points.append((value[ix], -value[iy]))
    return points


def parse_inkml(text: str, path="<inkml>") -> InkDocument:
    """An InkDocument from InkML text (``path`` only names the source in errors)."""
    root = _tree(text, path)
    channels, traces, words, order = ["X", "Y"], {}, [], []

    def walk(node):
        nonlocal channels
        if node.tag in _UNSUPPORTED:
            raise format_error(path, node.line, f"<{node.tag}> is not supported by this reader")
        if node.tag not in _KNOWN:
            raise format_error(path, node.line, f"unknown InkML element <{node.tag}>")
        if node.tag == "traceFormat":
            names = [c.attrs.get("name") for c in node.children if c.tag == "channel"]
            if "X" not in names or "Y" not in names:
                raise format_error(path, node.line, f"traceFormat channels {names}: X and Y are required")
            channels = names
            return []
        if node.tag == "trace":
            if node.attrs.get("type", "penDown") != "penDown":
                return []
            ink = _points(node, channels, path)
            if "id" in node.attrs:
                traces[node.attrs["id"]] = ink
            order.append(ink)
            return [ink]
        if node.tag == "traceView":
            if "from" in node.attrs or "to" in node.attrs:
                raise format_error(path, node.line, "<traceView> with from/to is not supported")
            ref = node.attrs.get("traceDataRef", "").lstrip("#")
            if ref not in traces:
                raise format_error(path, node.line, f"<traceView traceDataRef={ref!r}>: no trace with that id "
                                                    "before it")
            return [traces[ref]]
        if node.tag in ("annotation", "annotationXML"):
            return []
        strokes = []
        for child in node.children:
            strokes += walk(child)
        if node.tag == "traceGroup":
            label = next((c.text.strip() for c in node.children if c.tag == "annotation"
                          and c.attrs.get("type") in ("truth", "label")), None)
            nested = any(c.tag == "traceGroup" for c in node.children)
            if strokes and not nested:
                words.append(Ink(strokes, label))
        return strokes

    walk(root)
    all_ink = Ink(order)
    return InkDocument(all_ink, words or [all_ink], {})


def read_inkml(path) -> InkDocument:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise format_error(path, None, "file not found") from None
    return parse_inkml(text, path)


def inkml_text(words: list) -> str:
    """InkML for a list of Ink: one traceGroup per word (with its truth annotation when labelled)."""
    lines = [f'<ink xmlns="{NAMESPACE}">',
             '  <traceFormat><channel name="X" type="decimal"/><channel name="Y" type="decimal"/></traceFormat>']
    n = 0
    for ink in words:
        lines.append("  <traceGroup>")
        if ink.label is not None:
            lines.append(f'    <annotation type="truth">{escape(ink.label)}</annotation>')
        for s in ink.strokes:
            pts = ", ".join(f"{x:.6g} {-y:.6g}" for x, y in s)
            lines.append(f"    <trace id={quoteattr(f't{n}')}>{pts}</trace>")
            n += 1
        lines.append("  </traceGroup>")
    lines.append("</ink>")
    return "\n".join(lines) + "\n"


def write_inkml(words: list, path) -> None:
    """Write ``words`` (a list of Ink) to ``path`` atomically."""
    atomic_write(path, inkml_text(words))
