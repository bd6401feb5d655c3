"""Exact linear algebra over the prime field Z/pZ, vectorized with NumPy int64.

Entries are kept in ``[0, p)`` with ``p < 2**31``, so a product of two entries
fits in int64 (< 2**62) and every reduction is exact.  Used to certify ranks
of integer tensors (a rank mod p never exceeds the rank over the rationals).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..validation import check_int

__all__ = ["DEFAULT_PRIME", "check_prime", "rref_rows", "rank_mod_p", "mod_pool_last"]

#: The Mersenne prime 2**31 - 1.
DEFAULT_PRIME = 2**31 - 1


def check_prime(p: Any, name: str = "prime") -> int:
    """Return ``p`` if it is a prime in (2, 2**31), else raise ``ValueError`` naming ``name``.

    (Products of two residues below 2**31 fit in int64, so every reduction is exact.)
    """
    p = check_int(p, name, minimum=3, maximum=2**31 - 1, fix="a prime below 2**31")
    if p % 2 == 0 or any(p % d == 0 for d in range(3, int(p**0.5) + 1, 2)):
        raise ValueError(f"{name}: {p} is not prime")
    return p


def rref_rows(mat: NDArray[Any], p: int) -> NDArray[np.int64]:
    """Nonzero rows of the reduced row echelon form of ``mat`` over Z/pZ.

    The returned ``X`` (rank x n) spans the row space of ``mat``, and
    ``mat = mat[:, pivots] @ X`` with ``mat[:, pivots]`` of full column rank.
    """
    a = np.mod(np.asarray(mat, dtype=np.int64), p)
    m, n = a.shape
    row = 0
    for col in range(n):
        if row == m:
            break
        nz = np.flatnonzero(a[row:, col])
        if nz.size == 0:
            continue
        piv = row + int(nz[0])
        if piv != row:
            a[[row, piv]] = a[[piv, row]]
        inv = pow(int(a[row, col]), p - 2, p)
        a[row] = (a[row] * inv) % p
        factors = a[:, col].copy()
        factors[row] = 0
        targets = np.flatnonzero(factors)
        if targets.size:
            a[targets] = (a[targets] - (factors[targets, None] * a[row][None, :]) % p) % p
        row += 1
    return a[:row]


def rank_mod_p(mat: NDArray[Any], p: int) -> int:
    """Rank of an integer matrix over Z/pZ (floats refused: their residues mean nothing)."""
    a = np.asarray(mat)
    if a.dtype.kind not in "iu":
        raise TypeError(f"mat: expected an integer matrix, got dtype {a.dtype}")
    if a.ndim != 2:
        raise ValueError(f"mat: expected a matrix, got shape {a.shape}")
    return int(rref_rows(a, check_prime(p, "p")).shape[0])


def mod_pool_last(
    head: NDArray[np.int64], last: NDArray[np.int64], w: NDArray[np.int64], p: int
) -> NDArray[np.int64]:
    """Pool a partial Khatri-Rao product with the last child and ``w``, mod p.

    ``out[(a, la), (b, lb), g] = sum_alpha w[alpha, g] head[a, b, alpha] last[la, lb, alpha]``.

    Entries of the inputs lie in ``[0, p)``; one pooling index at a time, so
    every intermediate product stays below 2**62.
    """
    a, b, r = head.shape
    la, lb, _ = last.shape
    g = w.shape[1]
    out = np.zeros((a, la, b, lb, g), dtype=np.int64)
    for alpha in range(r):
        hw = (head[:, :, alpha, None] * w[alpha]) % p  # (a, b, g)
        term = (hw[:, None, :, None, :] * last[None, :, None, :, alpha, None]) % p
        out = (out + term) % p
    return out.reshape(a * la, b * lb, g)
