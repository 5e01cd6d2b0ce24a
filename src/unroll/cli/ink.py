"""unroll ink: draw, convert and synthesise ink (InkML, UNIPEN, JSON)."""
from pathlib import Path

from .options import positive_int


def add(commands) -> None:
    p = commands.add_parser("ink", help="draw, convert or synthesise handwriting ink",
                            description="Tools for ink files: InkML, UNIPEN (read only) and JSON ink.")
    group = p.add_subparsers(title="actions", dest="action", metavar="ACTION", required=True)
    d = group.add_parser("draw", help="render an ink file's words to a PNG",
                         description="Render each word (segment or trace group) of FILE, labelled, to a PNG.")
    _ink_input(d)
    d.add_argument("-o", "--output", metavar="PNG", required=True, help="image to write")
    d.set_defaults(run=_draw)
    c = group.add_parser("convert", help="convert an ink file to InkML or JSON (by the output's suffix)",
                         description="Read FILE (any format) and write its words to OUTPUT: .inkml or .json.")
    _ink_input(c)
    c.add_argument("-o", "--output", metavar="FILE", required=True, help="OUTPUT.inkml or OUTPUT.json")
    c.set_defaults(run=_convert)
    s = group.add_parser("synth", help="synthesise cursive words from the Hershey script fonts",
                         description="Write synthetic handwriting of WORDS (Hershey script fonts with slant, "
                                     "scale, warp, speed and jitter drawn per writer) to OUTPUT (.inkml/.json).")
    s.add_argument("words", metavar="WORD", nargs="+", help="words to write")
    s.add_argument("-o", "--output", metavar="FILE", required=True, help="OUTPUT.inkml or OUTPUT.json")
    s.add_argument("--writer", type=positive_int, default=1, metavar="N", help="writer seed (default: 1)")
    s.set_defaults(run=_synth)



def _ink_input(p) -> None:
    p.add_argument("file", metavar="FILE", help="InkML, UNIPEN or JSON ink file, or - for stdin")
    p.add_argument("--include-dir", metavar="DIR", help="UNIPEN include folder (default: found walking up)")

def _write(words, output: str) -> None:
    from ..data.ink import write_inkml, write_json_ink

    suffix = Path(output).suffix.lower()
    if suffix == ".inkml":
        write_inkml(words, output)
    elif suffix == ".json":
        write_json_ink(words, output)
    else:
        raise ValueError(f"output: expected a .inkml or .json file name, got {output!r}")


def _draw(args) -> int:
    from ..report.ink import draw_ink
    from .recognize import read_document

    draw_ink(read_document(args.file, args.include_dir).words, args.output)
    return 0


def _convert(args) -> int:
    from .recognize import read_document

    _write(read_document(args.file, args.include_dir).words, args.output)
    return 0


def _synth(args) -> int:
    from ..data.ink.hershey import synthesize

    _write([synthesize(w, seed=args.writer * 1000 + i) for i, w in enumerate(args.words)], args.output)
    return 0
