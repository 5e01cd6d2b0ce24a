"""unroll tour: every experiment of the seed reproduced, checked and drawn into one report."""
from .options import positive_int


def add(commands) -> None:
    from ..experiments.tour import SECTIONS

    p = commands.add_parser(
        "tour", help="reproduce, check and draw every experiment of the seed (the main job)",
        description="Run the seed's experiments in order (" + ", ".join(SECTIONS) + "), check each claim "
                    "numerically and draw it. Writes DIR/index.html (figures embedded), each figure as "
                    "PNG and every number in DIR/results.json. About 5 minutes on 2 CPU cores; --quick "
                    "under one minute.")
    p.add_argument("--out", metavar="DIR", default="out/tour", help="output directory (default: %(default)s)")
    p.add_argument("--quick", action="store_true", help="shrunken runs: under a minute, same claims")
    p.add_argument("--only", metavar="KEYS", type=_keys,
                   help="comma-separated sections to run, e.g. cliff,vanishing (default: all)")
    p.add_argument("--time-scale", type=positive_int, metavar="N",
                   help="timer pulse length factor: pulses last N x u2 steps (default: the tour's own)")
    p.set_defaults(run=_run_tour)


def _keys(text: str) -> list[str]:
    return [k.strip() for k in text.split(",") if k.strip()]


def _run_tour(args) -> int:
    from ..experiments.tour import run_tour

    if args.device != "cpu":
        raise ValueError(f"device: the tour runs on the CPU, got {args.device!r}")
    sections = run_tour(args.out, quick=args.quick, only=args.only, seed=args.seed or 0,
                        time_scale=args.time_scale, quiet=args.quiet)
    held = sum(s.holds for s in sections)
    print(f"{held} of {len(sections)} claims hold; report: {args.out}/index.html", flush=True)
    return 0
