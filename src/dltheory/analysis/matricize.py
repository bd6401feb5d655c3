"""Matricization of dense tensors (the brute-force reference for small cases)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..validation import check_int

__all__ = ["matricize", "dense_schmidt_values"]


def _modes(ndim: int, I: Iterable[int]) -> tuple[list[int], list[int]]:
    if isinstance(I, (str, bytes, Mapping)) or not isinstance(I, Iterable):
        raise TypeError(f"I: expected a collection of mode indices, got {type(I).__name__}")
    rows = [check_int(i, "I") for i in I]
    bad = [i for i in rows if not 0 <= i < ndim]
    if bad:
        raise ValueError(f"I: modes {bad[:5]} are outside 0..{ndim - 1}")
    if len(set(rows)) != len(rows):
        raise ValueError("I: a mode is listed twice")
    rows = sorted(rows)
    cols = [j for j in range(ndim) if j not in set(rows)]
    return rows, cols


def matricize(dense: NDArray[Any], I: Iterable[int]) -> NDArray[Any]:
    """The matrix ``[A]_{I, J}``: rows index the modes in ``I`` (sorted), columns the rest.

    Both index sets are flattened in row-major (C) order.
    """
    a = np.asarray(dense)
    if a.dtype.kind not in "iufcO":
        raise TypeError(f"dense: expected a numeric tensor, got dtype {a.dtype}")
    if a.ndim < 2 or a.size == 0:
        raise ValueError(
            f"dense: expected a non-empty tensor with at least two modes, got shape {a.shape}"
        )
    rows, cols = _modes(a.ndim, I)
    nr = int(np.prod([a.shape[i] for i in rows], dtype=np.int64))
    return a.transpose(rows + cols).reshape(nr, -1)


def dense_schmidt_values(dense: NDArray[Any], I: Iterable[int]) -> NDArray[np.float64]:
    """Singular values of ``matricize(dense, I)`` by ``numpy.linalg.svd`` (decreasing).

    Real, finite tensors only (complex ones are refused, not truncated).
    """
    a = np.asarray(dense)
    if a.dtype.kind == "c":
        raise TypeError("dense: expected a real tensor, got complex")
    m = matricize(a, I).astype(np.float64)
    if not np.isfinite(m).all():
        raise ValueError("dense: has NaN or infinite values; expected finite numbers")
    return np.asarray(np.linalg.svd(m, compute_uv=False), dtype=np.float64)
