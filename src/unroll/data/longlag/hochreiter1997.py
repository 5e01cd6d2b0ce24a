"""The long-time-lag problems of Hochreiter & Schmidhuber 1997 (LSTM paper), as that paper defined them.

Variants (registry names): "adding-1997" (Exp 4), "multiplication-1997" (Exp 5), "temporal-order-2bit-1997"
(Exp 6a), "temporal-order-3bit-1997" (Exp 6b), "two-sequence-1997" (Exp 3a), "embedded-reber-1997" (Exp 1).
Definitions and numbers: shared/specs/longlag.md, section "Hochreiter & Schmidhuber 1997" [paper].

Deviations shared by all variants, forced by batched training (the paper trained online, one sequence at a
time): where the paper draws each sequence's length L ~ U{T..T+T/10}, one L is drawn per batch and every
sequence of the batch has it, so no padding is needed (as Pascanu et al.'s code does); the paper's stopping
rules, stated on the most recent training sequences, are judged on ``fit``'s evaluation batch instead.
The model's outputs are read as they come. The paper's output units were logistic sigmoids trained on
squared error; every target here lies in [0, 1] (``unit_interval_targets``), so a model with logistic
outputs (``SequenceModel(..., logistic_output=True)``, as the ``lstm-1997`` method builds) is the paper's.
The embedded Reber grammar's loss takes logits instead (see its class).
"""
import torch
from torch.nn import functional as F

from ...checks import int_at_least, positive_int
from ..task import Task, fraction, register_task

PAPER = 'S. Hochreiter and J. Schmidhuber, "Long short-term memory", Neural Computation 9(8), 1997'


def _draw_length(T: int, generator: torch.Generator) -> int:
    """One sequence length for the whole batch, L ~ U{T..T+T//10}."""
    return int(torch.randint(T, T + T // 10 + 1, (1,), generator=generator))


class _MarkedPairs1997(Task):
    """Exp 4 / Exp 5 layout: x (L, B, 2) = [value, marker], L ~ U{T..T+T//10} (one L per batch).

    Marker channel: 1.0 at the two marked steps, -1.0 at t=0 and t=L-1, 0 elsewhere. The first mark i1 ~ U{0..9};
    the second is uniform over "the first T/2-1 still unmarked pairs" (the paper's words), i.e. over
    {0..T//2-1} minus {i1} (T//2-1 positions). If i1 == 0 the first pair is marked (marker 1.0, not -1) and its
    value is overwritten with the variant's neutral X1 (0 for adding, 1 for multiplication) - the input shows
    the value the target uses. The second mark may also land on t=0 (when i1 != 0): that pair is marked 1.0
    too, but its value X2 is kept (the spec neutralises X1 only, for i1 == 0).
    Target: (B,) float, one number per sequence at the last step, read from output unit 0 at step L-1.
    Loss: squared error there, mean over sequences. A sequence is wrong when |output - target| >= 0.04 (the
    paper's "correct if the absolute error is below 0.04").
    """
    input_size, output_size = 2, 1
    tolerance = 0.04
    unit_interval_targets = True
    first_value_when_at_zero: float

    def __init__(self, length: int = 100):
        self.length = int_at_least("length", length, 11)     # i1 <= 9 must lie before the end marker at L-1 >= 10

    def _values(self, L: int, size: int, generator: torch.Generator) -> torch.Tensor:
        raise NotImplementedError

    def _combine(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def batch(self, size: int, generator: torch.Generator):
        L = _draw_length(self.length, generator)
        rows = torch.arange(size)
        values = self._values(L, size, generator)
        i1 = torch.randint(0, 10, (size,), generator=generator)
        r = torch.randint(0, self.length // 2 - 1, (size,), generator=generator)
        i2 = r + (r >= i1).long()                  # the r-th unmarked position among {0..T//2-1} \ {i1}
        marker = torch.zeros(L, size)
        marker[0], marker[L - 1] = -1.0, -1.0
        marker[i1, rows], marker[i2, rows] = 1.0, 1.0
        values[0] = torch.where(i1 == 0, torch.full((size,), self.first_value_when_at_zero), values[0])
        x = torch.stack([values, marker], dim=-1)
        return x, self._combine(values[i1, rows], values[i2, rows])

    def loss(self, output, target):
        return ((output[-1, :, 0] - target) ** 2).mean()

    def metrics(self, output, target):
        err = (output[-1, :, 0] - target).abs()
        wrong = fraction(err >= self.tolerance)
        return {"error_rate": wrong, "accuracy": 1.0 - wrong, "mse": (err ** 2).mean().item(),
                "mean_abs_error": err.mean().item()}


class Adding1997(_MarkedPairs1997):
    """Hochreiter & Schmidhuber 1997, Exp 4, the adding problem (the 1997 variant, not Martens 2011's).

    Values ~ U[-1, 1]; target 0.5 + (X1 + X2) / 4 (in [0, 1]); if i1 == 0, X1 := 0. Layout, loss and the
    per-sequence criterion (wrong when |err| >= 0.04): see the base class. Solved (the paper's stopping rule
    "mean training error < 0.01 and the last 2000 sequences all correct", judged on the evaluation batch):
    error_rate == 0 and mse < 0.01 (mse: mean squared error at the last step).
    """
    name = "adding-1997"
    citation = PAPER + ", Exp. 4 (adding)"
    first_value_when_at_zero = 0.0

    def _values(self, L, size, generator):
        return torch.rand(L, size, generator=generator) * 2 - 1

    def _combine(self, x1, x2):
        return 0.5 + (x1 + x2) / 4

    def solved(self, metrics):
        return metrics["error_rate"] == 0 and metrics["mse"] < 0.01


class Multiplication1997(_MarkedPairs1997):
    """Hochreiter & Schmidhuber 1997, Exp 5, the multiplication problem (the 1997 variant).

    Values ~ U[0, 1]; target X1 * X2; if i1 == 0, X1 := 1. Layout, loss and the per-sequence criterion (wrong
    when |err| >= 0.04, as in Exp 4): see the base class. Solved: mse < 0.01 and error_rate <= ``max_wrong``.
    The published 482,000 sequences at T=100 ended with 139/2560 test sequences wrong, so the paper's rule
    tolerated errors: we read it (from the paper, not from the spec) as "at most n_seq = 140 of the last 2000
    sequences wrong", hence the default max_wrong = 140/2000 = 0.07; max_wrong=0 asks for Exp 4's strict rule.
    """
    name = "multiplication-1997"
    citation = PAPER + ", Exp. 5 (multiplication)"
    first_value_when_at_zero = 1.0

    def __init__(self, length: int = 100, max_wrong: float = 140 / 2000):
        super().__init__(length)
        if isinstance(max_wrong, bool) or not isinstance(max_wrong, (int, float)) or not 0 <= max_wrong < 1:
            raise ValueError(f"max_wrong: expected a fraction in [0, 1), got {max_wrong!r}")
        self.max_wrong = float(max_wrong)

    def _values(self, L, size, generator):
        return torch.rand(L, size, generator=generator)

    def _combine(self, x1, x2):
        return x1 * x2

    def solved(self, metrics):
        return metrics["error_rate"] <= self.max_wrong and metrics["mse"] < 0.01


TEMPORAL_SYMBOLS = "abcdBEXY"     # one-hot input index of each symbol


class _TemporalOrder1997(Task):
    """Hochreiter & Schmidhuber 1997, Exp 6: classify the order of X/Y symbols hidden among distractors.

    x: (L, B, 8) one-hot over the symbols a, b, c, d, B, E, X, Y (in that order); L ~ U{T..T+T//10} (one L per
    batch); seq[0] = E, seq[L-1] = B, every other step a distractor from {a, b, c, d}, except at the relevant
    positions t_k ~ U{lo_k..hi_k} (both ends included), which hold X or Y (each with probability 1/2). The paper
    fixes T = 100 with windows [10, 20], [50, 60] (6a) or [10, 20], [33, 43], [66, 76] (6b); for other T the
    windows scale as [T*lo//100, T*hi//100] (our extension; exact at T=100). Class = the X/Y string read as
    binary digits (X=0, Y=1), first position most significant: 6a XX=0, XY=1, YX=2, YY=3.
    Target: (B,) int64 class. Output: one unit per class read at step L-1, target 1 for the class and 0 for the
    others (the paper's one-output-per-class coding). Loss: squared error summed over the K outputs, mean over
    sequences. A sequence is correct when every output's |err| < 0.3. Solved: error_rate == 0 on the
    evaluation batch.
    """
    input_size = 8
    output_size: int                # 2 ** len(windows)
    unit_interval_targets = True
    windows: tuple[tuple[int, int], ...]
    tolerance = 0.3

    def __init__(self, length: int = 100):
        self.length = int_at_least("length", length, 10)
        self.positions = tuple((self.length * lo // 100, self.length * hi // 100) for lo, hi in self.windows)

    def batch(self, size: int, generator: torch.Generator):
        L = _draw_length(self.length, generator)
        rows = torch.arange(size)
        symbols = torch.randint(0, 4, (L, size), generator=generator)      # distractors a..d
        symbols[0], symbols[L - 1] = TEMPORAL_SYMBOLS.index("E"), TEMPORAL_SYMBOLS.index("B")
        label = torch.zeros(size, dtype=torch.long)
        for lo, hi in self.positions:
            t = torch.randint(lo, hi + 1, (size,), generator=generator)
            bit = torch.randint(0, 2, (size,), generator=generator)
            symbols[t, rows] = TEMPORAL_SYMBOLS.index("X") + bit
            label = 2 * label + bit
        return F.one_hot(symbols, 8).float(), label

    def _errors(self, output, target):
        return output[-1] - F.one_hot(target, self.output_size).to(output.dtype)

    def loss(self, output, target):
        return (self._errors(output, target) ** 2).sum(-1).mean()

    def metrics(self, output, target):
        err = self._errors(output, target)
        wrong = fraction((err.abs() >= self.tolerance).any(-1))
        return {"error_rate": wrong, "accuracy": 1.0 - wrong, "mse": (err ** 2).mean().item(),
                "argmax_accuracy": (output[-1].argmax(-1) == target).float().mean().item()}

    def solved(self, metrics):
        return metrics["error_rate"] == 0


class TemporalOrder2Bit1997(_TemporalOrder1997):
    __doc__ = _TemporalOrder1997.__doc__.replace("Exp 6:", "Exp 6a (2 bits, 4 classes):", 1)
    name = "temporal-order-2bit-1997"
    citation = PAPER + ", Exp. 6a (temporal order, 4 classes)"
    windows = ((10, 20), (50, 60))
    output_size = 4


class TemporalOrder3Bit1997(_TemporalOrder1997):
    __doc__ = _TemporalOrder1997.__doc__.replace("Exp 6:", "Exp 6b (3 bits, 8 classes):", 1)
    name = "temporal-order-3bit-1997"
    citation = PAPER + ", Exp. 6b (temporal order, 8 classes)"
    windows = ((10, 20), (33, 43), (66, 76))
    output_size = 8


class TwoSequence1997(Task):
    """Hochreiter & Schmidhuber 1997, Exp 3a, the two-sequence problem (Bengio et al.'s, with long lags).

    x: (L, B, 1), L ~ U{T..T+T//10} (one L per batch). Class 1 (target 1.0): the first N values are +1; class 2
    (target 0.0): they are -1; every later value is Gaussian noise with mean 0 and variance 0.2. Classes equally
    likely. Target: (B,) float, read from output unit 0 at step L-1. Loss: squared error there, mean over
    sequences. A sequence is correct when |err| < 0.2. Solved: error_rate == 0 on the evaluation batch (the spec
    gives no mean-error part for this experiment).
    """
    name = "two-sequence-1997"
    citation = PAPER + ", Exp. 3a (two-sequence problem)"
    input_size, output_size = 1, 1
    tolerance = 0.2
    unit_interval_targets = True
    noise_variance = 0.2

    def __init__(self, length: int = 100, n: int = 3):
        positive_int("n", n)
        self.length, self.n = int_at_least("length", length, n + 1), n

    def batch(self, size: int, generator: torch.Generator):
        L = _draw_length(self.length, generator)
        target = torch.randint(0, 2, (size,), generator=generator).float()
        x = torch.randn(L, size, generator=generator) * self.noise_variance ** 0.5
        x[:self.n] = 2 * target - 1
        return x.unsqueeze(-1), target

    def loss(self, output, target):
        return ((output[-1, :, 0] - target) ** 2).mean()

    def metrics(self, output, target):
        err = (output[-1, :, 0] - target).abs()
        wrong = fraction(err >= self.tolerance)
        return {"error_rate": wrong, "accuracy": 1.0 - wrong, "mse": (err ** 2).mean().item()}

    def solved(self, metrics):
        return metrics["error_rate"] == 0


REBER_SYMBOLS = "BTPSXVE"
_END = 11
# The embedded grammar as one automaton: state -> ((symbol, next state) for choice 0, for choice 1).
# 0: outer start; 1: the first c; 2..8: the inner Reber graph's states 0..6 (spec: start-B->1; 1-T->2, 1-P->3;
# 2-S->2, 2-X->4; 3-T->3, 3-V->5; 4-X->3, 4-S->6; 5-P->4, 5-V->6; 6-E->end); 9: the second c (it repeats the
# first, symbol filled in per string); 10: the final E; 11: end.
_GRAPH = {0: (("B", 1), ("B", 1)), 1: (("T", 2), ("P", 2)), 2: (("B", 3), ("B", 3)),
          3: (("T", 4), ("P", 5)), 4: (("S", 4), ("X", 6)), 5: (("T", 5), ("V", 7)),
          6: (("X", 5), ("S", 8)), 7: (("P", 6), ("V", 8)), 8: (("E", 9), ("E", 9)),
          9: (("T", 10), ("T", 10)), 10: (("E", _END), ("E", _END))}
_EMIT = torch.tensor([[REBER_SYMBOLS.index(_GRAPH[s][c][0]) for c in (0, 1)] for s in range(_END)] + [[0, 0]])
_NEXT = torch.tensor([[_GRAPH[s][c][1] for c in (0, 1)] for s in range(_END)] + [[_END, _END]])
_LEGAL = torch.zeros(_END + 1, 7)
for _s in range(_END):
    _LEGAL[_s, _EMIT[_s]] = 1.0
_MIN_REBER = 9        # B c B T X S E c E


class EmbeddedReber1997(Task):
    """Hochreiter & Schmidhuber 1997, Exp 1, the embedded Reber grammar: next-symbol prediction.

    Strings B, c, <Reber string>, c, E with c in {T, P} (the same c twice); every choice in the graph has
    probability 1/2. x: (T, B, 7) one-hot over B, T, P, S, X, V, E (in that order), T = the longest string
    of the batch; shorter strings are followed by all-zero inputs. ``length``: None (no limit) or the longest
    string allowed, strings longer are drawn again (so the distribution is the grammar's conditioned on
    length <= ``length``); the embedded strings are at least 9 symbols long. Strings vary in length within a
    batch (the grammar decides it), so this task pads instead of drawing one length per batch.
    Target: (T, B, 15) per step (target_batch_dim 1) = [the actual next symbol, one-hot (7) | the legal next
    symbols, multi-hot (7) | 1 where step t has a next symbol (1)]. Step t (input: symbol t) predicts symbol
    t+1; the last symbol and the padding are not scored.
    Loss: as in the paper, one logistic output per symbol trained towards the actual next symbol (so each
    output learns that symbol's probability), here by binary cross-entropy on the 7 logits (the paper used
    squared error on sigmoid units; same minimiser), summed over outputs and scored steps, divided by the
    number of strings (so losses of time chunks add up to the whole sequence's, as truncated BPTT needs).
    A string is correct when at every scored step the legal next symbols are the most active outputs: with
    k = the number of legal symbols, the top-k outputs are exactly those (strictly: the least active legal
    output above the most active illegal one; a tie counts wrong). Solved: error_rate == 0 on the evaluation
    batch. The paper trained on a fixed set of 256 strings and tested on 256 others; here every batch is fresh.
    """
    name = "embedded-reber-1997"
    citation = PAPER + ", Exp. 1 (embedded Reber grammar)"
    input_size, output_size = 7, 7
    target_batch_dim = 1

    def __init__(self, length: int | None = None):
        self.length = None if length is None else int_at_least("length", length, _MIN_REBER)

    def _strings(self, size: int, generator: torch.Generator):
        """size strings: symbols (S, size) (-1 after a string's end), the automaton state after each symbol
        (S, size), whether each string ended within ``length`` (size,), and its c symbol index (size,)."""
        state = torch.zeros(size, dtype=torch.long)
        c = torch.zeros(size, dtype=torch.long)
        symbols, states = [], []
        while (state != _END).any() and (self.length is None or len(symbols) < self.length):
            choice = (torch.rand(size, generator=generator) < 0.5).long()
            active = state != _END
            emit = torch.where(state == 9, c, _EMIT[state, choice])
            c = torch.where(state == 1, emit, c)
            state = torch.where(active, _NEXT[state, choice], state)
            symbols.append(torch.where(active, emit, -1))
            states.append(state)
        symbols, states = torch.stack(symbols), torch.stack(states)
        return symbols, states, (state == _END), c

    def batch(self, size: int, generator: torch.Generator):
        symbols, states, done, c = self._strings(size, generator)
        while not done.all():                       # redraw the strings longer than self.length
            redo = (~done).nonzero().squeeze(1)
            s2, st2, d2, c2 = self._strings(len(redo), generator)
            grow = s2.shape[0] - symbols.shape[0]
            if grow > 0:
                symbols = torch.cat([symbols, torch.full((grow, size), -1)])
                states = torch.cat([states, torch.full((grow, size), _END)])
            symbols[:, redo], states[:, redo] = -1, _END
            symbols[:s2.shape[0], redo], states[:s2.shape[0], redo] = s2, st2
            done[redo], c[redo] = d2, c2
        T = int((symbols >= 0).sum(0).max())
        symbols, states = symbols[:T], states[:T]
        x = F.one_hot(symbols.clamp(min=0), 7).float() * (symbols >= 0).unsqueeze(-1)
        following = torch.cat([symbols[1:], torch.full((1, size), -1)])
        scored = following >= 0
        legal = torch.where((states == 9).unsqueeze(-1), F.one_hot(c, 7).float().expand(T, size, 7),
                            _LEGAL[states])
        nxt = F.one_hot(following.clamp(min=0), 7).float() * scored.unsqueeze(-1)
        target = torch.cat([nxt, legal * scored.unsqueeze(-1), scored.unsqueeze(-1).float()], dim=-1)
        return x, target

    def loss(self, output, target):
        nxt, scored = target[..., :7], target[..., 14]
        bce = F.binary_cross_entropy_with_logits(output, nxt, reduction="none").sum(-1)
        return (bce * scored).sum() / target.shape[1]

    def step_correct(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """(T, B) bool: the legal next symbols are strictly the most active outputs (True at unscored steps)."""
        legal, scored = target[..., 7:14] > 0, target[..., 14] > 0
        inf = torch.tensor(float("inf"), dtype=output.dtype)
        least_legal = torch.where(legal, output, inf).amin(-1)
        most_illegal = torch.where(legal, -inf, output).amax(-1)
        return (least_legal > most_illegal) | ~scored

    def metrics(self, output, target):
        ok, scored = self.step_correct(output, target), target[..., 14] > 0
        wrong = fraction(~ok.all(0))
        # the long-lag step: the one whose legal set is the remembered c alone, right after the inner E
        legal = target[..., 7:14]
        last_c = scored & (legal.sum(-1) == 1) & (legal[..., 1:3].sum(-1) == 1)
        return {"error_rate": wrong, "accuracy": 1.0 - wrong,
                "step_accuracy": (ok & scored).sum().item() / max(scored.sum().item(), 1),
                "c_accuracy": (ok | ~last_c).all(0).float().mean().item()}

    def solved(self, metrics):
        return metrics["error_rate"] == 0


TASKS = (Adding1997, Multiplication1997, TemporalOrder2Bit1997, TemporalOrder3Bit1997, TwoSequence1997,
         EmbeddedReber1997)
for _task in TASKS:
    register_task(_task.name, _task)

_SRC = "Hochreiter & Schmidhuber 1997"
_LSTM = "LSTM (1997, online gradient descent)"
PUBLISHED = [
    # Table 1: LSTM architectures solved every trial; the fastest and slowest mean sequences to success.
    {"task": "embedded-reber-1997", "length": None, "method": _LSTM + ", fastest architecture", "figure": 8440,
     "unit": "sequences to success", "source": _SRC + ", Table 1"},
    {"task": "embedded-reber-1997", "length": None, "method": _LSTM + ", slowest architecture", "figure": 39740,
     "unit": "sequences to success", "source": _SRC + ", Table 1"},
    {"task": "embedded-reber-1997", "length": None, "method": _LSTM, "figure": 1.0,
     "unit": "success rate", "source": _SRC + ", Table 1"},
    {"task": "embedded-reber-1997", "length": None, "method": "Elman net", "figure": 0.0,
     "unit": "success rate", "source": _SRC + ", Table 1"},
    {"task": "two-sequence-1997", "length": 100, "method": _LSTM + ", N=3", "figure": 27380,
     "unit": "sequences to success", "source": _SRC + ", Exp. 3a"},
    {"task": "two-sequence-1997", "length": 1000, "method": _LSTM + ", N=3", "figure": 446850,
     "unit": "sequences to success", "source": _SRC + ", Exp. 3a"},
    {"task": "adding-1997", "length": 100, "method": _LSTM, "figure": 74000,
     "unit": "sequences to success", "source": _SRC + ", Table 7"},
    {"task": "adding-1997", "length": 500, "method": _LSTM, "figure": 209000,
     "unit": "sequences to success", "source": _SRC + ", Table 7"},
    {"task": "adding-1997", "length": 1000, "method": _LSTM, "figure": 853000,
     "unit": "sequences to success", "source": _SRC + ", Table 7"},
    {"task": "adding-1997", "length": 1000, "method": _LSTM, "figure": 1 / 2560,
     "unit": "zero-one test error", "source": _SRC + ", Table 7"},
    {"task": "multiplication-1997", "length": 100, "method": _LSTM, "figure": 482000,
     "unit": "sequences to success", "source": _SRC + ", Exp. 5"},
    {"task": "multiplication-1997", "length": 100, "method": _LSTM, "figure": 139 / 2560,
     "unit": "zero-one test error", "source": _SRC + ", Exp. 5"},
    {"task": "temporal-order-2bit-1997", "length": 100, "method": _LSTM, "figure": 31390,
     "unit": "sequences to success", "source": _SRC + ", Exp. 6a"},
    {"task": "temporal-order-3bit-1997", "length": 100, "method": _LSTM, "figure": 571100,
     "unit": "sequences to success", "source": _SRC + ", Exp. 6b"},
]
