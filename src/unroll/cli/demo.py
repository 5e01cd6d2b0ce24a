"""unroll demo: a small LSTM learns to recall a marked bit; prints the loss falling."""


def add(commands) -> None:
    p = commands.add_parser("demo", help="train a small LSTM to recall a marked bit across a noisy sequence",
                            description="Train a small LSTM to recall, at the last of 20 noisy steps, the "
                                        "bit marked in the first half; prints the loss falling.")
    p.add_argument("--steps", type=int, default=500, help="Adam updates (default: 500)")
    p.set_defaults(run=_run_demo)


def _run_demo(args) -> int:
    import torch

    from .. import demo

    if args.device != "cpu":
        raise ValueError(f"device: the demo runs on the CPU only, got {args.device!r}")
    if args.threads is None:
        torch.set_num_threads(1)
    r = demo.run(args.steps, 0 if args.seed is None else args.seed, quiet=args.quiet)
    print(f"recalled the marked bit in {r.history[-1]['accuracy']:.1%} of {demo.EVAL_SIZE} held-out "
          f"sequences after {r.steps} updates ({r.seconds:.1f} s; chance is 50%)")
    return 0
