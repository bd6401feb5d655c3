"""Entanglement measures of a Schmidt spectrum (Levine, Yakira, Cohen & Shashua, ICLR'18, Sec. 3).

Each takes the singular values ``s`` of a matricization; the spectrum is
normalized to a unit-norm state first (``p_k = s_k^2 / sum s^2``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..validation import check_float

__all__ = ["entanglement_entropy", "geometric_measure", "schmidt_number"]


def _values(s: ArrayLike) -> NDArray[np.float64]:
    raw = np.asarray(s)
    if raw.dtype.kind == "c":
        raise TypeError("s: expected real singular values, got complex")
    if raw.dtype.kind not in "iuf":
        raise TypeError(f"s: expected numbers, got dtype {raw.dtype}")
    return raw.astype(np.float64)


def _probs(s: ArrayLike) -> NDArray[np.float64]:
    a = _values(s)
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"s: expected a non-empty 1D spectrum, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError("s: spectrum contains NaN or infinite values")
    if (a < 0).any():
        raise ValueError("s: singular values must be non-negative")
    top = a.max()
    if top == 0:
        raise ValueError("s: the spectrum is all zeros (the tensor is zero)")
    q = (a / top) ** 2
    return q / q.sum()


def entanglement_entropy(s: ArrayLike) -> float:
    """Von Neumann entropy ``-sum p_k log p_k`` (natural log); at most ``log(rank)``."""
    p = _probs(s)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def geometric_measure(s: ArrayLike) -> float:
    """Geometric measure ``1 - max_k p_k``: distance of the state from the nearest product state."""
    return float(1.0 - _probs(s).max())


def schmidt_number(s: ArrayLike, tol: float | None = None) -> int:
    """Schmidt number: how many singular values exceed ``tol``.

    ``tol`` defaults to ``max(s) * len(s) * eps`` (the ``matrix_rank`` rule).
    """
    a = _values(s)
    _probs(a)
    if tol is None:
        thr = float(a.max()) * a.size * float(np.finfo(np.float64).eps)
    else:
        thr = check_float(tol, "tol", minimum=0.0)
    return int(np.count_nonzero(a > thr))
