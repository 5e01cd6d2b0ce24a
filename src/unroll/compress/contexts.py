"""Adaptive context-count models: byte counts in the context of the last n bytes (hashed), n in ``orders``."""
import torch

_MULTIPLIER, _MULTIPLIER2 = 0x9E3779B1, 0x85EBCA77   # odd; spread contexts over the table
_EPSILON = 0.01


class ContextCounts:
    """For each order n, uint8 byte counts (slots_n, 256) indexed by a hash of the last n bytes (direct
    for n <= 2), all orders in one table so that a step is one gather and one scatter.

    ``predict()`` -> (log-probabilities (B, M, 256), count totals (B, M)) for the B streams' current
    contexts, M = len(orders) (+ 1 with ``words``: the context of the letters of the current word);
    ``update(y)`` counts the true bytes y (B,) and shifts them into the
    contexts. A row is halved before a count in it would pass 255 - B, so old statistics fade. Each order
    predicts p(k) = (n_k + d/256) / (N + d): counts n_k, total N, d distinct bytes seen (PPM's escape
    method C; uniform for an unseen context).
    """

    def __init__(self, batch: int, orders: tuple, table_bits: int, words: bool = False):
        self.orders, self.words = orders, words
        self.slots = [min(256 ** n, 1 << table_bits) for n in orders] + [1 << table_bits] * words
        starts = torch.tensor([0, *self.slots[:-1]]).cumsum(0)
        self.start = starts[None, :]                               # (1, M) first row of each order
        self.table = torch.zeros(sum(self.slots), 256, dtype=torch.uint8)
        self.new_streams(batch)

    def new_streams(self, batch: int) -> None:
        """Forget the contexts (not the counts): ``batch`` new streams start."""
        self.history = torch.zeros(batch, dtype=torch.int64)        # last 7 bytes, newest lowest
        self.word = torch.zeros(batch, dtype=torch.int64)           # hash of the letters since a non-letter
        self._rows = None

    def _indices(self) -> torch.Tensor:
        """(B, M) rows of the streams' contexts."""
        out = []
        for n, slots in zip(self.orders, self.slots):
            ctx = self.history & ((1 << (8 * n)) - 1)
            if 256 ** n <= slots:
                out.append(ctx)
            else:
                low, high = ctx & 0xFFFFFF, ctx >> 24   # products stay below 2**63
                h = (low * _MULTIPLIER) ^ ((high + n) * _MULTIPLIER2)
                out.append((h >> 20) & (slots - 1))
        if self.words:
            out.append(((self.word * _MULTIPLIER) >> 20) & (self.slots[-1] - 1))
        return torch.stack(out, dim=1) + self.start

    def predict(self) -> tuple[torch.Tensor, torch.Tensor]:
        self._rows = self._indices()
        rows = self.table[self._rows]                               # (B, M, 256)
        counts = rows.float()
        totals = counts.sum(2)
        escape = (rows > 0).sum(2).float() + _EPSILON
        probs = (counts + (escape / 256)[:, :, None]) / (totals + escape)[:, :, None]
        return probs.log(), totals

    def update(self, y: torch.Tensor) -> None:
        rows = self._rows.reshape(-1)
        ys = y.repeat_interleave(len(self.slots))
        # halve first, so that the B increments below (at most 128) cannot wrap a uint8 count
        full = self.table[rows, ys] >= 255 - len(y)
        if bool(full.any()):
            halve = rows[full]
            self.table[halve] = self.table[halve] // 2
        self.table.index_put_((rows, ys), torch.ones_like(ys, dtype=torch.uint8), accumulate=True)
        self.history = ((self.history << 8) | y) & 0xFFFFFFFFFFFFFF
        if self.words:
            lower = y | 0x20
            letter = (lower >= ord("a")) & (lower <= ord("z"))
            self.word = torch.where(letter, ((self.word * 97) + lower) & 0xFFFFFFFF, 0)
