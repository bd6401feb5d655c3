"""The end-to-end update rule of deep linear networks, and an optimizer that applies it.

Arora, Cohen & Hazan (ICML 2018, Theorem 1 and Eq. 7): gradient descent with
learning rate ``eta`` on the factors of a depth-``N`` linear network, started
balanced, moves the end-to-end matrix ``W`` (to first order in ``eta``) by

.. math::
    W \\leftarrow W - \\eta \\sum_{j=1}^{N} [W W^\\top]^{\\frac{j-1}{N}}
    \\nabla L(W) [W^\\top W]^{\\frac{N-j}{N}} ,

a preconditioning of plain gradient descent on ``W`` that depends only on the
depth, not on the hidden widths.  For a single output (``W`` a row vector
``w``) the sum has the closed form (their Eq. 10)

.. math:: w \\leftarrow w - \\eta \\lVert w \\rVert^{2 - 2/N}
    \\left( \\nabla L(w) + (N - 1) \\, \\Pr_{w}\\{\\nabla L(w)\\} \\right),

with ``Pr_w`` the projection onto ``w``.  :class:`EndToEnd` applies the rule
to ordinary parameters, so a plain linear model trained with it follows the
trajectory of the depth-``N`` network, at the cost of one SVD per step instead
of ``N`` wide layers.

:func:`end_to_end_update` is the fast form used by the optimizer (one thin SVD,
the ``N`` terms summed in the singular basis); :func:`end_to_end_update_reference`
is the literal sum of ``N`` terms with matrix powers by eigendecomposition,
kept as an independent check.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Callable, Iterable
from typing import Any

import torch
import torch.nn.functional as F

__all__ = ["EndToEnd", "end_to_end_update", "end_to_end_update_reference"]


def _check_depth(depth: Any) -> int:
    if isinstance(depth, bool) or not isinstance(depth, numbers.Integral) or depth < 1:
        raise ValueError(f"depth: expected an integer >= 1 (the emulated depth N), got {depth!r}")
    return int(depth)


def _check_lr(lr: Any) -> float:
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not float(lr) > 0:
        raise ValueError(f"lr: expected a learning rate > 0, got {lr!r}")
    return float(lr)


def _vector_update(w: torch.Tensor, g: torch.Tensor, n: int) -> torch.Tensor:
    """``||w||^(2-2/N) (g + (N-1) <g, w> w / ||w||^2)`` (Eq. 10); 0 at ``w = 0``."""
    if n == 1:
        return g
    sq = float(torch.dot(w, w))
    if sq == 0.0:
        return torch.zeros_like(g)
    if not math.isfinite(sq):
        raise ValueError("weight: has NaN or infinite values (the run diverged?); lower lr")
    scale = sq ** (1.0 - 1.0 / n)
    return torch.add(g, w, alpha=(n - 1) * float(torch.dot(g, w)) / sq).mul_(scale)


@functools.lru_cache(maxsize=64)
def _exponents(
    n: int, dtype: torch.dtype, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Columns ``2(j-1)/N`` and ``2(N-j)/N`` for ``j = 2 .. N-1`` (cached per depth)."""
    j = torch.arange(2, n, dtype=torch.float64)[:, None]
    return (2.0 * (j - 1) / n).to(dtype=dtype, device=device), (2.0 * (n - j) / n).to(
        dtype=dtype, device=device
    )


def _matrix_update(w: torch.Tensor, g: torch.Tensor, n: int) -> torch.Tensor:
    """The ``N``-term sum of Eq. 7 in the singular basis of ``w`` (one thin SVD)."""
    if n == 1 or w.numel() == 0:
        return g
    if not bool(torch.isfinite(w).all()):  # the SVD raises on NaN but returns NaN for inf
        raise ValueError("weight: has NaN or infinite values (the run diverged?); lower lr")
    try:
        u, s, vh = torch.linalg.svd(w, full_matrices=False)
    except RuntimeError as exc:  # LinAlgError: non-finite entries
        raise ValueError(
            f"weight: the SVD failed ({exc}); NaN or infinite values mean the run diverged: "
            "lower lr"
        ) from None
    # singular values at rounding level are exact zeros (rank deficiency): a
    # fractional power would lift 1e-16 to (1e-16)^(1/2) = 1e-8.  s[0] is the largest.
    cutoff = float(s[0]) * max(w.shape) * torch.finfo(s.dtype).eps
    s = F.threshold(s, cutoff, 0.0)
    top = s.pow(2.0 * (n - 1) / n)
    gv = g @ vh.T
    # j = 1: G [W^T W]^((N-1)/N);  j = N: [W W^T]^((N-1)/N) G
    out = (gv * top) @ vh + u @ (top[:, None] * (u.T @ g))
    if n > 2:
        # j = 2 .. N-1: U [(U^T G V) o K] V^T with K_ab = sum_j s_a^(2(j-1)/N) s_b^(2(N-j)/N)
        # = (P^T Q)_ab, P_ja = s_a^(2(j-1)/N), Q_jb = s_b^(2(N-j)/N): one matmul
        left, right = _exponents(n, s.dtype, s.device)
        k = s.pow(left).T @ s.pow(right)
        out = out + u @ ((u.T @ gv) * k) @ vh
    return out


def end_to_end_update(weight: torch.Tensor, grad: torch.Tensor, depth: int) -> torch.Tensor:
    """The preconditioned gradient ``sum_j [W W^T]^((j-1)/N) G [W^T W]^((N-j)/N)``.

    Parameters
    ----------
    weight : torch.Tensor
        The end-to-end parameter: a scalar or vector (treated as a row
        vector, closed form of ICML'18 Eq. 10) or a matrix ``(out, in)``;
        tensors with more dimensions are treated as ``(shape[0], -1)``
        matrices (a convolution's ``out_channels x (in_channels * k * k)``).
    grad : torch.Tensor
        ``dL/dW`` at ``weight``, same shape.
    depth : int
        The emulated depth ``N >= 1``; ``N = 1`` returns ``grad`` unchanged.

    Returns
    -------
    torch.Tensor
        Same shape as ``weight``.  Zero and rank-deficient weights are fine:
        zero singular values contribute zero (``0^a = 0`` for ``a > 0``), so
        ``W = 0`` is a fixed point for ``N >= 2``, as it is for gradient
        descent on the factors.
    """
    n = _check_depth(depth)
    if weight.shape != grad.shape:
        raise ValueError(
            f"grad: shape {tuple(grad.shape)} differs from weight's {tuple(weight.shape)}"
        )
    return _update(weight, grad, n)


def _update(weight: torch.Tensor, grad: torch.Tensor, n: int) -> torch.Tensor:
    """:func:`end_to_end_update` without the argument checks (the optimizer's hot path)."""
    if weight.ndim <= 1:
        return _vector_update(weight.reshape(-1), grad.reshape(-1), n).reshape(weight.shape)
    w2 = weight.reshape(weight.shape[0], -1)
    return _matrix_update(w2, grad.reshape(w2.shape), n).reshape(weight.shape)


def _psd_power(a: torch.Tensor, power: float) -> torch.Tensor:
    """``A^power`` of a symmetric PSD matrix; ``A^0 = I`` (the paper's convention).

    Eigenvalues below ``1e-12 * max`` are taken as rounding noise of exact
    zeros (``W W^T`` of a wide or rank-deficient ``W``) and set to zero, as a
    fractional power would magnify them (``(1e-16)^(1/4) = 1e-4``): the
    reference is meant for well-separated test matrices.
    """
    if power == 0:
        return torch.eye(a.shape[0], dtype=a.dtype, device=a.device)
    evals, evecs = torch.linalg.eigh(a)
    cutoff = 1e-12 * evals.abs().max()
    evals = torch.where(evals > cutoff, evals, torch.zeros_like(evals))
    return (evecs * evals.pow(power)) @ evecs.T


def end_to_end_update_reference(
    weight: torch.Tensor, grad: torch.Tensor, depth: int
) -> torch.Tensor:
    """The literal ``N``-term sum of ICML'18 Eq. 7 for a matrix ``weight`` (slow, for checks).

    Fractional powers of ``W W^T`` and ``W^T W`` by symmetric
    eigendecomposition, summed term by term; no closed forms.  Use float64.
    """
    n = _check_depth(depth)
    if weight.ndim != 2 or weight.shape != grad.shape:
        raise ValueError("weight, grad: expected two matrices of the same shape")
    left, right = weight @ weight.T, weight.T @ weight
    total = torch.zeros_like(grad)
    for j in range(1, n + 1):
        total = total + _psd_power(left, (j - 1) / n) @ grad @ _psd_power(right, (n - j) / n)
    return total


class EndToEnd(torch.optim.Optimizer):
    """Gradient descent preconditioned by the end-to-end rule of a depth-``N`` network.

    ``p <- p - lr * end_to_end_update(p, p.grad, depth)`` for every parameter:
    training a plain model (e.g. ``nn.Linear(d, k, bias=False)``) with
    ``EndToEnd(model.parameters(), lr, depth=N)`` follows, to first order in
    ``lr``, the end-to-end trajectory of gradient descent on a depth-``N``
    linear network of any hidden widths started balanced at the same
    end-to-end matrix (Arora, Cohen & Hazan, ICML 2018, Theorem 1), without
    creating any extra parameter.

    Parameters
    ----------
    params : iterable
        Parameters or parameter groups (a group may set its own ``lr`` and
        ``depth``; e.g. ``depth=1`` for biases, which gives plain SGD).
    lr : float
        Learning rate, ``> 0``.
    depth : int
        The emulated depth ``N >= 1`` (``N = 1`` is plain gradient descent).

    Notes
    -----
    Vectors (and scalars) use the closed form of ICML'18 Eq. 10 (row vector);
    matrices one thin SVD per step; tensors of higher order are treated as
    ``(shape[0], -1)`` matrices.  A parameter with non-finite values raises a
    ``ValueError`` (the run diverged: lower ``lr``) instead of spreading NaN.

    Examples
    --------
    >>> model = torch.nn.Linear(10, 1, bias=False)
    >>> opt = EndToEnd(model.parameters(), lr=1e-2, depth=3)
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, depth: int = 2) -> None:
        super().__init__(params, {"lr": _check_lr(lr), "depth": _check_depth(depth)})

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group (its own ``lr`` / ``depth`` allowed); both are checked here, once."""
        _check_depth(param_group.get("depth", self.defaults["depth"]))
        _check_lr(param_group.get("lr", self.defaults["lr"]))
        super().add_param_group(param_group)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        """One update of every parameter that has a gradient."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, n = group["lr"], group["depth"]
            for index, p in enumerate(group["params"]):
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise ValueError("EndToEnd: sparse gradients are not supported")
                try:
                    update = _update(p, p.grad, n)  # depth checked in add_param_group
                except ValueError as exc:
                    raise ValueError(f"EndToEnd (lr={lr:g}), parameter {index}: {exc}") from None
                p.add_(update, alpha=-lr)
        return loss
