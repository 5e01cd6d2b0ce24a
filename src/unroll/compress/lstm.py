"""The online byte LSTM: predicts p(next byte) one step at a time, trains by truncated BPTT as it goes.

The backward pass is derived by hand (no autograd): the weight gradients of a whole truncation window
are one matrix product each, and only the recurrence runs step by step.
"""
import math

import torch
from torch import nn
from torch.nn import functional as F


class OnlineLSTM(nn.Module):
    """Byte embedding -> ``layers`` stacked LSTM layers (each sees the embedding and the layer below) ->
    softmax over 256 bytes from all layers' hidden states and the embedding.

    Runs ``batch`` streams in lockstep. ``step(x)`` with x (B,) int64 returns log-probabilities (B, 256)
    of each stream's next byte; ``learn(y)`` records the true bytes y (B,) and every ``truncation`` steps
    backpropagates the summed cross entropy / B through the window (``gradients``), takes one Adam
    step (beta1 = 0) and starts a new window from the current state. Gate columns: write (input),
    keep (forget), read (output), cell input.
    """

    def __init__(self, batch: int, hidden: int, layers: int, embedding: int, truncation: int,
                 lr: float, beta2: float, generator: torch.Generator, dtype=torch.float32):
        super().__init__()
        self.hidden, self.truncation = hidden, truncation
        self.embed = nn.Parameter((torch.randn(256, embedding, generator=generator) * 0.1).to(dtype))
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for layer in range(layers):
            fan_in = embedding + (hidden if layer else 0) + hidden
            bound = 1 / math.sqrt(hidden)
            w = (torch.rand(fan_in, 4 * hidden, generator=generator) * 2 - 1) * bound
            b = torch.zeros(4 * hidden)
            b[hidden:2 * hidden] = 1.0   # keep gate starts open
            self.weights.append(nn.Parameter(w.to(dtype)))
            self.biases.append(nn.Parameter(b.to(dtype)))
        self.out_weight = nn.Parameter(torch.zeros(layers * hidden + embedding, 256, dtype=dtype))
        self.out_bias = nn.Parameter(torch.zeros(256, dtype=dtype))
        self.requires_grad_(False)
        self.optimizer = torch.optim.Adam(self.parameters(), lr=lr, betas=(0.0, beta2), eps=1e-6,
                                          fused=True)
        self.new_streams(batch)

    def new_streams(self, batch: int) -> None:
        """Zero hidden and cell states for ``batch`` new streams; drop the unfinished truncation window."""
        self.batch = batch
        zeros = torch.zeros(batch, self.hidden, dtype=self.embed.dtype)
        self.state = [(zeros, zeros) for _ in self.weights]
        self._window, self._targets = [], []

    def step(self, x: torch.Tensor) -> torch.Tensor:
        """x (B,) int64, the bytes just seen -> log p(next byte), (B, 256)."""
        H = self.hidden
        e = self.embed[x]
        below, record, outs, new_state = e, [], [], []
        for layer, (w, b) in enumerate(zip(self.weights, self.biases)):
            h, c = self.state[layer]
            inp = torch.cat((below, h) if layer == 0 else (e, below, h), dim=1)
            a = torch.addmm(b, inp, w)
            gates = torch.sigmoid(a[:, :3 * H])
            cell_input = torch.tanh(a[:, 3 * H:])
            c_new = gates[:, H:2 * H] * c + gates[:, :H] * cell_input
            squashed = torch.tanh(c_new)
            h = gates[:, 2 * H:] * squashed
            record.append((inp, gates, cell_input, c, squashed))
            new_state.append((h, c_new))
            outs.append(h)
            below = h
        self.state = new_state
        top = torch.cat((*outs, e), dim=1)
        logp = F.log_softmax(torch.addmm(self.out_bias, top, self.out_weight), dim=1)
        self._window.append((x, top, logp, record))
        return logp

    def learn(self, y: torch.Tensor) -> None:
        """Record the true next bytes y (B,); update every ``truncation`` steps."""
        self._targets.append(y)
        if len(self._targets) == self.truncation:
            for p, g in zip(self.parameters(), self.gradients()):
                p.grad = g
            self.optimizer.step()
            self._window, self._targets = [], []

    def gradients(self) -> list[torch.Tensor]:
        """Gradients of sum over the window of -log p(y_t) / B, in ``parameters()`` order."""
        H, B, L = self.hidden, self.batch, len(self.weights)
        steps = len(self._targets)
        probs = torch.stack([logp for _, _, logp, _ in self._window]).exp()        # (T, B, 256)
        y = torch.stack(self._targets)
        d_logits = probs.scatter_add(2, y[:, :, None], torch.full_like(probs[:, :, :1], -1.0)) / B
        tops = torch.stack([top for _, top, _, _ in self._window])                  # (T, B, D)
        d_logits2, tops2 = d_logits.reshape(steps * B, 256), tops.reshape(steps * B, -1)
        g_out_w = tops2.T @ d_logits2
        g_out_b = d_logits2.sum(0)
        d_top = (d_logits2 @ self.out_weight.T).reshape(steps, B, -1)
        d_embed_rows = d_top[:, :, L * H:].clone()                                 # (T, B, E)
        d_a = [[None] * steps for _ in range(L)]
        d_h_next = [torch.zeros(B, H, dtype=probs.dtype) for _ in range(L)]
        d_c_next = [torch.zeros(B, H, dtype=probs.dtype) for _ in range(L)]
        E = self.embed.shape[1]
        for t in reversed(range(steps)):
            record = self._window[t][3]
            d_below = None
            for layer in reversed(range(L)):
                inp, gates, cell_input, c_prev, squashed = record[layer]
                write, keep, read = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:]
                d_h = d_top[t, :, layer * H:(layer + 1) * H] + d_h_next[layer]
                if d_below is not None:
                    d_h = d_h + d_below
                d_c = d_h * read * (1 - squashed * squashed) + d_c_next[layer]
                d_a_t = torch.cat((d_c * cell_input * write * (1 - write), d_c * c_prev * keep * (1 - keep),
                                   d_h * squashed * read * (1 - read),
                                   d_c * write * (1 - cell_input * cell_input)), dim=1)
                d_a[layer][t] = d_a_t
                d_inp = d_a_t @ self.weights[layer].T
                d_c_next[layer] = d_c * keep
                d_h_next[layer] = d_inp[:, -H:]
                d_embed_rows[t] += d_inp[:, :E]
                d_below = d_inp[:, E:E + H] if layer else None
        grads_w, grads_b = [], []
        for layer in range(L):
            inps = torch.cat([self._window[t][3][layer][0] for t in range(steps)])   # (T*B, fan_in)
            d_as = torch.cat(d_a[layer])                                              # (T*B, 4H)
            grads_w.append(inps.T @ d_as)
            grads_b.append(d_as.sum(0))
        xs = torch.cat([x for x, _, _, _ in self._window])
        g_embed = torch.zeros_like(self.embed).index_add_(0, xs, d_embed_rows.reshape(steps * B, E))
        return [g_embed, g_out_w, g_out_b, *grads_w, *grads_b]
