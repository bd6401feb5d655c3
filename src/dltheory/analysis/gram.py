"""The Gram route: a same-side group of children through the Hadamard product of their Grams.

A group of children whose subtrees lie on one side of the bipartition enters
the Schmidt spectrum only through the Gram matrix of its pooled channels, and
by the Khatri-Rao identity ``(F_1 . F_2)^T (F_1 . F_2) = G_1 * G_2`` (product
pooling, Cohen, Sharir & Shashua, COLT'16, eq. (3)) that Gram is the Hadamard
product of the children's Grams ``G_c = F_c^T F_c``.  Its Cholesky factor ``R``
is an exact triangular factor of the group, in ``O(r^3)`` flops where the
orthogonal route's QR of the ``r^2 x r`` Khatri-Rao product costs ``2 r^4``.

Accuracy of the Gram route.  The Grams are computed as ``F^T F``, so their
rounding errors are relative to their diagonals,
``|dG_ab| <= k eps sqrt(G_aa G_bb)``, and so are those of their Hadamard
product ``H``.  Writing ``H = D C D`` with ``C`` the unit-diagonal
(correlation) matrix, the computed Cholesky factor is the exact factor of
``D (C + E) D`` with ``||E|| <= r eps`` (up to constants): a *multiplicative*
perturbation ``R~ = Q (I + Delta) R`` with ``||Delta|| <= r eps / lambda_min(C)``.
Multiplicative perturbations pass unchanged through ``W``, through the later
Khatri-Rao and Hadamard products, so each singular value at the root gets a
relative error of at most the sum of these ``||Delta||`` (besides the ordinary
rounding both routes share).  The route is taken only where
``4 r eps / lambda_min(C) <= GRAM_TOL`` (``lambda_min(C)`` from LAPACK's
``dpocon`` condition estimate after the Cholesky); elsewhere (rank-deficient or
ill-conditioned groups, dead channels) the orthogonal route is used.  Squaring
the condition number unchecked would cost, on a group whose channels differ by
1e-4, ~3e-8 of the largest singular value.  Products of Grams are well
conditioned in random nets (off-diagonal correlations shrink as they are
multiplied): at breadths 16..128 every pure group of a random 32x32 net takes
the Gram route, with the bounds summing to ~2e-11.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import blas, lapack

if TYPE_CHECKING:
    from .cores import CoreStats

__all__ = ["GRAM_TOL", "gram_factor"]

#: Largest accepted bound on the relative error one Gram factorization adds
#: to the singular values (``4 r eps / lambda_min`` of its correlation matrix).
GRAM_TOL = 2.0**-40

_EPS = float(np.finfo(np.float64).eps)
_SAFETY = 4.0  # on the rounding constant and on dpocon's estimate of lambda_min


def gram_factor(
    factors: list[NDArray[Any]], logs: list[float], stats: CoreStats
) -> tuple[NDArray[np.float64], float] | None:
    """Upper-triangular ``R`` and log-scale with ``R^T R`` the Gram of the pooled group, or None.

    ``factors[c] * exp(logs[c])`` are the children's factors (C-contiguous,
    ``(k_c, r)`` up to unit axes), the group's factor is ``exp(log) * R``.

    None when the group's correlation matrix is too ill-conditioned for the
    Gram route to meet :data:`GRAM_TOL` (see the module notes), singular, or
    has a dead channel.  Only upper triangles are formed (``syrk``); the lower
    ones stay zero (``dpotrf`` reads the upper one).
    """
    r = factors[0].shape[-1]
    h = np.zeros((r, r), order="F")
    log2 = 0.0
    for n, factor in enumerate(factors):
        f = factor.reshape(-1, r)  # (k, r): a same-side core is (k, 1, r) or (1, k, r)
        k = f.shape[0]
        stats.flops += float(k * r * (r + 1))
        if n == 0:
            h = blas.dsyrk(1.0, f.T, c=h, overwrite_c=1)  # f.T is Fortran-ordered: no copy
        else:
            h *= blas.dsyrk(1.0, f.T)
            stats.flops += float(r * r)
        top = float(np.max(np.diagonal(h)))
        if not top > 0.0:
            return None
        h *= 1.0 / top
        log2 += math.log(top)
    d = np.sqrt(np.diagonal(h))
    if not float(d.min()) > 0.0:
        return None
    inv = 1.0 / d
    h *= np.multiply.outer(inv, inv).T  # the correlation matrix C (.T: h's Fortran order)
    chol, info = lapack.dpotrf(h, lower=0, clean=1)
    stats.flops += r**3 / 3.0 + 3.0 * r * r
    if info != 0:
        return None
    # dpocon returns 1 / (anorm * est ||C^-1||_1); with anorm = 1 that is the estimate of
    # 1 / ||C^-1||_1 <= 1 / ||C^-1||_2 = lambda_min(C) itself (C's own norm is not needed)
    rcond, info = lapack.dpocon(chol, 1.0)
    lam = float(rcond)
    err = _SAFETY * r * _EPS / lam if info == 0 and lam > 0.0 else math.inf
    if not err <= GRAM_TOL:
        return None
    stats.gram_groups += 1
    stats.gram_error += err
    chol *= d[None, :]
    return chol, sum(logs) + 0.5 * log2
