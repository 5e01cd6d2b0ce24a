"""Gauss-Newton matrix-vector products G v = J^T H_L J v by the double-vjp trick, plus structural damping.

z = f(theta) are the network's outputs before the output nonlinearity (linear outputs, logits of a
logistic or softmax unit), L(z) the loss that matches that nonlinearity (squared error, binary or
categorical cross-entropy), so H_L = d^2 L / dz^2 is positive semi-definite and G is too.
J v comes from differentiating J^T u (built once with create_graph) with respect to u, which needs
double backward through the model: the engine's reference path has it, the fused path refuses it.
"""
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch


@dataclass
class Curvature:
    """What the curvature minibatch gives: ``outputs`` z (any shape, with the autograd graph to the
    parameters), ``loss`` a function z -> scalar loss (a matching loss), and optionally ``hidden``, the
    hidden states (a tensor or a sequence of tensors, with graph) that structural damping holds still,
    with ``cases``, the number of sequences in the batch (the structural penalty is averaged over them)."""
    outputs: torch.Tensor
    loss: Callable[[torch.Tensor], torch.Tensor]
    hidden: torch.Tensor | Sequence[torch.Tensor] | None = None
    cases: int | None = None

    def __post_init__(self):
        if isinstance(self.hidden, torch.Tensor):
            self.hidden = [self.hidden]
        self.hidden = list(self.hidden or [])
        if self.hidden and not (isinstance(self.cases, int) and self.cases > 0):
            raise ValueError(f"cases: expected a positive int with hidden states given, got {self.cases!r}")


class GaussNewton:
    """Products with the Gauss-Newton matrix of a ``Curvature`` batch, for parameters ``params``.

    ``product(v, mu_lambda)`` -> G v + mu_lambda * S v, where S v = J_h^T J_h v / cases is the Gauss-Newton
    matrix of the penalty 1/2 sum ||h(theta + d) - h(theta)||^2 / cases (Martens & Sutskever 2011, with a squared
    distance on the hidden states). v and the results are flat (n,) vectors over ``params`` in order.
    """

    def __init__(self, params: Sequence[torch.Tensor], curvature: Curvature):
        self.params = list(params)
        self.curvature = curvature
        self.outputs = [curvature.outputs, *curvature.hidden]
        self._probes = [torch.zeros_like(o, requires_grad=True) for o in self.outputs]
        grads = torch.autograd.grad(self.outputs, self.params, self._probes, create_graph=True, allow_unused=True)
        self._jt_probe = [g if g is not None else torch.zeros_like(p) for g, p in zip(grads, self.params)]
        self._z = curvature.outputs.detach().requires_grad_(True)
        with torch.enable_grad():
            self._loss_grad = torch.autograd.grad(curvature.loss(self._z), self._z, create_graph=True)[0]

    def jacobian_products(self, v: torch.Tensor) -> list[torch.Tensor]:
        """[J_z v, J_h1 v, ...]: the directional derivatives of the outputs and hidden states along v."""
        vs = unflatten_like(v, self.params)
        dots = sum((g * w).sum() for g, w in zip(self._jt_probe, vs))
        return list(torch.autograd.grad(dots, self._probes, retain_graph=True, allow_unused=True))

    def loss_hessian(self, w: torch.Tensor) -> torch.Tensor:
        """H_L w for w shaped like the outputs."""
        if not self._loss_grad.requires_grad:     # L is linear in z
            return torch.zeros_like(w)
        (hw,) = torch.autograd.grad(self._loss_grad, self._z, w, retain_graph=True, allow_unused=True)
        return torch.zeros_like(w) if hw is None else hw

    def transpose_products(self, ws: Sequence[torch.Tensor]) -> torch.Tensor:
        """sum_k J_k^T w_k over the outputs and hidden states, flat (n,)."""
        grads = torch.autograd.grad(self.outputs, self.params, list(ws), retain_graph=True, allow_unused=True)
        return flatten_like(grads, self.params)

    def product(self, v: torch.Tensor, structural_weight: float = 0.0) -> torch.Tensor:
        """G v + structural_weight * S v, flat (n,)."""
        jv = self.jacobian_products(v)
        ws = [self.loss_hessian(_zero_if_none(jv[0], self.outputs[0]))]
        scale = structural_weight / self.curvature.cases if self.curvature.hidden else 0.0
        ws += [_zero_if_none(jh, h) * scale for jh, h in zip(jv[1:], self.outputs[1:])]
        return self.transpose_products(ws)


def _zero_if_none(t, like):
    return torch.zeros_like(like) if t is None else t


def flatten_like(tensors, params) -> torch.Tensor:
    """One flat (n,) vector of per-parameter tensors (None counts as zeros), in the order of params."""
    return torch.cat([(t if t is not None else torch.zeros_like(p)).reshape(-1) for t, p in zip(tensors, params)])


def unflatten_like(v: torch.Tensor, params) -> list[torch.Tensor]:
    """Views of the flat (n,) vector v shaped like each of params."""
    out, at = [], 0
    for p in params:
        out.append(v[at:at + p.numel()].view_as(p))
        at += p.numel()
    return out
