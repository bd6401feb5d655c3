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
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ..optim.end_to_end import MAX_DEPTH as _MAX_DEPTH
from ..validation import (
    MAX_ENTRIES,
    MAX_SEED,
    check_array,
    check_choice,
    check_device,
    check_dtype,
    check_float,
    check_int,
    check_ints,
    check_seed,
    check_size,
    describe,
)

__all__ = ["INITS", "MAX_DEPTH", "MAX_PARAMETERS", "MAX_SCALE", "DeepLinear", "balanced_factors"]

#: Initializations accepted by :class:`DeepLinear`.
INITS: tuple[str, ...] = ("balanced", "near-zero", "orthogonal")
#: Most weight matrices a :class:`DeepLinear` may have.
#: Most weight matrices a network has (shared with the optimizer that emulates it).
MAX_DEPTH = _MAX_DEPTH
#: Most parameters a :class:`DeepLinear` may hold (estimated before anything is allocated).
MAX_PARAMETERS = MAX_ENTRIES
#: Largest initialization ``scale``: the initial weights stay finite in float32.
MAX_SCALE = 1e6

_SIZE_FIX = "lower in_dim, out_dim, hidden or depth"


def _check_depth(depth: Any) -> int:
    return check_int(
        depth, "depth", minimum=1, maximum=MAX_DEPTH, fix=f"at most {MAX_DEPTH} weight matrices"
    )


def _check_matrix(matrix: Any) -> torch.Tensor:
    """An end-to-end matrix: a finite, non-empty float32/float64 ``(out_dim, in_dim)`` tensor."""
    if not isinstance(matrix, torch.Tensor):
        raise TypeError(
            f"matrix: expected a 2-D torch tensor (out_dim, in_dim), got {describe(matrix)}"
        )
    check_array(matrix, "matrix", ndim=2)
    if matrix.dtype not in (torch.float32, torch.float64):
        raise TypeError(
            f"matrix: expected a float32 or float64 tensor, got {matrix.dtype}; "
            "convert it with matrix.double()"
        )
    if matrix.numel() == 0:
        raise ValueError(
            f"matrix: expected a non-empty (out_dim, in_dim) matrix, got shape "
            f"{tuple(matrix.shape)}"
        )
    return matrix


def _check_parameters(dims: Sequence[int], sizes: dict[str, int]) -> None:
    """Refuse a network whose factors would hold more than :data:`MAX_PARAMETERS` entries.

    ``sizes`` maps the arguments that set the widths to their values; the
    message names the largest.
    """
    count = sum(dims[j] * dims[j + 1] for j in range(len(dims) - 1))
    check_size(
        count,
        max(sizes, key=sizes.__getitem__),
        limit=MAX_PARAMETERS,
        what=f"the {len(dims) - 1} weight matrices",
        fix=_SIZE_FIX,
    )


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
        The end-to-end matrix, shape ``(out_dim, in_dim)``: float32 or float64,
        finite, non-empty.
    depth : int
        Number of factors ``1 <= N <=`` :data:`MAX_DEPTH`.
    hidden : sequence of int
        The ``N - 1`` hidden widths, each ``>= min(out_dim, in_dim)``.
    seed : int
        Seed of the random orthonormal ``Q_j``, in ``[0, 2**63)``.

    Returns
    -------
    list of torch.Tensor
        ``[W_1, ..., W_N]`` with ``W_j`` of shape ``(h_j, h_{j-1})``, ``h_0 = in_dim``,
        ``h_N = out_dim``, in the dtype of ``matrix``.

    Raises
    ------
    TypeError, ValueError
        For a bad argument (the message names it), before any work; also when
        the factors would hold more than :data:`MAX_PARAMETERS` entries.
    """
    matrix = _check_matrix(matrix)
    n = _check_depth(depth)
    widths = check_ints(
        hidden, "hidden", minimum=1, length=n - 1, fix=f"depth - 1 = {n - 1} hidden widths"
    )
    seed = check_seed(seed)
    out_dim, in_dim = matrix.shape
    r = min(out_dim, in_dim)
    if any(h < r for h in widths):
        raise ValueError(
            f"hidden: every width must be >= min(out_dim, in_dim) = {r} for a balanced "
            f"factorization of any matrix, got {list(widths)}"
        )
    _check_parameters([in_dim, *widths, out_dim], {"hidden": max(widths, default=0)})
    dtype = matrix.dtype
    u, s, vh = torch.linalg.svd(matrix.detach().to(torch.float64), full_matrices=False)
    root = torch.diag(s.pow(1.0 / n))
    gen = torch.Generator().manual_seed(seed)
    qs = [vh.T] + [_orthonormal_columns(h, r, gen, torch.float64) for h in widths] + [u]
    return [(qs[j + 1] @ root @ qs[j].T).to(dtype) for j in range(n)]


class DeepLinear(nn.Module):
    """The depth-``N`` linear network ``x -> W_N ... W_1 x`` (no biases).

    Parameters
    ----------
    in_dim, out_dim : int
        Input and output sizes.
    depth : int
        Number of weight matrices ``1 <= N <=`` :data:`MAX_DEPTH` (``N = 1``: a
        plain linear model).
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
        In ``[0,`` :data:`MAX_SCALE` ``]``.  Default ``1 / sqrt(in_dim)``
        (balanced), ``1e-3`` (near-zero), ``1`` (orthogonal).
    seed : int
        Seed of the initialization, in ``[0, 2**63)``; the same seed gives the
        same weights.
    dtype : torch.dtype
        ``torch.float32`` (default) or ``torch.float64``.
    device : str or torch.device, optional
        Where the weights live (default CPU); checked against what this torch can use.

    Raises
    ------
    TypeError, ValueError
        For a bad argument (the message names it), before anything is
        allocated; also when the factors would hold more than
        :data:`MAX_PARAMETERS` entries.

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
        *,
        device: str | torch.device | None = None,
    ) -> None:
        super().__init__()
        d_in = check_int(in_dim, "in_dim", minimum=1)
        d_out = check_int(out_dim, "out_dim", minimum=1)
        n = _check_depth(depth)
        if hidden is None:
            widths: tuple[int, ...] = (max(d_in, d_out),) * (n - 1)
        elif (isinstance(hidden, np.ndarray) and hidden.ndim > 0) or isinstance(
            hidden, (Sequence, str, bytes)
        ):
            widths = check_ints(
                hidden, "hidden", minimum=1, length=n - 1, fix=f"depth - 1 = {n - 1} widths"
            )
        else:
            widths = (check_int(hidden, "hidden", minimum=1, fix="one width for all"),) * (n - 1)
        init = check_choice(init, "init", INITS)
        dtype = check_dtype(dtype)
        if scale is None:
            s = {"balanced": 1.0 / math.sqrt(d_in), "near-zero": 1e-3, "orthogonal": 1.0}[init]
        else:
            s = check_float(
                scale,
                "scale",
                minimum=0.0,
                maximum=MAX_SCALE,
                fix=f"the initial weights stay finite for scales up to {MAX_SCALE:g}",
            )
        seed = check_seed(seed)
        dev = check_device(device)
        _check_parameters(
            [d_in, *widths, d_out],
            {"in_dim": d_in, "out_dim": d_out, "hidden": max(widths, default=0)},
        )
        self.in_dim: int = d_in
        self.out_dim: int = d_out
        self.depth: int = n
        self.hidden: tuple[int, ...] = tuple(widths)
        self.init: str = init
        dims = [d_in, *widths, d_out]
        gen = torch.Generator().manual_seed(seed)
        if init == "balanced":
            e2e = torch.randn(d_out, d_in, generator=gen, dtype=torch.float64) * s
            mats = balanced_factors(e2e, n, widths, seed=(seed + 1) % MAX_SEED)
        elif init == "near-zero":
            mats = [
                torch.randn(dims[j + 1], dims[j], generator=gen, dtype=torch.float64) * s
                for j in range(n)
            ]
        else:
            mats = []
            for j in range(n):
                rows, cols = dims[j + 1], dims[j]
                q = _orthonormal_columns(max(rows, cols), min(rows, cols), gen, torch.float64)
                mats.append((q if rows >= cols else q.T) * s)
        self.weights: nn.ParameterList = nn.ParameterList(
            [nn.Parameter(m.to(device=dev, dtype=dtype)) for m in mats]
        )

    @classmethod
    def from_end_to_end(
        cls,
        matrix: torch.Tensor,
        depth: int,
        hidden: int | Sequence[int] | None = None,
        seed: int = 0,
    ) -> DeepLinear:
        """A network whose balanced factors multiply to ``matrix`` (``(out_dim, in_dim)``).

        ``matrix`` is a finite, non-empty float32 or float64 tensor; the network
        has its dtype and device.  ``depth``, ``hidden`` and ``seed`` are as in
        :class:`DeepLinear` (every hidden width ``>= min(out_dim, in_dim)``).
        """
        matrix = _check_matrix(matrix)
        out_dim, in_dim = matrix.shape
        net = cls(
            in_dim,
            out_dim,
            depth,
            hidden,
            "near-zero",
            0.0,
            seed,
            matrix.dtype,
            device=matrix.device,
        )
        mats = balanced_factors(matrix, net.depth, net.hidden, seed=seed)
        with torch.no_grad():
            for w, m in zip(net.weights, mats, strict=True):
                w.copy_(m)
        return net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` of shape ``(batch, in_dim)`` -> ``(batch, out_dim)``.

        ``x`` is a real tensor with finite entries; it is moved to the weights'
        device and dtype.  An empty batch gives an empty output.
        """
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x: expected a torch tensor (batch, {self.in_dim}), got {describe(x)}")
        check_array(x, "x", ndim=2)
        if x.shape[1] != self.in_dim:
            raise ValueError(f"x: expected shape (batch, {self.in_dim}), got {tuple(x.shape)}")
        w0 = self.weights[0]
        h = x.to(device=w0.device, dtype=w0.dtype)
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
