"""Linear readouts of reservoir states, y = x W^T + b: ridge regression from streamed sums, and recursive
least squares (RLS) learning online, one sample at a time (FORCE learning, Sussillo & Abbott 2009)."""
import scipy.linalg.blas
import scipy.linalg.lapack
import torch

from ..checks import finite, int_at_least, positive_int, positive_number
from .arguments import fraction, non_negative

BLOCK = 2048     # steps whose products are summed in ``dtype`` before joining the float64 sums


class Ridge:
    """Ridge regression fitted once from sums accumulated over any number of sequences.

    ``accumulate(x, y, washout)`` adds X^T X, X^T Y, sum X, sum Y and the count of the steps after the
    washout; ``solve()`` sets weight (O, F) and bias (O,) minimising |Y - X W^T - b|^2 + ridge |W|^2
    (the bias unpenalised, from the centred sums, as ReservoirPy's Ridge) or, with fit_bias=False,
    |Y - X W^T|^2 + ridge |W|^2. Products are computed in ``dtype`` over blocks of BLOCK steps and summed
    in float64; the solve runs in float64. float32 products take half the time of the X^T X that
    dominates large fits, but only a penalty that keeps X^T X well conditioned tolerates their rounding.
    """

    def __init__(self, ridge: float = 0.0, fit_bias: bool = True, dtype: torch.dtype = torch.float64):
        non_negative("ridge", ridge)
        self.ridge, self.fit_bias, self.dtype = float(ridge), bool(fit_bias), dtype
        self.weight: torch.Tensor | None = None
        self.bias: torch.Tensor | None = None
        self.reset()

    def reset(self) -> "Ridge":
        """Forget the accumulated sums (the fitted weights stay until the next solve)."""
        self.xx = self.xy = self.x_sum = self.y_sum = None
        self.count = 0
        return self

    @torch.no_grad()
    def accumulate(self, x: torch.Tensor, y: torch.Tensor, washout: int = 0) -> "Ridge":
        """Add the steps after the first ``washout`` of x (T, B, F) or (T, F) with targets y (T, B, O) or (T, O)."""
        rows_x, rows_y = _rows(x, y, washout)
        if self.xx is None:
            features, outputs = rows_x.shape[1], rows_y.shape[1]
            zeros = dict(dtype=torch.float64, device=rows_x.device)
            self.xx, self.xy = torch.zeros(features, features, **zeros), torch.zeros(features, outputs, **zeros)
            self.x_sum, self.y_sum = torch.zeros(features, **zeros), torch.zeros(outputs, **zeros)
        elif (rows_x.shape[1], rows_y.shape[1]) != tuple(self.xy.shape):
            raise ValueError(f"x, y: expected {self.xy.shape[0]} features and {self.xy.shape[1]} outputs like "
                             f"the sums so far, got {rows_x.shape[1]} and {rows_y.shape[1]}")
        for start in range(0, rows_x.shape[0], BLOCK):
            block_x = rows_x[start:start + BLOCK].to(self.dtype)
            block_y = rows_y[start:start + BLOCK].to(self.dtype)
            add_gram_(self.xx, block_x)
            self.xy += block_x.T @ block_y
            self.x_sum += block_x.sum(0, dtype=torch.float64)
            self.y_sum += block_y.sum(0, dtype=torch.float64)
        self.count += rows_x.shape[0]
        return self

    @torch.no_grad()
    def solve(self) -> "Ridge":
        """Set weight and bias from the sums; returns self."""
        if not self.count:
            raise ValueError("x: expected some accumulated steps before solve(), got none")
        w = _cholesky_solve(*self._normal_equations()) if self.ridge > 0 else None
        if w is None:        # no penalty, or not positive definite: from a fresh copy of the equations
            xx, xy = self._normal_equations()
            xx = symmetric(xx)
            w = torch.linalg.solve(xx, xy) if self.ridge > 0 else \
                torch.linalg.lstsq(xx.cpu(), xy.cpu(), driver="gelsd").solution.to(xx.device)  # minimum norm
        self.weight = w.T.contiguous()
        self.bias = (self.y_sum - self.x_sum @ w) / self.count if self.fit_bias else \
            torch.zeros(w.shape[1], dtype=w.dtype, device=w.device)
        return self

    def _normal_equations(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(A, B) of A W^T = B, new tensors: A (F, F) in its upper triangle, the centred X^T X (with
        fit_bias) + ridge I; B (F, O) the centred X^T Y. In place on one copy: these are large."""
        xx, xy = self.xx.clone(), self.xy.clone()
        if self.fit_bias:
            x_mean, y_mean = self.x_sum / self.count, self.y_sum / self.count
            xx.addr_(x_mean, x_mean, alpha=-self.count)
            xy.addr_(x_mean, y_mean, alpha=-self.count)
        xx.diagonal().add_(self.ridge)
        return xx, xy

    def fit(self, x: torch.Tensor, y: torch.Tensor, washout: int = 0) -> "Ridge":
        """reset, accumulate one batch of sequences, solve."""
        return self.reset().accumulate(x, y, washout).solve()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """x (..., F) -> y (..., O), in x's dtype."""
        if self.weight is None:
            raise ValueError("readout: expected a fitted readout (call fit or solve first), got an unfitted one")
        return _apply(x, self.weight, self.bias)


class RLS:
    """Recursive least squares: after samples z_1..z_t (z = [x, 1] with fit_bias) its weights minimise
    sum_i forgetting^(t-i) |y_i - W z_i|^2 + forgetting^t * alpha |W|^2, so with forgetting 1 they equal
    ``Ridge(ridge=alpha, fit_bias=False)`` on [x, 1] (the bias penalised too). P = (Z^T Z + alpha I)^-1
    is updated by the Sherman-Morrison formula, O(F^2) a sample. weight (O, F), bias (O,).
    """

    def __init__(self, features: int, outputs: int, alpha: float = 1.0, fit_bias: bool = True,
                 forgetting: float = 1.0, dtype: torch.dtype = torch.float64, device=None):
        positive_int("features", features)
        positive_int("outputs", outputs)
        positive_number("alpha", alpha)
        fraction("forgetting", forgetting)
        self.features, self.fit_bias, self.forgetting = features, bool(fit_bias), float(forgetting)
        size = features + self.fit_bias
        self.p = torch.eye(size, dtype=dtype, device=device) / alpha
        self.w = torch.zeros(outputs, size, dtype=dtype, device=device)

    @property
    def weight(self) -> torch.Tensor:
        return self.w[:, :self.features]

    @property
    def bias(self) -> torch.Tensor:
        return self.w[:, self.features] if self.fit_bias else torch.zeros_like(self.w[:, 0])

    @torch.no_grad()
    def learn_step(self, x_t: torch.Tensor, y_t: torch.Tensor) -> torch.Tensor:
        """Learn one sample x_t (F,), y_t (O,); returns the prediction before the update (O,)."""
        z = torch.cat((x_t.to(self.w.dtype), torch.ones(1, dtype=self.w.dtype, device=self.w.device))) \
            if self.fit_bias else x_t.to(self.w.dtype)
        pz = self.p @ z
        gain = pz / (self.forgetting + z @ pz)
        prediction = self.w @ z
        self.w -= torch.outer(prediction - y_t.to(self.w.dtype), gain)
        self.p -= torch.outer(gain, pz)
        if self.forgetting != 1.0:
            self.p /= self.forgetting
        return prediction

    @torch.no_grad()
    def learn(self, x: torch.Tensor, y: torch.Tensor, washout: int = 0) -> torch.Tensor:
        """Learn every step after the washout of x (T, B, F) or (T, F), y alike, in time order (sequences of
        a step in batch order); returns the predictions made before each update (rows, O)."""
        rows_x, rows_y = _rows(x, y, washout)
        if rows_x.shape[1] != self.features or rows_y.shape[1] != self.w.shape[0]:
            raise ValueError(f"x, y: expected {self.features} features and {self.w.shape[0]} outputs, "
                             f"got {rows_x.shape[1]} and {rows_y.shape[1]}")
        return torch.stack([self.learn_step(a, b) for a, b in zip(rows_x.unbind(0), rows_y.unbind(0))])

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """x (..., F) -> y (..., O), in x's dtype."""
        return _apply(x, self.weight, self.bias)


def _cholesky_solve(upper: torch.Tensor, b: torch.Tensor) -> torch.Tensor | None:
    """w with A w = b for the symmetric A (F, F) whose upper triangle is ``upper`` (overwritten), b (F, O), by
    Cholesky (half the work of LU; on CPU LAPACK's, reading that triangle only); None if A is not positive
    definite."""
    if upper.device.type == "cpu" and upper.dtype == torch.float64:
        factor, info = scipy.linalg.lapack.dpotrf(upper.numpy().T, lower=1, overwrite_a=1, clean=0)
        if info != 0:                            # upper.numpy().T: Fortran order, upper's triangle its lower one
            return None
        w, info = scipy.linalg.lapack.dpotrs(factor, b.numpy(), lower=1)
        return torch.from_numpy(w) if info == 0 else None
    factor, info = torch.linalg.cholesky_ex(symmetric(upper))
    return torch.cholesky_solve(b, factor) if int(info) == 0 else None


def gram(x: torch.Tensor) -> torch.Tensor:
    """x^T x (F, F) in float64 of x (R, F)."""
    total = torch.zeros(x.shape[1], x.shape[1], dtype=torch.float64, device=x.device)
    add_gram_(total, x)
    return symmetric(total)


def symmetric(upper: torch.Tensor) -> torch.Tensor:
    """The symmetric matrix whose upper triangle is upper's."""
    return upper.triu() + upper.triu(1).T


def add_gram_(total: torch.Tensor, x: torch.Tensor) -> None:
    """total += x^T x for x (R, F) into the upper triangle of the float64 total (F, F) (the lower one may be
    left stale). On CPU with BLAS syrk, half the products of a general matmul, float64 ones added in place."""
    if x.device.type != "cpu" or x.dtype not in (torch.float32, torch.float64):
        total += x.T @ x
        return
    columns = x.contiguous().numpy().T       # (F, R) Fortran-ordered: no copy
    target = total.numpy().T                 # its lower triangle is total's upper one
    if x.dtype == torch.float64:
        result = scipy.linalg.blas.dsyrk(1.0, columns, beta=1.0, c=target, lower=1, overwrite_c=1)
        if result is not target:             # scipy copied instead of writing in place
            target[...] = result
    else:
        target += scipy.linalg.blas.ssyrk(1.0, columns, lower=1)


def _apply(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.shape[-1] != weight.shape[1]:
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x: expected (..., {weight.shape[1]}) features, got {got}")
    return torch.addmm(bias.to(x.dtype), x.reshape(-1, x.shape[-1]), weight.T.to(x.dtype)) \
        .reshape(*x.shape[:-1], weight.shape[0])


def _rows(x, y, washout: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(rows of x (R, F), rows of y (R, O)) after dropping the first ``washout`` steps, in time order."""
    int_at_least("washout", washout, 0)
    for name, value in (("x", x), ("y", y)):
        if not isinstance(value, torch.Tensor) or not value.is_floating_point() or value.dim() not in (2, 3):
            got = (f"shape {tuple(value.shape)} {value.dtype}" if isinstance(value, torch.Tensor)
                   else type(value).__name__)
            raise ValueError(f"{name}: expected a floating tensor (T, B, F) or (T, F), got {got}")
    if x.shape[:-1] != y.shape[:-1] or x.dim() != y.dim():
        raise ValueError(f"y: expected the steps and sequences of x {tuple(x.shape[:-1])}, got {tuple(y.shape[:-1])}")
    if washout >= x.shape[0]:
        raise ValueError(f"washout: expected fewer than the {x.shape[0]} steps, got {washout}")
    rows_x, rows_y = x[washout:].reshape(-1, x.shape[-1]), y[washout:].reshape(-1, y.shape[-1])
    finite(rows_y, "y")
    return rows_x, rows_y
