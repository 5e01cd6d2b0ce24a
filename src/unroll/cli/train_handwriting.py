"""unroll train handwriting: train the BLSTM/CTC ink recogniser on UNIPEN; unroll train handwriting-ensemble:
join trained recognisers into the ensemble that ships."""
from argparse import BooleanOptionalAction
from dataclasses import fields

from .options import add_global_options, positive_int


def add(train_parser) -> None:
    """Give ``unroll train`` its optional ``handwriting`` and ``handwriting-ensemble`` subcommands."""
    from ..train.handwriting import HandwritingConfig

    sub = train_parser.add_subparsers(title="applications", dest="application",
                                      metavar="{handwriting,handwriting-ensemble}",
                                      required=False)
    p = sub.add_parser(
        "handwriting", help="train the online handwriting recogniser (BLSTM + CTC) on UNIPEN words",
        description="Train the recogniser on UNIPEN category 6 words, split by writer; checkpoints go to --out "
                    "and a rerun resumes the newest; under torchrun the ranks share every batch. The defaults "
                    "reproduce the shipped model; --export writes "
                    "the trained model folder that 'unroll recognize --model' reads.")
    types = {int: positive_int, float: float, str: str}
    for f in fields(HandwritingConfig):
        if f.name == "seed":
            continue
        flag = "--" + f.name.replace("_", "-")
        if f.type in (bool, "bool"):
            p.add_argument(flag, action=BooleanOptionalAction, default=f.default,
                           help=f"{f.name} (default: {'on' if f.default else 'off'})")
        else:
            kind = {"int": int, "float": float, "str": str}.get(f.type, f.type)
            p.add_argument(flag, type=types[kind], default=f.default, metavar="X",
                           help=f"{f.name.replace('_', ' ')} (default: %(default)s)")
    p.add_argument("--out", metavar="DIR", default="out/handwriting",
                   help="checkpoints and the featurised-corpus cache (default: %(default)s)")
    p.add_argument("--export", metavar="DIR", help="write the final model here (recognizer.safetensors/.json)")
    p.set_defaults(run=_run)
    add_global_options(p)
    e = sub.add_parser(
        "handwriting-ensemble", help="join trained recognisers into one ensemble model folder",
        description="Join model folders written by 'unroll train handwriting --export' (one network each) into "
                    "one folder that 'unroll recognize --model' reads: the networks' weights in float16, each "
                    "word read by all of them (docs/handwriting.md), the decoders tuned on the validation "
                    "writers. The shipped model is such an ensemble.")
    e.add_argument("members", nargs="+", metavar="MEMBER", help="model folders, the first one the explain "
                   "picture's network")
    e.add_argument("--data", default=HandwritingConfig.data, help="UNIPEN folder (default: %(default)s)")
    e.add_argument("--export", metavar="DIR", required=True, help="write the ensemble's model folder here")
    e.set_defaults(run=_run_ensemble)
    add_global_options(e)


def _run(args) -> int:
    from ..train.handwriting import HandwritingConfig, train_handwriting

    names = [f.name for f in fields(HandwritingConfig) if f.name != "seed"]
    config = HandwritingConfig(**{n: getattr(args, n) for n in names},
                               **({} if args.seed is None else {"seed": args.seed}))
    record = train_handwriting(config, args.out, export=args.export, quiet=args.quiet, device=args.device)
    if not record:  # a rank other than 0 of a distributed run
        return 0
    print(f"trained {config.steps} steps; validation CER {record.get('val_cer', float('nan')):.4f}, "
          f"word accuracy {record.get('val_word_accuracy', float('nan')):.4f}"
          + (f"; model in {args.export}" if args.export else ""), flush=True)
    return 0


def _run_ensemble(args) -> int:
    from ..train.handwriting import export_ensemble

    log = (lambda s: None) if args.quiet else print
    decoding = export_ensemble(args.members, args.export, args.data, log)
    print(f"ensemble of {len(args.members)} networks in {args.export}; validation word accuracy with the "
          f"lexicon {decoding['word_accuracy']:.4f}", flush=True)
    return 0
