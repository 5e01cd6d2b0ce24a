"""A small recogniser training run for the tests: python handwriting_run.py OUT STEPS [DEVICE [BACKEND]].

Runs alone or under torchrun on synthetic Hershey words; rank 0 writes its checkpoint to OUT.
"""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from helpers import synthetic_ink_corpus  # noqa: E402

from unroll.train.handwriting import HandwritingConfig, train_handwriting  # noqa: E402

torch.set_num_threads(1)
torch.backends.cudnn.allow_tf32 = False     # cuDNN's LSTM in full float32, to compare with the CPU
config = HandwritingConfig(hidden_size=8, num_layers=1, steps=int(sys.argv[2]), lr=1e-2, warmup=2,
                           steps_per_batch=400, eval_every=1000, checkpoint_every=1000,
                           backend=sys.argv[4] if len(sys.argv) > 4 else "fused")
train_handwriting(config, sys.argv[1], quiet=True, log=lambda s: None, corpus=synthetic_ink_corpus(),
                  device=sys.argv[3] if len(sys.argv) > 3 else "cpu")
assert not torch.distributed.is_initialized(), "the process group outlived the training (gloo aborts at exit)"
