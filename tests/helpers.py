"""Builders shared by the tests: twin layers with equal random weights on both backends; a short fit;
synthetic ink words; marker positions in a sequence mask."""
import math
import os
import socket
import subprocess
import sys

import torch

from unroll.data.ink.hershey import synthesize
from unroll.data.ink.preprocess import ink_to_features
from unroll.handwriting.corpus import Corpus, split_of

from unroll.train import FitConfig, build_model, fit


def twin_layers(kind, *args, **kwargs):
    """(reference, fused) layers of one kind with the same random float64 weights (N(0, 0.5))."""
    torch.manual_seed(0)
    ref = kind(*args, backend="reference", dtype=torch.float64, **kwargs)
    with torch.no_grad():
        for p in ref.parameters():
            p.normal_(0, 0.5)
    fused = kind(*args, backend="fused", dtype=torch.float64, **kwargs)
    fused.load_state_dict(ref.state_dict())
    return ref, fused


def loss_of(output, state):
    """A loss that weighs every output and final-state entry differently."""
    states = state if isinstance(state, tuple) else (state,)
    loss = (output ** 2).sum() + output.sin().sum()
    for k, s in enumerate(states):
        loss = loss + (s * torch.linspace(-1, 1, s.numel(), dtype=s.dtype, device=s.device).view_as(s)).sum() * (k + 1)
    return loss


def run_with_grads(layer, x, **kwargs):
    """Output, final state and the gradients of every parameter and of x under ``loss_of``."""
    x = x.clone().requires_grad_(True)
    out, state = layer(x, **kwargs)
    grads = torch.autograd.grad(loss_of(out, state), [x, *layer.parameters()])
    return out, state, grads


def last_record_of_three_steps(task) -> dict:
    """Train a small LSTM on ``task`` for three steps with fit(); checks the run finished with a finite
    evaluation loss and returns that evaluation's record."""
    torch.manual_seed(0)
    model = build_model("lstm", task.input_size, task.output_size, 8)
    result = fit(model, task, FitConfig(steps=3, batch_size=8, eval_every=3, eval_size=16), quiet=True)
    assert result.steps == 3 and math.isfinite(result.history[-1]["eval_loss"])
    return result.history[-1]


def synthetic_ink_corpus(spacing=0.35):
    """Hershey words by 24 synthetic writers, keyed so that both train and val splits have writers."""
    words = ["cat", "dog", "act", "god", "cog", "tag"]
    keys = [k for k in (f"syn/w{i}" for i in range(400)) if split_of(k) == "train"][:20]
    keys += [k for k in (f"syn/w{i}" for i in range(400)) if split_of(k) == "val"][:4]
    feats, labels, writers = [], [], []
    for n, key in enumerate(keys):
        for j, w in enumerate(words):
            feats.append(ink_to_features(synthesize(w, seed=100 * n + j), spacing))
            labels.append(w)
            writers.append(key)
    return Corpus(feats, labels, writers)


def torchrun(script, *args, processes: int = 2, timeout: int = 300) -> None:
    """Run ``script args`` as ``processes`` ranks under torchrun on this machine (one thread each);
    an assertion with torchrun's stderr if it fails."""
    with socket.socket() as s:          # a port nobody listens on, for the rendezvous
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={processes}",
                           "--master_addr=127.0.0.1", f"--master_port={port}", str(script), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=dict(os.environ, OMP_NUM_THREADS="1"))
    shown = done.stderr if len(done.stderr) < 6000 else f"{done.stderr[:3000]}\n[...]\n{done.stderr[-3000:]}"
    assert done.returncode == 0, f"torchrun exited {done.returncode}:\n{shown}"


def positions(mask, k):
    """The k time indices (ascending) where each column of a (T, B) bool mask is set, (k, B)."""
    steps = torch.arange(mask.shape[0]).unsqueeze(1).expand_as(mask)
    return torch.where(mask, steps, mask.shape[0]).sort(0).values[:k]
