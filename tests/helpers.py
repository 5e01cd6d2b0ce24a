"""Builders shared by the tests: twin layers with equal random weights on both backends; a short fit."""
import math

import torch

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
        loss = loss + (s * torch.linspace(-1, 1, s.numel(), dtype=s.dtype).view_as(s)).sum() * (k + 1)
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
