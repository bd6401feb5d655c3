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
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import nn

from .validation import check_array, check_float, check_int, check_size, describe

__all__ = ["LpLoss", "check_p", "lp_loss", "lp_loss_numpy", "lp_regression_optimum"]

_EPS = float(np.finfo(np.float64).eps)

_P_FIX = "the l_p loss needs p >= 1 (p = 2: squared error, p = 4: the paper's l_4)"


def check_p(p: Any, name: str = "p") -> float:
    """Validate an l_p exponent: a finite real ``p >= 1``; returns it as a float.

    :func:`dltheory.validation.check_float` with ``minimum=1``: ``bool``,
    complex numbers, strings, NaN and infinities are refused.
    """
    return check_float(p, name, minimum=1.0, fix=_P_FIX)


def _check_tensors(pred: Any, target: Any) -> None:
    """``pred`` and ``target``: real tensors of one shape with a non-empty batch, on one device."""
    for name, value in (("pred", pred), ("target", target)):
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{name}: expected a torch tensor, got {describe(value)}")
        check_array(value, name, finite=False)  # real and numeric: complex, bool refused
    if pred.shape != target.shape:
        raise ValueError(
            f"target: expected the shape of pred, {tuple(pred.shape)}, got {tuple(target.shape)}; "
            "reshape one of them (e.g. pred.squeeze(-1) for a single output)"
        )
    if pred.ndim == 0 or pred.shape[0] == 0:
        raise ValueError(f"pred: expected a non-empty batch, got shape {tuple(pred.shape)}")
    if pred.device != target.device:
        raise ValueError(
            f"target: expected a tensor on {pred.device} like pred, got {target.device}"
        )


def _not_finite(pred: torch.Tensor, target: torch.Tensor, q: float) -> ValueError:
    """The error for a non-finite loss: a non-finite input, or an overflow of ``|r|^p``."""
    check_array(pred, "pred")
    check_array(target, "target")
    r = float((target.detach() - pred.detach()).abs().max())
    return ValueError(
        f"pred, target: expected residuals whose {q:g}-th powers are finite in "
        f"{pred.dtype}, got residuals up to {r:.3g}; the l_p loss overflows: rescale the "
        "data or use a smaller p"
    )


def lp_loss(pred: torch.Tensor, target: torch.Tensor, p: float = 2.0) -> torch.Tensor:
    """Mean over examples of ``(1/p) * sum_k |target_k - pred_k|^p``.

    Parameters
    ----------
    pred, target : torch.Tensor
        Real, same shape: ``(m,)`` for one output or ``(m, k)`` for ``k`` outputs,
        ``m >= 1``, on the same device.
    p : float, optional
        Exponent, a finite ``p >= 1``.  ``p = 2`` is half the mean squared error.

    Returns
    -------
    torch.Tensor
        A finite scalar, differentiable in ``pred``.

    Raises
    ------
    TypeError
        For a ``p`` that is not a real number, inputs that are not real tensors
        (complex values are refused, not cut to their real part).
    ValueError
        For ``p < 1``, NaN or infinite; mismatched shapes, an empty batch; NaN
        or infinite inputs, or a loss that overflows (checked on the result:
        one scalar test per call).

    Examples
    --------
    >>> float(lp_loss(torch.tensor([0.0, 0.0]), torch.tensor([1.0, 2.0]), p=4))
    2.125
    """
    q = check_p(p)
    _check_tensors(pred, target)
    r = (target - pred).abs()
    per_example = r.pow(q) if pred.ndim == 1 else r.pow(q).flatten(1).sum(dim=1)
    out = per_example.mean() / q
    # any NaN or infinite input makes the loss non-finite: one scalar test covers them all
    if not math.isfinite(float(out.detach())):
        raise _not_finite(pred, target, q)
    return out


class LpLoss(nn.Module):
    """Module form of :func:`lp_loss` (``LpLoss(p=4)(pred, target)``)."""

    def __init__(self, p: float = 2.0) -> None:
        super().__init__()
        self.p = check_p(p)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return lp_loss(pred, target, self.p)

    def extra_repr(self) -> str:
        return f"p={self.p:g}"


def _as_array(value: Any, name: str, ndim: int | tuple[int, ...]) -> Any:
    """``value`` (an array, a tensor or a nested list) as a real array or tensor of that rank.

    Kind and rank only (:func:`~dltheory.validation.check_array` without the
    finiteness pass, which :func:`_finite64` runs after the size checks); no
    copy is made (a list becomes an array).
    """
    if not isinstance(value, (np.ndarray, torch.Tensor)):
        if not isinstance(value, (list, tuple)):
            raise TypeError(
                f"{name}: expected an array (NumPy, torch or a list), got {describe(value)}"
            )
        try:
            value = np.asarray(value)
        except (ValueError, TypeError):
            raise TypeError(
                f"{name}: expected a rectangular array of numbers, got {describe(value)}"
            ) from None
    check_array(value, name, ndim=ndim, finite=False)
    return value


def _finite64(a: Any, name: str) -> np.ndarray[Any, Any]:
    """A checked array or tensor as a float64 NumPy array, if every entry is finite."""
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    out = np.asarray(a, dtype=np.float64)
    check_array(out, name)
    return out


def _problem(
    x: Any, y: Any, w: Any = None
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any] | None]:
    """Checked float64 ``x (m, d)``, ``y (m,) / (m, k)`` and, if given, ``w (d,) / (d, k)``.

    Shapes and sizes are checked before anything is converted or scanned.
    """
    xa = _as_array(x, "x", 2)
    ya = _as_array(y, "y", (1, 2))
    m, d = xs = tuple(xa.shape)
    ys = tuple(ya.shape)
    if m == 0 or d == 0:
        raise ValueError(
            f"x: expected at least one example (row) and one feature (column), got shape {xs}"
        )
    if ys[0] != m or (len(ys) == 2 and ys[1] == 0):
        raise ValueError(
            f"y: expected shape ({m},) or ({m}, k) with k >= 1 to match x of shape {xs}, got {ys}"
        )
    k = 1 if ya.ndim == 1 else ya.shape[1]
    # the solver holds a few copies of x (float64, |r|-weighted) and a d x d Hessian
    check_size(4 * m * d + m * k + d * d, "x", what=f"an l_p regression on x of shape {xs}")
    wa = None
    if w is not None:
        wa = _as_array(w, "w", ya.ndim)
        expected = (d,) if ya.ndim == 1 else (d, k)
        if wa.shape != expected:
            raise ValueError(
                f"w: expected shape {expected} for x of shape {xs} and y of shape {ys}, "
                f"got {tuple(wa.shape)}"
            )
        wa = _finite64(wa, "w")
    return _finite64(xa, "x"), _finite64(ya, "y"), wa


def _loss64(
    w: np.ndarray[Any, Any], x: np.ndarray[Any, Any], y: np.ndarray[Any, Any], q: float
) -> float:
    """:func:`lp_loss_numpy` of checked float64 arrays (no checks: the solver's inner loop)."""
    r = np.abs(y - x @ w)
    return float(np.mean(np.sum((r**q).reshape(r.shape[0], -1), axis=1)) / q)


def lp_loss_numpy(
    w: ArrayLike | torch.Tensor, x: ArrayLike | torch.Tensor, y: ArrayLike | torch.Tensor, p: float
) -> float:
    """The l_p loss of the linear predictor ``x @ w`` in float64 (NumPy).

    Parameters
    ----------
    w : array, shape (d,) or (d, k)
        ``(d,)`` for ``y`` of shape ``(m,)``, ``(d, k)`` for ``(m, k)``.
    x : array, shape (m, d)
    y : array, shape (m,) or (m, k)
        Real, finite arrays (NumPy, torch or nested lists), ``m, d, k >= 1``.
    p : float
        A finite ``p >= 1``.

    Returns
    -------
    float
        The loss, finite.

    Raises
    ------
    TypeError, ValueError
        For a bad ``p``, arrays that are not real, of the wrong shape, empty
        or not finite, or a loss that overflows float64.
    """
    q = check_p(p)
    xa, ya, wa = _problem(x, y, w)
    assert wa is not None
    with np.errstate(over="ignore", invalid="ignore"):
        out = _loss64(wa, xa, ya, q)
    if not math.isfinite(out):
        raise ValueError(
            f"w, x, y: expected residuals whose {q:g}-th powers are finite in float64; the l_p "
            "loss overflows: rescale the data or use a smaller p"
        )
    return out


#: ``|r|^p`` and the Newton solver's sums of such terms stay within float64's range
#: (2^-1022 .. 2^1024) with this margin (in powers of two).
_LOG2_RANGE = 960.0
#: Data magnitudes whose squares, summed, stay in range (least squares, Gram products).
_LOG2_DATA = 480.0
_SCALE_FIX = "rescale x and y (e.g. standardize them)"


def _check_magnitude(a: np.ndarray[Any, Any], name: str) -> float:
    """``max |a|``, if the squares of ``a``'s entries and their sum fit in float64."""
    top = float(np.max(np.abs(a)))
    if top > 0.0:
        e = math.log2(top)
        if e < -_LOG2_DATA or e + 0.5 * math.log2(a.size) > _LOG2_DATA:
            raise ValueError(
                f"{name}: expected magnitudes whose squares fit in float64 (about 1e-144 to "
                f"1e144), got values up to {top:.3g}; {_SCALE_FIX}"
            )
    return top


def _check_powers(
    xa: np.ndarray[Any, Any], ya: np.ndarray[Any, Any], w0: np.ndarray[Any, Any], q: float
) -> None:
    """Refuse a problem whose ``|r|^p`` terms over- or underflow float64 in the solver.

    From the least-squares start ``w0``: the line search only accepts steps
    that lower the loss, so every residual stays below ``m^(1/p) max|r0|``;
    the loss sums ``|r|^p`` over ``m`` examples, the Hessian
    ``x^2 |r|^(p-2)`` over ``m`` and ``d``.  An exact fit (residuals at
    rounding level) is fine: its loss is 0 to within rounding.
    """
    r = np.abs(ya - xa @ w0)
    rmax = float(np.max(r))
    if rmax == 0.0:
        return
    m, d = xa.shape
    ax = float(np.max(np.abs(xa)))
    top = math.log2(rmax) + math.log2(m) / q  # log2 of the largest residual on the way
    over = q * top + math.log2(m) > _LOG2_RANGE or (
        2.0 * math.log2(ax) + (q - 2.0) * top + math.log2(m * d) > _LOG2_RANGE
    )
    noise = 8 * (d + 1) * _EPS * float(np.max(np.abs(ya) + (np.abs(xa) @ np.abs(w0))))
    under = rmax > noise and q * math.log2(rmax) < -_LOG2_RANGE
    if over or under:
        raise ValueError(
            f"p: expected an exponent for which the residuals' powers |r|^p fit in float64, "
            f"got p = {q:g} with least-squares residuals up to {rmax:.3g}: |r|^p "
            f"{'overflows' if over else 'underflows'}; use a smaller p or {_SCALE_FIX}"
        )


def lp_regression_optimum(
    x: ArrayLike | torch.Tensor,
    y: ArrayLike | torch.Tensor,
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
        Real and finite (NumPy, torch or a nested list), ``m, d >= 1``.
    y : array, shape (m,) or (m, k)
        Real and finite.  Each output column is an independent problem.
    p : float
        A finite ``p >= 2``.  For ``1 <= p < 2`` the loss is not twice
        differentiable and this exact solver does not apply.
    tol : float
        Stopping tolerance on the squared Newton decrement over the loss, in
        ``[0, 1]``.
    max_iter : int
        Newton iterations at most, ``>= 1``; ``RuntimeError`` if they do not
        suffice.

    Returns
    -------
    (w, loss) : (ndarray, float)
        ``w`` of shape ``(d,)`` or ``(d, k)`` and the optimal loss, both finite.

    Raises
    ------
    TypeError, ValueError
        For bad arguments (checked before any work; the size of the problem is
        estimated before anything is converted): arrays that are not real,
        empty, of mismatched shapes or not finite; data whose squares leave
        float64's range (magnitudes beyond about ``1e144`` or below
        ``1e-144``); a ``p`` for which the residuals' ``|r|^p`` over- or
        underflow; a result that is not finite.
    RuntimeError
        If Newton's method does not converge in ``max_iter`` iterations.
    """
    q = check_float(
        p,
        "p",
        minimum=2.0,
        fix="the exact optimum is computed for p >= 2 (a twice differentiable loss)",
    )
    tol = check_float(tol, "tol", minimum=0.0, maximum=1.0, fix="relative to the loss")
    max_iter = check_int(max_iter, "max_iter", minimum=1, fix="Newton iterations at most")
    xa, ya, _ = _problem(x, y)
    _check_magnitude(xa, "x")
    _check_magnitude(ya, "y")
    w0, *_ = np.linalg.lstsq(xa, ya, rcond=None)
    if q == 2.0:
        return _finite_optimum(w0, xa, ya, q)
    _check_powers(xa, ya, w0, q)
    cols = [w0] if ya.ndim == 1 else [w0[:, j] for j in range(ya.shape[1])]
    targets = [ya] if ya.ndim == 1 else [ya[:, j] for j in range(ya.shape[1])]
    m = xa.shape[0]
    out = []
    for w, t in zip(cols, targets, strict=True):
        w = w.copy()

        def f(v: np.ndarray[Any, Any], t: np.ndarray[Any, Any] = t) -> float:
            return _loss64(v, xa, t, q)

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
    return _finite_optimum(w_opt, xa, ya, q)


def _finite_optimum(
    w: np.ndarray[Any, Any], x: np.ndarray[Any, Any], y: np.ndarray[Any, Any], q: float
) -> tuple[np.ndarray[Any, Any], float]:
    """``(w, loss)``, or a ``ValueError`` if either is not finite (never returned as a number)."""
    loss = _loss64(w, x, y, q)
    if not (math.isfinite(loss) and bool(np.isfinite(w).all())):
        raise ValueError(
            "x, y: the l_p optimum is not finite in float64 (the data are too ill-conditioned "
            "or badly scaled for the solver); rescale x and y (e.g. standardize them)"
        )
    return w, loss
