"""unroll recognize: read handwritten words from an InkML, UNIPEN or JSON ink file with the shipped model."""
import sys
from pathlib import Path

from .options import positive_int


def add(commands) -> None:
    p = commands.add_parser(
        "recognize", help="read handwritten words from ink files (InkML, UNIPEN or JSON)",
        description="Print the words the shipped BLSTM/CTC recogniser reads in the FILEs, one per line in "
                    "file and segment order (UNIPEN .SEGMENT WORD entries, InkML trace groups, JSON words); "
                    "nothing else goes to stdout. Decoding is constrained to a lexicon of the language with "
                    "word-frequency priors, falling back to the open-vocabulary reading when no lexicon word "
                    "fits; that reading is guided by a character 5-gram model of the language's words. The "
                    "language is English or German, whichever all the words given read as (give one writer's "
                    "files together: a word or two are read in English unless they read far better as "
                    "German), unless --language names it.")
    p.add_argument("files", metavar="FILE", nargs="+", help="ink file, or - for stdin")
    p.add_argument("--lexicon", metavar="FILE", help="word list (one 'word [frequency]' per line, .gz allowed) "
                                                     "instead of the language's lexicon")
    p.add_argument("--language", metavar="CODES", default="auto",
                   help="language of the words: auto (default: the one of --detect the words read as), a "
                        "wordfreq code (en, de, fr, nl, ...) or several joined by commas (en,de: the languages "
                        "share the prior equally). A language's 50,000 most frequent words become the lexicon "
                        "and train the character model (en and de ship; others are built from wordfreq at "
                        "start-up, about 2 s each)")
    p.add_argument("--detect", metavar="CODES",
                   help="the languages --language auto chooses among, joined by commas: the first, unless the "
                        "words read as another by odds of 100 to 1 (default: en,de, the languages that ship)")
    p.add_argument("--no-lexicon", action="store_true", help="open-vocabulary decoding (prefix beam search)")
    p.add_argument("--beam", type=positive_int, default=24, metavar="N",
                   help="prefixes each beam search keeps (default: %(default)s; 96 reads a few more words, at a "
                        "third of the speed: docs/handwriting.md)")
    p.add_argument("--networks", type=positive_int, metavar="N",
                   help="read with the model's first N networks (default: all; the shipped model has 3, and "
                        "--networks 1 reads about 4x faster and 1.9 points fewer words: docs/handwriting.md)")
    p.add_argument("--no-language-model", action="store_true",
                   help="open-vocabulary reading from the ink alone (no character language model)")
    p.add_argument("--score", action="store_true",
                   help="print character error rate and word accuracy against the file's own labels on stderr")
    p.add_argument("--include-dir", metavar="DIR", help="UNIPEN include folder (default: found walking up)")
    p.add_argument("--model", metavar="DIR", help="a model folder written by 'unroll train handwriting' or "
                                                  "'unroll train handwriting-ensemble' (default: the shipped "
                                                  "model)")
    p.add_argument("--explain", action="store_true",
                   help="draw the first word's CTC spikes, memory cells, trajectory and input sensitivity to -o")
    p.add_argument("-o", "--output", metavar="PNG", help="where --explain draws (required with --explain)")
    p.set_defaults(run=_run)


def read_document(name: str, include_dir=None):
    """The ink document in file ``name`` (or stdin for '-')."""
    from ..data.ink import parse_ink, read_ink

    if name == "-":
        return parse_ink(sys.stdin.read(), "<stdin>", include_dir)
    return read_ink(name, include_dir)


def _run(args) -> int:
    from .. import ctc
    from ..handwriting.languages import AUTO
    from ..handwriting.recognize import Recognizer
    from ..handwriting.shipped import MODEL_DIR

    if args.lexicon and args.no_lexicon:
        raise ValueError("lexicon: give --lexicon FILE or --no-lexicon, not both")
    if args.explain and not args.output:
        raise ValueError("output: --explain needs -o FILE.png")
    if args.files.count("-") > 1:
        raise ValueError("files: stdin (-) can be read once")
    docs = [read_document(name, args.include_dir) for name in args.files]
    inks = [word for doc in docs for word in doc.words]
    lexicon = None if args.no_lexicon else (args.lexicon or "default")
    detect = AUTO if args.detect is None else tuple(args.detect.split(","))
    recognizer = Recognizer(Path(args.model) if args.model else MODEL_DIR, lexicon=lexicon,
                            beam=args.beam, language_model=not args.no_language_model, language=args.language,
                            networks=args.networks, detect=detect)
    words = recognizer.read_words(inks)
    for w in words:
        print(w)
    sys.stdout.flush()
    if args.score:
        labelled = [(h, w.label) for h, w in zip(words, inks) if w.label]
        if not labelled:
            raise ValueError(f"score: {', '.join(args.files)} has no labelled words to score against")
        hyp, ref = zip(*labelled)
        print(f"character error rate {ctc.character_error_rate(hyp, ref):.4f}, word accuracy "
              f"{ctc.word_accuracy(hyp, ref):.4f} ({len(ref)} labelled words, read in {recognizer.language})",
              file=sys.stderr)
    if args.explain:
        from ..report.explain import explain_figure
        explain_figure(recognizer, inks[0], args.output)
    return 0
