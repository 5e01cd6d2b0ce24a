"""One Hessian-free update inside ``fit``: the closures HessianFree needs, built from a model and a task.

The gradient closure is the task's loss on the training batch (the model's default path, fused or not);
the curvature closure runs the model on a separate curvature batch, returns its outputs (logits or linear
outputs, which the task's loss matches) and the hidden-state sequences of the engine's recurrent layers
(the modules with a ``backend``) for structural damping.
"""
import torch

from ..optim import Curvature, HessianFree


def make_hessian_free(model: torch.nn.Module, config) -> HessianFree:
    """The HessianFree optimiser of a FitConfig (optimizer="hessian-free")."""
    return HessianFree(model.parameters(), damping=config.hf_damping, structural_damping=config.hf_structural,
                       weight_decay=config.weight_decay, max_cg_iters=config.hf_cg_iters, lr=config.lr, model=model)


def hessian_free_update(model, task, x, y, optimizer: HessianFree, curvature_batch) -> tuple[float, float]:
    """One HF iteration on the training batch (x, y) with curvature on ``curvature_batch`` = (x_c, y_c).

    x: (T, B, I). Returns (training loss before the update, gradient norm)."""
    xc, yc = curvature_batch

    def closure():
        return task.loss(model(x)[0], y)

    def curvature():
        hidden, hooks = [], [m.register_forward_hook(lambda _m, _in, out: hidden.append(out[0]))
                             for m in model.modules() if hasattr(m, "backend")]
        try:
            outputs, _ = model(xc)
        finally:
            for hook in hooks:
                hook.remove()
        return Curvature(outputs, lambda z: task.loss(z, yc), hidden=hidden, cases=xc.shape[1])

    loss = optimizer.step(closure, curvature)
    return loss.item(), optimizer.last["grad_norm"]
