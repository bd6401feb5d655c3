"""Certified ranks of integer matrices: ranks over prime fields with a Hadamard-bound certificate.

Used by ``generalized-depth-efficiency`` for grid tensors of ReLU / max-pool
networks (integer after quantization): the rank of an integer matrix over
``Z/p`` is at most its rank over the rationals, with equality unless ``p``
divides every maximal nonzero minor; the minors are bounded by Hadamard's
inequality, so enough distinct primes certify the rational rank
(:func:`certified_rank`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..analysis.modular import DEFAULT_PRIME, rref_rows
from ..validation import check_int

__all__ = [
    "RankCertificate",
    "certified_rank",
    "float_rank",
    "is_prime",
    "primes_below",
    "rank_mod",
]


def rank_mod(mat: NDArray[Any], prime: int) -> int:
    """Rank of an integer matrix modulo a prime below 2^31 (row reduction of trailing blocks)."""
    a = np.asarray(mat)
    if a.dtype.kind not in "iu" or a.ndim != 2:
        raise TypeError(f"mat: expected an integer matrix, got {a.dtype} of shape {a.shape}")
    return _echelon(a, check_int(prime, "prime", minimum=3, maximum=2**31 - 1))[0]


def is_prime(n: int) -> bool:
    """Deterministic Miller-Rabin for ``n < 3.2e9`` (bases 2, 3, 5, 7)."""
    if n < 2:
        return False
    for p in (2, 3, 5, 7):
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for a in (2, 3, 5, 7):
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


_PRIMES: dict[int, list[int]] = {}


def primes_below(limit: int, count: int) -> tuple[int, ...]:
    """The ``count`` largest primes below ``limit`` (at most ``2^31``), largest first."""
    limit = check_int(limit, "limit", minimum=3, maximum=2**31)
    count = check_int(count, "count", minimum=0, maximum=100_000)
    found = _PRIMES.setdefault(limit, [])
    k = (found[-1] if found else limit) - 1
    while len(found) < count and k > 2:
        if is_prime(k):
            found.append(k)
        k -= 1
    return tuple(found[:count])


def _cert_prime_limit(r: int) -> int:
    """Primes for rank-``r`` checks: ``r`` products of two residues must sum below 2^63."""
    return 2**28 if r < 128 else 2**25


def _echelon(a: NDArray[np.int64], p: int) -> tuple[int, list[int], list[int]]:
    """Rank mod p by row reduction of the trailing block only, with the pivots' rows/columns.

    Partial pivoting gives ``P a = L U``; the pivot rows (original indices) and columns
    then span a block that is invertible mod p.
    """
    w = np.mod(np.asarray(a, dtype=np.int64), p)
    m, n = w.shape
    perm = np.arange(m)
    cols: list[int] = []
    r = 0
    for c in range(n):
        if r == m:
            break
        nz = np.flatnonzero(w[r:, c])
        if nz.size == 0:
            continue
        piv = r + int(nz[0])
        if piv != r:
            w[[r, piv], c:] = w[[piv, r], c:]
            perm[[r, piv]] = perm[[piv, r]]
        row = (w[r, c:] * pow(int(w[r, c]), p - 2, p)) % p
        below = w[r + 1 :, c]
        hit = np.flatnonzero(below)
        if hit.size:
            idx = r + 1 + hit
            w[idx, c:] = (w[idx, c:] - (below[hit, None] * row[None, :]) % p) % p
        cols.append(c)
        r += 1
    return r, [int(i) for i in perm[:r]], cols


def _rank_is(a: NDArray[np.int64], rows: list[int], cols: list[int], p: int) -> bool | None:
    """Whether ``rank(a) mod p == len(rows)`` (``None`` when the block is singular mod p).

    With the block ``B = a[rows, cols]`` invertible mod p the rank is ``r`` iff the
    Schur complement vanishes: ``a == a[:, cols] B^-1 a[rows, :]`` mod p.  Two int64
    matrix products instead of an elimination.
    """
    r = len(rows)
    block = a[np.ix_(rows, cols)] % p
    aug = rref_rows(np.hstack([block, np.eye(r, dtype=np.int64)]), p)
    if not np.array_equal(aug[:, :r], np.eye(r, dtype=np.int64)):
        return None
    right = (aug[:, r:] @ (a[rows] % p)) % p
    return bool(np.array_equal(((a[:, cols] % p) @ right) % p, a % p))


@dataclass(frozen=True)
class RankCertificate:
    """What is proven about the rational rank of an integer matrix.

    ``lower <= rank <= upper``; ``exact`` when they meet.  ``lower`` is the largest rank
    modulo the primes tried, ``upper`` either ``lower`` (certified by ``primes`` primes
    against the Hadamard bound) or the number of distinct rows/columns.
    """

    lower: int
    upper: int
    primes: int
    distinct: tuple[int, int]

    @property
    def exact(self) -> bool:
        return self.lower == self.upper

    def to_json(self) -> dict[str, Any]:
        return {
            "rank": self.lower,
            "upper": self.upper,
            "exact": self.exact,
            "primes": self.primes,
            "distinct": list(self.distinct),
        }


def _log2_hadamard(a: NDArray[np.int64], k: int) -> float:
    """log2 of a bound on every ``k x k`` minor: the k largest row (or column) norms."""

    def top(norms: NDArray[np.float64]) -> float:
        big = np.sort(norms)[::-1][:k]
        return float(np.sum(np.log2(np.maximum(big, 1.0))))

    f = a.astype(np.float64)
    rows = np.sqrt(np.sum(f * f, axis=1))
    cols = np.sqrt(np.sum(f * f, axis=0))
    return min(top(rows), top(cols)) * (1 + 1e-9) + 1.0  # float rounding: one spare bit


def certified_rank(mat: NDArray[Any], cap: int) -> RankCertificate:
    """Rank of an integer matrix over the rationals: exact when it is ``<= cap`` (or trivial).

    The rank modulo a prime never exceeds the rational rank (lower bound ``r``).  When
    ``r <= cap``, further primes are tried until their product exceeds the Hadamard bound
    of the ``(r + 1)``-minors; if the rank modulo each of them is ``r`` too, every such
    minor is an integer divisible by their product and smaller than it, hence 0, so the
    rank is at most ``r``: exact.  (A prime with a larger rank raises ``r`` and the
    search goes on.)  Above ``cap`` only the lower bound and the number of distinct rows
    and columns (an upper bound) are given.  Cost: about ``(r + 1) (b + log2(n)/2) / 28``
    primes for entries of ``b`` bits, each two ``n x r x n`` integer matrix products.
    """
    a = np.asarray(mat)
    if a.dtype.kind not in "iu" or a.ndim != 2:
        raise TypeError(f"mat: expected an integer matrix, got {a.dtype} of shape {a.shape}")
    cap = check_int(cap, "cap", minimum=0)
    a = np.unique(np.unique(a.astype(np.int64), axis=0), axis=1)  # rank-preserving, exact
    distinct = (int(a.shape[0]), int(a.shape[1]))
    trivial = min(distinct)
    lower, rows, cols = _echelon(a, DEFAULT_PRIME)
    if lower == 0:  # every entry divisible by the prime: rank 0 iff the matrix is 0
        return RankCertificate(0 if not a.any() else 1, 0 if not a.any() else trivial, 1, distinct)
    if lower == trivial or lower > cap:
        return RankCertificate(lower, trivial, 1, distinct)
    seen = {DEFAULT_PRIME}  # the product of *distinct* primes must exceed the bound
    bits, i = math.log2(DEFAULT_PRIME), 0
    need = _log2_hadamard(a, lower + 1)
    while bits <= need:
        i += 1
        p = primes_below(_cert_prime_limit(lower), i)[-1]
        if p in seen:
            continue
        seen.add(p)
        same = _rank_is(a, rows, cols, p)
        if not same:  # the block is singular mod p (None), or the rank grew (False)
            r, prow, pcol = _echelon(a, p)
            if r > lower:
                if r == trivial or r > cap:
                    return RankCertificate(r, trivial, len(seen), distinct)
                lower, rows, cols = r, prow, pcol
                need = _log2_hadamard(a, lower + 1)
        bits += math.log2(p)
    return RankCertificate(lower, lower, len(seen), distinct)


def float_rank(mat: NDArray[Any]) -> tuple[int, float | None]:
    """Numerical rank (NumPy's default tolerance) and the gap ``s_r / s_(r+1)`` (None: no gap)."""
    s = np.linalg.svd(np.asarray(mat, dtype=np.float64), compute_uv=False)
    if s.size == 0 or s[0] == 0:
        return 0, None
    tol = s[0] * max(np.shape(mat)) * np.finfo(np.float64).eps
    r = int(np.count_nonzero(s > tol))
    if r == 0 or r >= s.size:
        return r, None
    return r, float(s[r - 1] / s[r]) if s[r] > 0 else None
