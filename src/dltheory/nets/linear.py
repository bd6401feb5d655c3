"""Deep linear networks ``x -> W_N ... W_1 x`` and their balanced initialization.

Arora, Cohen & Hazan, "On the Optimization of Deep Networks: Implicit
Acceleration by Overparameterization" (ICML 2018), study gradient descent on
the factors ``W_1 .. W_N`` of a linear map.  When the factors are *balanced*,

.. math:: W_{j+1}^\\top W_{j+1} = W_j W_j^\\top, \\qquad j = 1, \\dots, N-1,

(their Eq. 6), gradient flow keeps them balanced and moves the end-to-end
matrix ``W_e = W_N ... W_1`` by the end-to-end update rule (their Theorem 1,
Eq. 7; implemented by :class:`dltheory.optim.EndToEnd`).  :class:`DeepLinear`
is that network as a PyTorch module, with the initializations the paper
discusses and the two quantities it reasons about as properties.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

__all__ = ["INITS", "DeepLinear", "balanced_factors"]

#: Initializations accepted by :class:`DeepLinear`.
INITS: tuple[str, ...] = ("balanced", "near-zero", "orthogonal")


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    if int(value) < minimum:
        raise ValueError(f"{name}: must be >= {minimum}, got {value}")
    return int(value)


def _orthonormal_columns(
    rows: int, cols: int, gen: torch.Generator, dtype: torch.dtype
) -> torch.Tensor:
    """A ``rows x cols`` matrix with orthonormal columns (``rows >= cols``), Haar-random."""
    g = torch.randn(rows, cols, generator=gen, dtype=torch.float64)
    q, r = torch.linalg.qr(g)
    q = q * torch.sign(torch.diagonal(r)).where(torch.diagonal(r) != 0, torch.ones(()))
    return q.to(dtype)


def balanced_factors(
    matrix: torch.Tensor,
    depth: int,
    hidden: Sequence[int],
    seed: int = 0,
) -> list[torch.Tensor]:
    """Exactly balanced factors ``W_1 .. W_N`` whose product is ``matrix``.

    With the SVD ``matrix = U S V^T`` (``r = min(out, in)`` singular values),
    ``W_1 = Q_1 S^(1/N) V^T``, ``W_j = Q_j S^(1/N) Q_{j-1}^T`` and
    ``W_N = U S^(1/N) Q_{N-1}^T``, where each ``Q_j`` (``hidden[j-1] x r``) has
    orthonormal columns drawn at random.  Then ``W_{j+1}^T W_{j+1} = Q_j S^(2/N)
    Q_j^T = W_j W_j^T`` exactly: the balanced initialization of Arora, Cohen,
    Golowich & Hu (ICLR 2019, Procedure 1), for any scale of ``matrix``.

    Parameters
    ----------
    matrix : torch.Tensor
        The end-to-end matrix, shape ``(out_dim, in_dim)``.
    depth : int
        Number of factors ``N >= 1``.
    hidden : sequence of int
        The ``N - 1`` hidden widths, each ``>= min(out_dim, in_dim)``.
    seed : int
        Seed of the random orthonormal ``Q_j``.

    Returns
    -------
    list of torch.Tensor
        ``[W_1, ..., W_N]`` with ``W_j`` of shape ``(h_j, h_{j-1})``, ``h_0 = in_dim``,
        ``h_N = out_dim``, in the dtype of ``matrix``.
    """
    if not isinstance(matrix, torch.Tensor) or matrix.ndim != 2:
        raise ValueError("matrix: expected a 2-D tensor (out_dim, in_dim)")
    n = _check_int(depth, "depth", 1)
    widths = [_check_int(h, "hidden", 1) for h in hidden]
    if len(widths) != n - 1:
        raise ValueError(f"hidden: expected {n - 1} widths for depth {n}, got {len(widths)}")
    out_dim, in_dim = matrix.shape
    r = min(out_dim, in_dim)
    if any(h < r for h in widths):
        raise ValueError(
            f"hidden: every width must be >= min(out_dim, in_dim) = {r} for a balanced "
            f"factorization of any matrix, got {widths}"
        )
    dtype = matrix.dtype
    u, s, vh = torch.linalg.svd(matrix.detach().to(torch.float64), full_matrices=False)
    root = torch.diag(s.pow(1.0 / n))
    gen = torch.Generator().manual_seed(int(seed))
    qs = [vh.T] + [_orthonormal_columns(h, r, gen, torch.float64) for h in widths] + [u]
    return [(qs[j + 1] @ root @ qs[j].T).to(dtype) for j in range(n)]


class DeepLinear(nn.Module):
    """The depth-``N`` linear network ``x -> W_N ... W_1 x`` (no biases).

    Parameters
    ----------
    in_dim, out_dim : int
        Input and output sizes.
    depth : int
        Number of weight matrices ``N >= 1`` (``N = 1``: a plain linear model).
    hidden : int or sequence of int, optional
        Hidden widths (one int for all, or ``N - 1`` of them).  Default
        ``max(in_dim, out_dim)``.  The balanced initialization needs every
        width ``>= min(in_dim, out_dim)``.
    init : {"balanced", "near-zero", "orthogonal"}
        ``"balanced"``: the end-to-end matrix has i.i.d. ``N(0, scale^2)``
        entries and is split into exactly balanced factors
        (:func:`balanced_factors`); ``"near-zero"``: every factor has i.i.d.
        ``N(0, scale^2)`` entries (balanced only approximately, up to
        ``O(scale^2)``, as the paper's near-zero initialization); ``"orthogonal"``:
        every factor is ``scale`` times a random (semi-)orthogonal matrix.
    scale : float, optional
        Default ``1 / sqrt(in_dim)`` (balanced), ``1e-3`` (near-zero), ``1``
        (orthogonal).
    seed : int
        Seed of the initialization; the same seed gives the same weights.
    dtype : torch.dtype
        ``torch.float32`` (default) or ``torch.float64``.

    Attributes
    ----------
    weights : torch.nn.ParameterList
        ``W_1 .. W_N``, ``W_j`` of shape ``(h_j, h_{j-1})``.

    Examples
    --------
    >>> net = DeepLinear(10, 1, depth=3, hidden=16, seed=0, dtype=torch.float64)
    >>> tuple(net.end_to_end.shape), net.balancedness < 1e-12
    ((1, 10), True)
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        depth: int,
        hidden: int | Sequence[int] | None = None,
        init: str = "balanced",
        scale: float | None = None,
        seed: int = 0,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        d_in = _check_int(in_dim, "in_dim", 1)
        d_out = _check_int(out_dim, "out_dim", 1)
        n = _check_int(depth, "depth", 1)
        if hidden is None:
            widths = [max(d_in, d_out)] * (n - 1)
        elif isinstance(hidden, numbers.Integral) and not isinstance(hidden, bool):
            widths = [_check_int(hidden, "hidden", 1)] * (n - 1)
        else:
            if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Sequence):
                raise TypeError(f"hidden: expected an int or a sequence of ints, got {hidden!r}")
            widths = [_check_int(h, "hidden", 1) for h in hidden]
            if len(widths) != n - 1:
                raise ValueError(
                    f"hidden: expected {n - 1} widths for depth {n}, got {len(widths)}"
                )
        if init not in INITS:
            raise ValueError(f"init: expected one of {INITS}, got {init!r}")
        if dtype not in (torch.float32, torch.float64):
            raise TypeError(f"dtype: expected torch.float32 or torch.float64, got {dtype}")
        defaults = {"balanced": 1.0 / math.sqrt(d_in), "near-zero": 1e-3, "orthogonal": 1.0}
        s = defaults[init] if scale is None else scale
        if (
            isinstance(s, bool)
            or not isinstance(s, numbers.Real)
            or not (math.isfinite(float(s)) and float(s) >= 0)
        ):
            raise ValueError(f"scale: expected a finite number >= 0, got {scale!r}")
        self.in_dim: int = d_in
        self.out_dim: int = d_out
        self.depth: int = n
        self.hidden: tuple[int, ...] = tuple(widths)
        self.init: str = init
        dims = [d_in, *widths, d_out]
        gen = torch.Generator().manual_seed(int(seed))
        if init == "balanced":
            e2e = torch.randn(d_out, d_in, generator=gen, dtype=torch.float64) * float(s)
            mats = balanced_factors(e2e, n, widths, seed=int(seed) + 1)
        elif init == "near-zero":
            mats = [
                torch.randn(dims[j + 1], dims[j], generator=gen, dtype=torch.float64) * float(s)
                for j in range(n)
            ]
        else:
            mats = []
            for j in range(n):
                rows, cols = dims[j + 1], dims[j]
                q = _orthonormal_columns(max(rows, cols), min(rows, cols), gen, torch.float64)
                mats.append((q if rows >= cols else q.T) * float(s))
        self.weights: nn.ParameterList = nn.ParameterList([nn.Parameter(m.to(dtype)) for m in mats])

    @classmethod
    def from_end_to_end(
        cls,
        matrix: torch.Tensor,
        depth: int,
        hidden: int | Sequence[int] | None = None,
        seed: int = 0,
    ) -> DeepLinear:
        """A network whose balanced factors multiply to ``matrix`` (``(out_dim, in_dim)``)."""
        if not isinstance(matrix, torch.Tensor) or matrix.ndim != 2:
            raise ValueError("matrix: expected a 2-D tensor (out_dim, in_dim)")
        if matrix.dtype not in (torch.float32, torch.float64):
            raise TypeError(f"matrix: expected float32 or float64, got {matrix.dtype}")
        out_dim, in_dim = matrix.shape
        net = cls(in_dim, out_dim, depth, hidden, "near-zero", 0.0, seed, matrix.dtype)
        mats = balanced_factors(matrix, net.depth, net.hidden, seed=seed)
        with torch.no_grad():
            for w, m in zip(net.weights, mats, strict=True):
                w.copy_(m)
        return net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` of shape ``(batch, in_dim)`` -> ``(batch, out_dim)``."""
        if x.ndim != 2 or x.shape[1] != self.in_dim:
            raise ValueError(f"x: expected shape (batch, {self.in_dim}), got {tuple(x.shape)}")
        h = x
        for w in self.weights:
            h = h @ w.T
        return h

    @property
    def end_to_end(self) -> torch.Tensor:
        """The product ``W_N ... W_1`` (detached), shape ``(out_dim, in_dim)``."""
        with torch.no_grad():
            e = self.weights[0]
            for w in list(self.weights)[1:]:
                e = w @ e
            return e.detach().clone()

    @property
    def balancedness(self) -> float:
        """``max_j ||W_{j+1}^T W_{j+1} - W_j W_j^T||_F / max_j ||W_j||_F^2``.

        0 for exactly balanced factors (up to rounding), 0 for ``N = 1``; the
        scale-free form of the paper's ``delta``-balancedness (ICML'18 Eq. 6).
        """
        ws = [w.detach() for w in self.weights]
        if len(ws) < 2:
            return 0.0
        gap = max(
            float(torch.linalg.matrix_norm(ws[j + 1].T @ ws[j + 1] - ws[j] @ ws[j].T))
            for j in range(len(ws) - 1)
        )
        norm = max(float(torch.linalg.matrix_norm(w)) ** 2 for w in ws)
        return gap / norm if norm > 0 else 0.0

    def extra_repr(self) -> str:
        return (
            f"in_dim={self.in_dim}, out_dim={self.out_dim}, depth={self.depth}, "
            f"hidden={list(self.hidden)}, init={self.init!r}"
        )
