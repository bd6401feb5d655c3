"""The end-to-end update rule of deep linear networks (the math; the optimizer is in
:mod:`dltheory.optim.end_to_end`).

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
trajectory of the depth-``N`` network, at the cost of one small symmetric
eigendecomposition per step instead of ``N`` wide layers.

How the sum is computed
-----------------------
With ``k = min(out, in)`` and, say, ``out <= in`` (the other case is the
transpose: Eq. 7 maps to itself under ``W -> W^T``, ``j -> N + 1 - j``), let
``W W^T = U diag(lam) U^T`` (``k x k``, in float64) and ``B = U^T W``
(``= S V^T`` of the thin SVD ``W = U S V^T``).  Then ``[W^T W]^p =
B^T diag(lam^(p-1)) B`` for ``p > 0`` and the ``N`` terms sum to

.. math::
    U \\left[ \\mathrm{diag}(\\lambda^{(N-1)/N}) C
    + \\left( (C B^\\top) \\circ K \\right) B \\right], \\qquad
    C = U^\\top G, \\quad
    K_{ab} = \\sum_{j=1}^{N-1} \\lambda_a^{(j-1)/N} \\lambda_b^{(N-j)/N - 1},

(``lam_a^0 = 1``, the convention ``A^0 = I``; ``K_ab = 0`` where ``lam_b`` is
zero).  No SVD is needed: one ``k x k`` eigendecomposition and a few
matrix products.  Small CPU matrices (``k <= 32`` and ``k^2 max(out, in) <=
2^18``: the ``3 x 3`` and ``10 x 64`` of the bundled data sets) are done in
float64 NumPy with LAPACK's ``dsyevd`` called directly, where the per-call
overhead of ``torch.linalg`` (and of a dozen small torch operations) would
dominate; larger ones in torch (Gram matrix and eigendecomposition in float64,
products in the parameter's dtype).

Accuracy (the Gram matrix squares the condition number)
-------------------------------------------------------
Eigenvalues of ``W W^T`` carry an absolute error ``~ k eps lam_max``, so the
route resolves singular values only down to ``~ sqrt(k eps) s_max`` and the
update's relative error grows like ``cond(W)^(2 - 2/N) eps / N`` (first-order
perturbation of ``lam^(1/N)``).  Hence:

* float32 / half inputs: the Gram matrix and its eigendecomposition are in
  float64.  Its worst case, ``(k eps_64)^(1/N)`` for singular values at the
  float64 noise floor, is below the ``(k eps_32)^(2/N)`` that the float32
  weight's own rounding (and a float32 SVD) leaves, so no fallback is needed.
  Eigenvalues below ``(max(out, in) eps)^2 lam_max``, ``eps`` of the weight's
  dtype (the SVD's cutoff ``s < max(out, in) eps s_max``, squared), are exact
  zeros.  Tested: never worse than a float32 SVD, and ``<= 1e-6`` relative
  for ``cond(W) <= 1e3`` (measured ``~ 5e-8``, the SVD's ``~ 1e-6``).
* float64 inputs: the route is taken only when ``lam_min >= 1e-6 lam_max``
  (``cond(W) <= 1e3``: relative error ``<~ 1e-11``, tested ``<= 1e-10``
  against the exact sum on matrices of known spectrum); ill-conditioned,
  rank-deficient or badly scaled float64 weights fall back to the thin SVD
  (singular values to ``eps s_max``; values ``< max(out, in) eps s_max`` are
  zeros), so float64 keeps SVD accuracy everywhere.

:func:`end_to_end_update` is the fast form used by the optimizer;
:func:`end_to_end_update_reference` is the literal sum of ``N`` terms with
matrix powers by eigendecomposition, kept as an independent check.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.autograd.graph import increment_version

from ..validation import check_array, check_int, describe

__all__ = ["MAX_DEPTH", "apply_update", "end_to_end_update", "end_to_end_update_reference"]

#: Deepest network emulated.  A step costs ``O(N)`` in the depth: ``N - 2`` products of
#: ``k x k`` matrices in the Gram route, ``(N - 2) x k`` tables of powers in the SVD
#: route, ``2 N`` eigendecompositions in the reference; at this depth one step of a
#: ``32 x 32`` weight takes ~0.1 s, and it is the deepest :class:`dltheory.DeepLinear`
#: the project builds (``nets.linear.MAX_DEPTH``), whose trajectory ``EndToEnd``
#: follows.
MAX_DEPTH = 10_000

_DEPTH_FIX = f"the emulated depth N, 1 <= N <= {MAX_DEPTH} (N = 1: plain gradient descent)"

#: float64 weights take the Gram route only when ``lam_min >= _TAU_64 * lam_max``
#: (``cond(W) <= 1e3``); otherwise the SVD.
_TAU_64 = 1e-6
#: ... and only when ``lam_max`` lies in this range (no over/underflow of its powers).
_LAM_RANGE_64 = (1e-200, 1e200)
#: CPU matrices with ``k = min(out, in) <= _NUMPY_K`` and ``k^2 max(out, in) <=
#: _NUMPY_FLOPS`` are done in NumPy: per-call overhead, not flops, is their cost.  Past
#: that, NumPy's BLAS would go multi-threaded against torch's threads (measured: 8x
#: slower than torch at 32 x 512 on 2 cores).
_NUMPY_K = 32
_NUMPY_FLOPS = 1 << 18
_NUMPY_DTYPES = (torch.float32, torch.float64)


def _numpy_eigh() -> Callable[[np.ndarray[Any, Any]], tuple[np.ndarray[Any, Any], ...]]:
    """LAPACK ``dsyevd`` through SciPy's thin wrapper (~1 us at 3 x 3), else NumPy's eigh."""
    try:
        from scipy.linalg import lapack
    except ImportError:  # pragma: no cover - scipy comes with scikit-learn
        return np.linalg.eigh
    return lapack.dsyevd


_EIGH = _numpy_eigh()


def _depth(depth: Any) -> int:
    """The checked depth (:func:`~dltheory.validation.check_int`, ``1 .. MAX_DEPTH``)."""
    return check_int(depth, "depth", minimum=1, maximum=MAX_DEPTH, fix=_DEPTH_FIX)


_NON_FINITE = "weight: has NaN or infinite values (the run diverged?); lower lr"
_NON_FINITE_GRAD = (
    "grad: has NaN or infinite values, or the update overflows (a NaN or infinite loss? "
    "the run diverged?); lower lr"
)


def _vector_coefficients(w: torch.Tensor, g: torch.Tensor, n: int) -> tuple[float, float] | None:
    """``(scale, alpha)`` of Eq. 10, update ``= scale * (g + alpha * w)``; ``None`` at ``w = 0``."""
    sq = float(torch.dot(w, w))
    if sq == 0.0:
        return None
    if not math.isfinite(sq):
        raise ValueError(_NON_FINITE)
    alpha = (n - 1) * float(torch.dot(g, w)) / sq
    if not math.isfinite(alpha):  # <g, w> is NaN or infinite for a non-finite g
        raise ValueError(_NON_FINITE_GRAD)
    return sq ** (1.0 - 1.0 / n), alpha


def _vector_update(w: torch.Tensor, g: torch.Tensor, n: int) -> torch.Tensor:
    """``||w||^(2-2/N) (g + (N-1) <g, w> w / ||w||^2)`` (Eq. 10); 0 at ``w = 0``."""
    if n == 1:
        return g
    coef = _vector_coefficients(w, g, n)
    if coef is None:
        return torch.zeros_like(g)
    return torch.add(g, w, alpha=coef[1]).mul_(coef[0])


@functools.lru_cache(maxsize=64)
def _exponents(
    n: int, dtype: torch.dtype, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Columns ``2(j-1)/N`` and ``2(N-j)/N`` for ``j = 2 .. N-1`` (cached per depth)."""
    j = torch.arange(2, n, dtype=torch.float64)[:, None]
    return (2.0 * (j - 1) / n).to(dtype=dtype, device=device), (2.0 * (n - j) / n).to(
        dtype=dtype, device=device
    )


def _svd_update(w: torch.Tensor, g: torch.Tensor, n: int) -> torch.Tensor:
    """The ``N``-term sum of Eq. 7 in the singular basis of ``w`` (one thin SVD).

    The fallback of :func:`_matrix_update` (float64 weights that are
    ill-conditioned or rank-deficient, devices without float64).
    """
    if not bool(torch.isfinite(w).all()):  # the SVD raises on NaN but returns NaN for inf
        raise ValueError(_NON_FINITE)
    if not bool(torch.isfinite(g).all()):  # the fallback route: a full check is cheap here
        raise ValueError(_NON_FINITE_GRAD)
    try:
        u, s, vh = torch.linalg.svd(w, full_matrices=False)
    except RuntimeError as exc:  # LinAlgError: non-finite entries
        raise ValueError(
            f"weight: the SVD failed ({exc}); NaN or infinite values mean the run diverged: "
            "lower lr"
        ) from None
    # singular values at rounding level are exact zeros (rank deficiency): a
    # fractional power would lift 1e-16 to (1e-16)^(1/2) = 1e-8.  s[0] is the largest.
    cutoff = float(s[0].detach()) * max(w.shape) * torch.finfo(s.dtype).eps
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


def _gram_weights(t: Any, inv: Any, n: int, scale: float) -> Any:
    """``scale * K~`` with ``K~_ab = sum_{i=0}^{N-2} t_a^i inv_b^(i+1)`` (NumPy or torch).

    ``t = (lam / lam_max)^(1/N)`` and ``inv = 1 / t`` (0 where ``lam`` is cut):
    ``K = lam_max^(-1/N) K~`` is the ``K`` of the module docstring, kept
    normalized so that it stays in range in float32.  ``N = 2``: a ``1 x k`` row.
    """
    pb = (inv * scale)[None, :]  # i = 0 (j = 1: lam_a^0 = 1)
    if n == 2:
        return pb
    ta, ib = t[:, None], inv[None, :]
    pa, out = ta, pb
    for i in range(1, n - 1):
        pb = pb * ib
        out = out + pa * pb
        if i < n - 2:
            pa = pa * ta
    return out


def _spectrum(lam: Any, lmax: float, cut: float, n: int, xp: Any) -> tuple[Any, Any]:
    """``t = (lam / lam_max)^(1/N)`` and ``inv = 1 / t``, both 0 where ``lam <= cut``."""
    rel = lam * (1.0 / lmax)
    if float(lam[0]) > cut:  # the common case: no eigenvalue is cut
        t = rel ** (1.0 / n)
        return t, 1.0 / t
    keep = rel > cut / lmax
    t = xp.where(keep, abs(rel) ** (1.0 / n), 0.0)
    return t, xp.where(keep, 1.0 / xp.where(keep, t, 1.0), 0.0)


def _gram_core_numpy(
    wg: np.ndarray[Any, Any], m: int, n: int, eps: float, guarded: bool, factor: float = 1.0
) -> np.ndarray[Any, Any] | None:
    """``factor`` times the update by the Gram route, in float64 NumPy.

    ``wg = [W | G]`` (``k x 2m``, ``W`` and ``G`` of shape ``(k, m)``, ``k <= m``,
    side by side so that one product gives both ``U^T W`` and ``U^T G``;
    ``factor``: e.g. ``-lr``, folded into the small factors rather than paid
    as an operation on the result).  Returns ``None`` when ``guarded``
    (float64 input) and the route's accuracy conditions fail, or when LAPACK
    does not converge (see the module docstring); raises on non-finite ``W``.
    """
    w = wg[:, :m]
    gram = w @ w.T
    trace = float(gram.trace())  # >= lam_max; NaN / inf for non-finite w, 0 for w = 0
    if trace == 0.0:
        return np.zeros_like(w)
    if not math.isfinite(trace):
        raise ValueError(_NON_FINITE)
    res = _EIGH(gram)
    if len(res) > 2 and res[2] != 0:  # LAPACK's info: no convergence
        return None
    lam, u = res[0], res[1]
    lmax = float(lam[-1])
    if guarded and not (
        float(lam[0]) >= _TAU_64 * lmax and _LAM_RANGE_64[0] < lmax < _LAM_RANGE_64[1]
    ):
        return None
    t, inv = _spectrum(lam, lmax, lmax * (max(w.shape) * eps) ** 2, n, np)
    bc = u.T @ wg  # [B | C] = [U^T W | U^T G]
    b, c = bc[:, :m], bc[:, m:]
    d = c @ b.T
    # A NaN or infinite entry of G fills its column of C = U^T G with NaN / +-inf, and
    # hence every entry of D = C B^T: one entry tells, at no cost (finite W, checked above).
    if not math.isfinite(d[0, 0]):
        raise ValueError(_NON_FINITE_GRAD)
    scale = factor * lmax ** ((n - 1) / n)
    d *= _gram_weights(t, inv, n, scale / lmax)
    inner = ((t if n == 2 else t ** (n - 1)) * scale)[:, None] * c
    inner += d @ b
    return u @ inner


def _gram_core_torch(
    w: torch.Tensor, g: torch.Tensor, n: int, eps: float, guarded: bool
) -> torch.Tensor | None:
    """:func:`_gram_core_numpy` in torch: Gram matrix and eigendecomposition in float64,
    the products in ``w``'s dtype (any device with float64); the scaled update."""
    w64 = w.to(torch.float64)
    gram = w64 @ w64.T
    trace = float(gram.trace())
    if trace == 0.0:
        return torch.zeros_like(g)
    if not math.isfinite(trace):
        raise ValueError(_NON_FINITE)
    try:
        lam, u64 = torch.linalg.eigh(gram)
    except RuntimeError:  # LinAlgError: no convergence
        return None
    lmax = float(lam[-1])
    if guarded and not (
        float(lam[0]) >= _TAU_64 * lmax and _LAM_RANGE_64[0] < lmax < _LAM_RANGE_64[1]
    ):
        return None
    t, inv = _spectrum(lam, lmax, lmax * (max(w.shape) * eps) ** 2, n, torch)
    top = lmax ** ((n - 1) / n)
    dt = w.dtype
    u = u64.to(dt)
    c = u.T @ g
    b = u.T @ w
    d = c @ b.T
    if not math.isfinite(float(d[0, 0])):  # a non-finite G fills D (see _gram_core_numpy)
        raise ValueError(_NON_FINITE_GRAD)
    d.mul_(_gram_weights(t, inv, n, top / lmax).to(dt))
    inner = torch.addmm(t.pow(n - 1).mul_(top).to(dt)[:, None] * c, d, b)
    return u @ inner


_EPS = {
    torch.float32: float(torch.finfo(torch.float32).eps),
    torch.float64: float(torch.finfo(torch.float64).eps),
}


def _uses_numpy(w: torch.Tensor) -> bool:
    """Whether the 2-D ``w`` takes the NumPy path (small, CPU, float32 / float64)."""
    if w.dtype not in _NUMPY_DTYPES or w.device.type != "cpu":
        return False
    k, m = sorted(w.shape)
    return k <= _NUMPY_K and k * k * m <= _NUMPY_FLOPS


def _matrix_update_numpy(
    w: torch.Tensor, g: torch.Tensor, n: int, factor: float = 1.0
) -> np.ndarray[Any, Any] | None:
    """``factor`` times the update of a small detached CPU matrix, as a float64 array.

    ``None``: use the SVD (:func:`_svd_update`).
    """
    wn, gn = w.numpy(), g.numpy()
    flip = wn.shape[0] > wn.shape[1]
    if flip:
        wn, gn = wn.T, gn.T
    wg = np.concatenate((wn, gn), axis=1, dtype=np.float64)  # one copy, cast to float64
    out = _gram_core_numpy(wg, wn.shape[1], n, _EPS[w.dtype], w.dtype == torch.float64, factor)
    return out.T if flip and out is not None else out


def _matrix_update_torch(w: torch.Tensor, g: torch.Tensor, n: int) -> torch.Tensor:
    """The update of a matrix in torch (Gram route, or the SVD where it does not apply)."""
    if w.dtype.is_floating_point and w.device.type != "mps":  # mps has no float64
        guarded = w.dtype == torch.float64
        eps = float(torch.finfo(w.dtype).eps)
        if w.shape[0] > w.shape[1]:
            out = _gram_core_torch(w.T, g.T, n, eps, guarded)
            out = None if out is None else out.T
        else:
            out = _gram_core_torch(w, g, n, eps, guarded)
        if out is not None:
            return out
    return _svd_update(w, g, n)


def _matrix_update(w: torch.Tensor, g: torch.Tensor, n: int) -> torch.Tensor:
    """The ``N``-term sum of Eq. 7 for a detached matrix ``w``, in ``w``'s dtype."""
    if n == 1 or w.numel() == 0:
        return g
    if _uses_numpy(w):
        out = _matrix_update_numpy(w, g, n)
        if out is None:
            return _svd_update(w, g, n)
        return torch.from_numpy(out).to(w.dtype)
    return _matrix_update_torch(w, g, n)


def end_to_end_update(weight: torch.Tensor, grad: torch.Tensor, depth: int) -> torch.Tensor:
    """The preconditioned gradient ``sum_j [W W^T]^((j-1)/N) G [W^T W]^((N-j)/N)``.

    Arora, Cohen & Hazan (ICML 2018), Eq. 7; for vectors their closed form,
    Eq. 10.  Computed from one ``min(out, in)``-sized symmetric
    eigendecomposition of the Gram matrix (see the module docstring for the
    method and its accuracy: relative error ``<~ 1e-11`` for float64 weights
    with ``cond(W) <= 1e3``, the thin SVD's for the others; at least a float32
    SVD's for float32 weights).  Differentiable (through the SVD) when
    autograd asks for it.

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
        Same shape and dtype as ``weight``.  Zero and rank-deficient weights
        are fine: zero singular values contribute zero (``0^a = 0`` for
        ``a > 0``), so ``W = 0`` is a fixed point for ``N >= 2``, as it is for
        gradient descent on the factors.

    Raises
    ------
    TypeError
        For a ``depth`` that is not an integer, or a ``weight`` / ``grad``
        that is not a real floating-point tensor (complex values are refused,
        not cut to their real part) or not of the same dtype.
    ValueError
        For a ``depth`` outside ``1 ..`` :data:`MAX_DEPTH`, mismatched shapes or
        devices, an empty ``weight``, or NaN or infinite values in either.
    """
    n = _depth(depth)
    _check_pair(weight, grad)
    if torch.is_grad_enabled() and (weight.requires_grad or grad.requires_grad):
        return _update(weight, grad, n, differentiable=True)
    return _update(weight.detach(), grad.detach(), n)


def _check_pair(
    weight: Any, grad: Any, ndim: int | None = None, dtypes: tuple[torch.dtype, ...] = ()
) -> None:
    """``weight`` and ``grad``: finite real floating tensors of one shape, dtype and device."""
    for name, value in (("weight", weight), ("grad", grad)):
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{name}: expected a torch tensor, got {describe(value)}")
        check_array(value, name, ndim=ndim, finite=False)  # complex refused
        if not value.dtype.is_floating_point or (dtypes and value.dtype not in dtypes):
            kinds = " or ".join(str(d) for d in dtypes) if dtypes else "floating-point"
            raise TypeError(f"{name}: expected a {kinds} tensor, got {describe(value)}")
    if grad.shape != weight.shape:
        raise ValueError(
            f"grad: expected the shape of weight, {tuple(weight.shape)}, got {tuple(grad.shape)}"
        )
    if grad.dtype != weight.dtype or grad.device != weight.device:
        raise ValueError(
            f"grad: expected {weight.dtype} on {weight.device} like weight, got {grad.dtype} "
            f"on {grad.device}"
        )
    if weight.numel() == 0:
        raise ValueError(
            f"weight: expected at least one entry, got shape {tuple(weight.shape)}; an empty "
            "parameter has nothing to update"
        )
    check_array(weight, "weight")
    check_array(grad, "grad")


def _update(
    weight: torch.Tensor, grad: torch.Tensor, n: int, differentiable: bool = False
) -> torch.Tensor:
    """:func:`end_to_end_update` without the argument checks.

    ``differentiable``: matrices through the SVD in torch (autograd can follow
    it, as before the Gram route), not through NumPy.
    """
    if weight.ndim <= 1:
        return _vector_update(weight.reshape(-1), grad.reshape(-1), n).reshape(weight.shape)
    w2 = weight.reshape(weight.shape[0], -1)
    g2 = grad.reshape(w2.shape)
    if differentiable:
        out = g2 if n == 1 or w2.numel() == 0 else _svd_update(w2, g2, n)
    else:
        out = _matrix_update(w2, g2, n)
    return out.reshape(weight.shape)


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

    Raises
    ------
    TypeError, ValueError
        As :func:`end_to_end_update`; also for tensors that are not matrices
        or not float32 / float64.  The cost is ``2 N`` eigendecompositions:
        ``depth`` is at most :data:`MAX_DEPTH`.
    """
    n = _depth(depth)
    _check_pair(weight, grad, ndim=2, dtypes=(torch.float32, torch.float64))
    left, right = weight @ weight.T, weight.T @ weight
    if not bool(torch.isfinite(left).all() and torch.isfinite(right).all()):
        raise ValueError(
            f"weight: expected entries whose products fit in {weight.dtype}, got magnitudes up "
            f"to {float(weight.abs().max()):.3g} (W W^T overflows); rescale weight"
        )
    total = torch.zeros_like(grad)
    for j in range(1, n + 1):
        total = total + _psd_power(left, (j - 1) / n) @ grad @ _psd_power(right, (n - j) / n)
    return total


def apply_update(p: torch.Tensor, g: torch.Tensor, n: int, lr: float) -> None:
    """``p <- p - lr * end_to_end_update(p, g, n)`` in place (``p``, ``g`` detached)."""
    if n == 1:
        p.add_(g, alpha=-lr)  # plain gradient descent, bit for bit torch.optim.SGD
        return
    ndim = p.ndim
    if ndim <= 1:
        w, gv = (p, g) if ndim == 1 else (p.reshape(1), g.reshape(1))
        coef = _vector_coefficients(w, gv, n)
        if coef is not None:  # w = 0 stays 0
            p.add_(torch.add(g, p, alpha=coef[1]), alpha=-lr * coef[0])
        return
    if p.numel() == 0:  # refused by add_param_group; p.data swapped later: nothing to do
        return
    w2, g2 = (p, g) if ndim == 2 else (p.reshape(p.shape[0], -1), g.reshape(p.shape[0], -1))
    if _uses_numpy(w2):
        step = _matrix_update_numpy(w2, g2, n, -lr)
        if step is not None:
            # in place through NumPy (a view of p's memory; float64 -> p's dtype), then
            # tell autograd that p changed, as p.add_ would (half the cost of add_ here)
            pn = p.numpy()
            pn += step if ndim == 2 else step.reshape(pn.shape)
            increment_version(p)
            return
        out = _svd_update(w2, g2, n)
    else:
        out = _matrix_update_torch(w2, g2, n)
    p.add_(out if ndim == 2 else out.reshape(p.shape), alpha=-lr)


