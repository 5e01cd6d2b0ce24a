"""A small training run for the tests: python fit_run.py OUT STEPS [--resume] [--checkpoint-every N].

Runs single-process or under torchrun; rank 0 writes OUT/final.safetensors with the final weights.
"""
import argparse
import os

import torch
from safetensors.torch import save_file

from unroll.data import make_task
from unroll.train import FitConfig, build_model, fit

parser = argparse.ArgumentParser()
parser.add_argument("out")
parser.add_argument("steps", type=int)
parser.add_argument("--resume", action="store_true")
parser.add_argument("--checkpoint-every", type=int, default=1)
parser.add_argument("--batch-size", type=int, default=16)
args = parser.parse_args()

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)
torch.manual_seed(0)
model = build_model("lstm", 2, 1, 8, dropout=0.0)
config = FitConfig(steps=args.steps, batch_size=args.batch_size, lr=3e-3, eval_every=10, eval_size=32,
                   checkpoint_every=args.checkpoint_every, keep_last=2, stop_when_solved=False,
                   clip_norm=1.0)
result = fit(model, make_task("recall", length=12), config, out_dir=args.out, resume=args.resume, quiet=True)
assert not torch.distributed.is_initialized(), "the process group outlived the training (gloo aborts at exit)"
if os.environ.get("RANK", "0") != "0":
    raise SystemExit(0)
save_file({k: v.contiguous() for k, v in model.state_dict().items()}, f"{args.out}/final.safetensors")
