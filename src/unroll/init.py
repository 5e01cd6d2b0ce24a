"""Initialisers for recurrent weight matrices, in place, with explicit generators.

``spectral_radius_`` rescales a square matrix so its largest |eigenvalue| is a target;
``sparse_`` is the echo-state-style initialisation of Sutskever, Martens, Dahl & Hinton (2013):
each unit gets exactly ``incoming`` Gaussian incoming weights (they used 15), then the matrix is
scaled to a spectral radius (they used 1.1); ``orthogonal_`` draws a (scaled) orthogonal matrix;
``identity_`` is the IRNN initialisation of Le, Jaitly & Hinton (2015); ``chrono_`` sets an LSTM's gate
biases for long lags (Tallec & Ollivier 2018).
The spectral radius of a matrix larger than ``DENSE_EIGVALS_UP_TO`` comes from ARPACK (the few
eigenvalues of largest modulus, by Arnoldi iteration on the nonzeros) rather than all N eigenvalues.
Weights are (rows: receiving unit, columns: sending unit), as in ``weight_hh``.
"""
import numbers

import numpy as np
import scipy.sparse
import scipy.sparse.linalg
import torch

from .checks import int_at_least, positive_number


DENSE_EIGVALS_UP_TO = 256    # larger matrices: ARPACK
ARPACK_TOLERANCE = 1e-10


def spectral_radius(w: torch.Tensor) -> float:
    """The largest |eigenvalue| of a square matrix w (N, N), dense or sparse (COO/CSR), in float64:
    all eigenvalues up to N = DENSE_EIGVALS_UP_TO, ARPACK (relative tolerance 1e-10) beyond."""
    if isinstance(w, torch.Tensor) and w.layout != torch.strided:
        w = w.to_sparse_coo().coalesce()
        _square("w", w)
        indices = w.indices().cpu().numpy()
        matrix = scipy.sparse.csr_matrix((w.values().detach().cpu().to(torch.float64).numpy(), indices),
                                         shape=tuple(w.shape))
    else:
        _square("w", w)
        if w.shape[0] <= DENSE_EIGVALS_UP_TO:
            return float(torch.linalg.eigvals(w.detach().cpu().to(torch.float64)).abs().max())
        matrix = scipy.sparse.csr_matrix(w.detach().cpu().to(torch.float64).numpy())
    if matrix.nnz == 0:
        return 0.0
    if matrix.shape[0] <= DENSE_EIGVALS_UP_TO:
        return float(np.abs(np.linalg.eigvals(matrix.toarray())).max())
    start = np.random.default_rng(0).standard_normal(matrix.shape[0])    # fixed: reproducible
    try:
        values = scipy.sparse.linalg.eigs(matrix, k=1, which="LM", v0=start, ncv=min(matrix.shape[0], 40),
                                          tol=ARPACK_TOLERANCE, return_eigenvectors=False)
    except scipy.sparse.linalg.ArpackNoConvergence:     # e.g. many eigenvalues of equal modulus
        values = np.linalg.eigvals(matrix.toarray())
    return float(np.abs(values).max())


@torch.no_grad()
def spectral_radius_(w: torch.Tensor, radius: float) -> torch.Tensor:
    """Scale the square matrix w (N, N) in place so that its spectral radius is ``radius``; returns w."""
    radius = positive_number("radius", radius)
    current = spectral_radius(w)
    if current == 0:
        raise ValueError("w: expected a matrix with a nonzero eigenvalue (its spectral radius is 0, "
                         "so no scaling reaches the target)")
    return w.mul_(radius / current)


@torch.no_grad()
def sparse_(w: torch.Tensor, incoming: int, radius: float | None = None,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """Give every row (receiving unit) of w (N, M) exactly ``incoming`` nonzero N(0, 1) weights from
    distinct randomly chosen columns, zero elsewhere; then, if ``radius`` is given (w must be square),
    scale to that spectral radius. Returns w."""
    _matrix("w", w)
    rows, cols = w.shape
    if isinstance(incoming, bool) or not isinstance(incoming, numbers.Integral) or not 1 <= incoming <= cols:
        raise ValueError(f"incoming: expected an int in 1..{cols} (the number of columns of w), got {incoming!r}")
    if radius is not None:
        positive_number("radius", radius)
        _square("w", w)
    scores = torch.rand(rows, cols, generator=generator, dtype=torch.float64)
    chosen = scores.argsort(dim=1)[:, :incoming]
    values = torch.randn(rows, incoming, generator=generator, dtype=torch.float64)
    dense = torch.zeros(rows, cols, dtype=torch.float64).scatter_(1, chosen, values)
    w.copy_(dense)
    return w if radius is None else spectral_radius_(w, radius)


@torch.no_grad()
def orthogonal_(w: torch.Tensor, gain: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
    """Fill w (N, M) with ``gain`` times a random matrix with orthonormal rows (N <= M) or columns
    (N > M), drawn uniformly (QR of a Gaussian with the signs of R's diagonal fixed). Returns w."""
    _matrix("w", w)
    gain = positive_number("gain", gain)
    rows, cols = w.shape
    gaussian = torch.randn(max(rows, cols), min(rows, cols), generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(gaussian)
    q = q * torch.sign(torch.diagonal(r))
    w.copy_(gain * (q if rows >= cols else q.T))
    return w


@torch.no_grad()
def identity_(w: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """Set the square matrix w (N, N) to ``scale`` times the identity (IRNN). Returns w."""
    _square("w", w)
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real):
        raise TypeError(f"scale: expected a number, got {type(scale).__name__}")
    w.copy_(scale * torch.eye(w.shape[0], dtype=torch.float64))
    return w


@torch.no_grad()
def chrono_(bias: torch.Tensor, max_lag: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Chrono initialisation of an LSTM's gate biases (Tallec & Ollivier 2018) for lags up to ``max_lag``.

    bias: (4H,) in the cells' ``GATES`` order (write, keep, read, cell input). Each cell's keep-gate bias is
    log(u), u ~ U[1, max_lag - 1], so its memory fades over about u steps; its write-gate bias is minus
    that. Returns bias.
    """
    if not isinstance(bias, torch.Tensor) or bias.dim() != 1 or bias.numel() % 4 or bias.numel() == 0:
        shape = tuple(bias.shape) if isinstance(bias, torch.Tensor) else type(bias).__name__
        raise ValueError(f"bias: expected an LSTM's gate biases of shape (4H,), got {shape}")
    int_at_least("max_lag", max_lag, 3)
    H = bias.numel() // 4
    u = 1 + (max_lag - 2) * torch.rand(H, generator=generator, dtype=torch.float64)
    bias[H:2 * H] = torch.log(u)
    bias[:H] = -torch.log(u)
    return bias


def _matrix(name: str, w) -> None:
    if not isinstance(w, torch.Tensor) or not w.dtype.is_floating_point:
        kind = f"dtype {w.dtype}" if isinstance(w, torch.Tensor) else type(w).__name__
        raise TypeError(f"{name}: expected a real floating-point tensor, got {kind}")
    if w.dim() != 2 or w.numel() == 0:
        raise ValueError(f"{name}: expected a non-empty matrix (2 dimensions), got shape {tuple(w.shape)}")


def _square(name: str, w) -> None:
    _matrix(name, w)
    if w.shape[0] != w.shape[1]:
        raise ValueError(f"{name}: expected a square matrix, got shape {tuple(w.shape)}")

