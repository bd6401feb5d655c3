"""Regression losses: the l_p loss of Arora, Cohen & Hazan (ICML'18) and its exact optimum.

The l_p loss of a linear predictor over examples ``(x_i, y_i)`` is

.. math:: L(W) = \\frac{1}{m} \\sum_{i=1}^m \\frac{1}{p} \\lVert y_i - W x_i \\rVert_p^p ,

(ICML'18, Section 3, with the sum over outputs for vector targets).  ``p = 2``
is half the mean squared error; ``p = 4`` is the loss of the paper's
experiments, where overparameterization accelerates gradient descent.

:func:`lp_regression_optimum` computes the minimizer of a linear model's l_p
loss to machine precision (least squares for ``p = 2``, damped Newton for
``p > 2``), the reference every "distance to the optimum" is measured from.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = ["LpLoss", "check_p", "lp_loss", "lp_loss_numpy", "lp_regression_optimum"]

_EPS = float(np.finfo(np.float64).eps)


def check_p(p: Any, name: str = "p") -> float:
    """Validate an l_p exponent: a finite real ``p >= 1``; returns it as a float."""
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"{name}: expected a real number >= 1, got {p!r}")
    value = float(p)
    if not math.isfinite(value) or value < 1.0:
        raise ValueError(
            f"{name}: the l_p loss needs a finite p >= 1 (p = 2: squared error, p = 4: the "
            f"paper's l_4), got {p!r}"
        )
    return value


def _check_pair(pred: torch.Tensor, target: torch.Tensor) -> None:
    if not isinstance(pred, torch.Tensor) or not isinstance(target, torch.Tensor):
        raise TypeError(
            f"pred, target: expected torch tensors, got {type(pred).__name__} and "
            f"{type(target).__name__}"
        )
    if pred.shape != target.shape:
        raise ValueError(
            f"target: shape {tuple(target.shape)} differs from pred's {tuple(pred.shape)}; "
            "reshape one of them (e.g. pred.squeeze(-1) for a single output)"
        )
    if pred.ndim == 0 or pred.shape[0] == 0:
        raise ValueError(f"pred: expected a non-empty batch, got shape {tuple(pred.shape)}")


def lp_loss(pred: torch.Tensor, target: torch.Tensor, p: float = 2.0) -> torch.Tensor:
    """Mean over examples of ``(1/p) * sum_k |target_k - pred_k|^p``.

    Parameters
    ----------
    pred, target : torch.Tensor
        Same shape: ``(m,)`` for one output or ``(m, k)`` for ``k`` outputs.
    p : float, optional
        Exponent, ``p >= 1``.  ``p = 2`` is half the mean squared error.

    Returns
    -------
    torch.Tensor
        A scalar, differentiable in ``pred``.

    Examples
    --------
    >>> float(lp_loss(torch.tensor([0.0, 0.0]), torch.tensor([1.0, 2.0]), p=4))
    2.125
    """
    q = check_p(p)
    _check_pair(pred, target)
    r = (target - pred).abs()
    per_example = r.pow(q) if pred.ndim == 1 else r.pow(q).flatten(1).sum(dim=1)
    return per_example.mean() / q


class LpLoss(nn.Module):
    """Module form of :func:`lp_loss` (``LpLoss(p=4)(pred, target)``)."""

    def __init__(self, p: float = 2.0) -> None:
        super().__init__()
        self.p = check_p(p)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return lp_loss(pred, target, self.p)

    def extra_repr(self) -> str:
        return f"p={self.p:g}"


def lp_loss_numpy(
    w: np.ndarray[Any, Any], x: np.ndarray[Any, Any], y: np.ndarray[Any, Any], p: float
) -> float:
    """The l_p loss of the linear predictor ``x @ w`` in float64 (NumPy).

    ``w`` is ``(d,)`` for ``y`` of shape ``(m,)`` or ``(d, k)`` for ``(m, k)``.
    """
    q = check_p(p)
    r = np.abs(np.asarray(y, dtype=np.float64) - np.asarray(x, dtype=np.float64) @ w)
    return float(np.mean(np.sum((r**q).reshape(r.shape[0], -1), axis=1)) / q)


def lp_regression_optimum(
    x: np.ndarray[Any, Any] | torch.Tensor,
    y: np.ndarray[Any, Any] | torch.Tensor,
    p: float = 2.0,
    *,
    tol: float = 1e-13,
    max_iter: int = 200,
) -> tuple[np.ndarray[Any, Any], float]:
    """The exact minimizer of the l_p loss of a linear model ``x @ w`` (no intercept).

    The loss is convex; for ``p = 2`` the minimizer is the least-squares
    solution, for ``p > 2`` it is found by Newton's method with a backtracking
    line search started at least squares (the gradient is
    ``-x^T (|r|^(p-1) sign r) / m`` and the Hessian ``(p-1) x^T diag(|r|^(p-2)) x / m``
    with residuals ``r = y - x w``), iterated until the Newton decrement is
    below ``tol`` relative to the loss: the optimum to machine precision.

    Parameters
    ----------
    x : array, shape (m, d)
    y : array, shape (m,) or (m, k)
        Each output column is an independent problem.
    p : float
        ``p = 2`` or ``p > 2``.  For ``1 <= p < 2`` the loss is not twice
        differentiable and this exact solver does not apply.
    tol : float
        Stopping tolerance on the squared Newton decrement over the loss.
    max_iter : int
        Newton iterations at most; ``RuntimeError`` if they do not suffice.

    Returns
    -------
    (w, loss) : (ndarray, float)
        ``w`` of shape ``(d,)`` or ``(d, k)`` and the optimal loss.
    """
    q = check_p(p)
    if q < 2.0:
        raise ValueError(
            f"p: the exact optimum is computed for p >= 2 (twice differentiable loss), got {p!r}"
        )
    xa = np.asarray(x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x, np.float64)
    ya = np.asarray(y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else y, np.float64)
    if xa.ndim != 2 or ya.ndim not in (1, 2) or ya.shape[0] != xa.shape[0]:
        raise ValueError(
            f"x, y: expected x of shape (m, d) and y of shape (m,) or (m, k), got "
            f"{xa.shape} and {ya.shape}"
        )
    if not (np.all(np.isfinite(xa)) and np.all(np.isfinite(ya))):
        raise ValueError("x, y: contain NaN or infinite values")
    w0, *_ = np.linalg.lstsq(xa, ya, rcond=None)
    if q == 2.0:
        return w0, lp_loss_numpy(w0, xa, ya, q)
    cols = [w0] if ya.ndim == 1 else [w0[:, j] for j in range(ya.shape[1])]
    targets = [ya] if ya.ndim == 1 else [ya[:, j] for j in range(ya.shape[1])]
    m = xa.shape[0]
    out = []
    for w, t in zip(cols, targets, strict=True):
        w = w.copy()

        def f(v: np.ndarray[Any, Any], t: np.ndarray[Any, Any] = t) -> float:
            return lp_loss_numpy(v, xa, t, q)

        for _ in range(max_iter):
            r = t - xa @ w
            # An exact fit (e.g. m <= d): every residual is rounding error.  Newton converges
            # only linearly to a zero of |r|^p, so the decrement test below never passes.
            if np.all(
                np.abs(r) <= 8 * (xa.shape[1] + 1) * _EPS * (np.abs(t) + np.abs(xa) @ np.abs(w))
            ):
                break
            g = -xa.T @ (np.abs(r) ** (q - 1) * np.sign(r)) / m
            # The gradient within the rounding error that the residuals carry: converged.
            # (On tiny residuals the decrement test below can stall just above tol * loss.)
            dr = _EPS * (np.abs(t) + np.abs(xa) @ np.abs(w))
            g_noise = (q - 1) * np.abs(xa).T @ (np.abs(r) ** (q - 2) * dr) / m
            if np.all(np.abs(g) <= 8 * (xa.shape[1] + 1) * g_noise):
                break
            h = (q - 1) * (xa.T * np.abs(r) ** (q - 2)) @ xa / m
            step = np.linalg.lstsq(h, -g, rcond=None)[0]
            decrement = float(-g @ step)
            loss = float(np.mean(np.abs(r) ** q) / q)  # = f(w), from the residuals at hand
            if decrement <= tol * max(loss, 1e-300):
                # The decrement bounds the loss's error, but w's error is only its square
                # root: one more full step (quadratic convergence) puts w at machine precision.
                w = w + step
                break
            # Below the loss's own rounding noise (residuals r = t - x w cancel), the line
            # search cannot judge a step: near the optimum, take the full Newton step.
            if decrement <= 64 * float(np.mean(np.abs(r) ** (q - 1) * dr)):
                w = w + step
                continue
            a = 1.0
            while f(w + a * step) > loss - 0.25 * a * decrement and a > 1e-12:
                a *= 0.5
            if a <= 1e-12:  # no decrease representable in floating point: converged
                break
            w = w + a * step
        else:
            raise RuntimeError(
                f"lp_regression_optimum: Newton did not converge in {max_iter} steps"
            )
        out.append(w)
    w_opt = out[0] if ya.ndim == 1 else np.stack(out, axis=1)
    return w_opt, lp_loss_numpy(w_opt, xa, ya, q)
