"""Float cores of a tree tensor across a bipartition: the recursion behind the Schmidt spectrum.

For a bipartition ``(I, J)`` of the positions every node ``v`` is carried
bottom-up as a *core* ``C_v`` of shape ``(k_I, k_J, r_out)`` with

``phi_v[i, j, :] = sum_{a,b} U_v[i, a] C_v[a, b, :] V_v[j, b]``,

``U_v`` and ``V_v`` having orthonormal columns (never formed).  Product pooling
turns the children's bases into Kronecker products, so a parent's core is the
Khatri-Rao product of its children's cores followed by ``W_v`` (Cohen, Sharir
& Shashua, COLT'16, eq. (3)-(5)); each core is rescaled to unit norm with the
scale carried as a logarithm, so N = 1024 neither overflows nor underflows.

Two routes combine same-side children:

* *Orthogonal* (always correct): the Khatri-Rao product of the children's
  cores is formed and re-orthogonalized with a Householder QR whenever its
  unfolding is taller than wide.  For two children of rank ``r`` this is an
  ``r^2 x r`` QR, ``2 r^4`` flops: the whole cost of a wide net.
* *Gram* (a group of children whose subtrees lie on one side, wider than
  ``GRAM_MIN_WIDTH``, whose product would be taller than ``2 r``): such a group
  enters the result only through the Gram matrix of its pooled channels, and
  by the Khatri-Rao identity ``(F_1 . F_2)^T (F_1 . F_2) = G_1 * G_2`` that Gram
  is the Hadamard product of the children's Grams ``G_c = F_c^T F_c``.  Its
  Cholesky factor ``R`` (``R^T R = G_1 * ... * G_m``) is an exact triangular
  factor of the group; a pure node's own factor is then ``R W_v`` (a
  triangular product, so ``W_v``'s conditioning is never squared).  Cost per
  node: one ``syrk``, one Cholesky and one ``trmm``, about ``2.3 r^3`` flops.

The Gram route's accuracy argument and its condition check are in
:mod:`.gram`; the plan (sides, groups, routes, sizes) is in :mod:`.plan`.
BLAS threads: see :func:`kernel_threads`.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import blas

from .gram import gram_factor
from .plan import (
    GRAM_MIN_WIDTH,
    I_SIDE,
    MIXED,
    Links,
    compressed,
    core_plan,
    gram_worthy,
    grouped,
    links,
    node_sides,
)

if TYPE_CHECKING:
    from ..tensors import TreeTensor

__all__ = [
    "CoreStats",
    "GRAM_MIN_WIDTH",
    "SERIAL_ENTRIES",
    "core_plan",
    "float_core",
    "kernel_threads",
    "root_values",
]


@dataclass
class CoreStats:
    """What one run of :func:`float_core` did (for benchmarks and tests).

    Attributes
    ----------
    flops : float
        Floating-point operations of the dense kernels (matrix products,
        Khatri-Rao and Hadamard products, QR, Cholesky, the final SVD),
        counted analytically per call.
    gram_groups : int
        Same-side groups combined through their Gram matrix.
    fallbacks : int
        Groups that qualified for the Gram route but were too ill-conditioned
        (or rank-deficient), combined by the orthogonal route instead.
    gram_error : float
        Sum of the accepted error bounds: a bound (up to the constants of the
        rounding analysis) on the relative error the Gram route adds to each
        singular value.
    """

    flops: float = 0.0
    gram_groups: int = 0
    fallbacks: int = 0
    gram_error: float = 0.0


@dataclass
class _Part:
    core: NDArray[np.float64]  # (k_I, k_J, r_out), unit Frobenius norm (or zero)
    log: float  # the node's map is exp(log) * core
    side: int  # I_SIDE, J_SIDE or MIXED


# ----------------------------------------------------------------- kernels


def _qr_compress(core: NDArray[Any], stats: CoreStats) -> NDArray[np.float64]:
    """Re-orthogonalize both sides of a core whose unfolding is taller than wide."""
    a, b, r = core.shape
    if a > b * r:
        n = b * r
        stats.flops += 2.0 * a * n * n - 2.0 * n**3 / 3
        core = np.asarray(np.linalg.qr(core.reshape(a, n), mode="r")).reshape(-1, b, r)
        a = core.shape[0]
    if b > a * r:
        n = a * r
        stats.flops += 2.0 * b * n * n - 2.0 * n**3 / 3
        t = core.transpose(1, 0, 2).reshape(b, n)
        core = np.asarray(np.linalg.qr(t, mode="r")).reshape(-1, a, r).transpose(1, 0, 2)
    return np.ascontiguousarray(core, dtype=np.float64)


#: Products of unit-norm factors are rescaled every this many factors (each factor
#: shrinks the norm by ~1/sqrt(r), so 8 of them stay far above 1e-300).
_RESCALE = 8


def _unit(x: NDArray[Any], stats: CoreStats) -> tuple[NDArray[Any], float]:
    """``x`` divided by its Frobenius norm, and the log of that norm (0 for a zero ``x``).

    The norm is taken after scaling by the largest entry when its square would
    under- or overflow: a product of hundreds of unit-norm factors is ~1e-300.
    """
    stats.flops += 2.0 * x.size
    norm = math.sqrt(float(np.vdot(x, x)))
    log = 0.0
    if not 1e-150 < norm < 1e150:
        top = float(np.max(np.abs(x))) if x.size else 0.0
        if not top > 0.0:
            return x, 0.0
        x = x / top
        log = math.log(top)
        norm = math.sqrt(float(np.vdot(x, x)))
    return x / norm, log + math.log(norm)


def _kr_pair(p: NDArray[Any], q: NDArray[Any], stats: CoreStats) -> NDArray[np.float64]:
    """``P[(a, qa), (b, qb), alpha] = p[a, b, alpha] q[qa, qb, alpha]``, re-orthogonalized.

    Compressing each side while ``alpha`` is still open is an orthonormal
    change of the I- and J-bases, so it is exact.
    """
    a, b, r = p.shape
    qa, qb, _ = q.shape
    stats.flops += float(a * qa * b * qb * r)
    return _qr_compress(
        (p[:, None, :, None, :] * q[None, :, None, :, :]).reshape(a * qa, b * qb, r), stats
    )


def _contract(
    groups: list[NDArray[Any]], w: NDArray[np.float64], stats: CoreStats
) -> tuple[NDArray[np.float64], float]:
    """``C[(a..), (b..), g] = sum_alpha w[alpha, g] prod_c C_c[a_c, b_c, alpha]``, and a log-scale.

    The product is rescaled to unit norm every :data:`_RESCALE` factors (the
    scale goes to the log); the last factor is contracted with ``w`` in one
    matrix product over alpha, so the largest array is the result itself, not
    the result times ``r_v``.
    """
    log = 0.0
    head: NDArray[Any] = groups[0] if len(groups) > 1 else np.ones((1, 1, w.shape[0]))
    for n, x in enumerate(groups[1:-1], start=1):
        head = _kr_pair(head, x, stats)
        if n % _RESCALE == 0:
            head, extra = _unit(head, stats)
            log += extra
    last = groups[-1]
    a, b, r = head.shape
    la, lb, _ = last.shape
    g = w.shape[1]
    hw = (head[:, :, :, None] * w[None, None, :, :]).transpose(0, 1, 3, 2).reshape(a * b * g, r)
    stats.flops += float(a * b * r * g) + 2.0 * a * b * g * r * la * lb
    out = (hw @ last.reshape(la * lb, r).T).reshape(a, b, g, la, lb)
    return np.ascontiguousarray(out.transpose(0, 3, 1, 4, 2).reshape(a * la, b * lb, g)), log


def _pure_product(cores: list[NDArray[Any]], stats: CoreStats) -> tuple[NDArray[np.float64], float]:
    """Orthogonal route for a same-side group: the Khatri-Rao product ``(k, r)``, QR'd when tall.

    Rescaled to unit norm every :data:`_RESCALE` factors; returns the product and
    the log of the scale taken out.
    """
    r = cores[0].shape[2]
    p = cores[0].reshape(-1, r)
    log = 0.0
    for n, c in enumerate(cores[1:], start=1):
        q = c.reshape(-1, r)
        stats.flops += float(p.shape[0] * q.shape[0] * r)
        p = (p[:, None, :] * q[None, :, :]).reshape(-1, r)
        if p.shape[0] > r:
            stats.flops += 2.0 * p.shape[0] * r * r - 2.0 * r**3 / 3
            p = np.asarray(np.linalg.qr(p, mode="r"))
        if n % _RESCALE == 0:
            p, extra = _unit(p, stats)
            log += extra
    return p, log


def _oriented(f: NDArray[np.float64], side: int) -> NDArray[np.float64]:
    return f[:, None, :] if side == I_SIDE else f[None, :, :]


# --------------------------------------------------------------- recursion


def kernel_threads(entries: int, nodes: int) -> contextlib.AbstractContextManager[Any]:
    """BLAS threads for a recursion over ``nodes`` nodes, largest intermediate ``entries``.

    Up to :data:`SERIAL_ENTRIES` the kernels are matrices of at most a few
    hundred rows: a second BLAS thread gains little there, and on a loaded
    machine (a busy second core) every call waits for it, 10-50x slower
    (measured on 2 shared cores, OpenBLAS: a 32x32 net at breadth 64 took
    0.39 s instead of 0.04 s).  Such recursions run on one BLAS thread (through
    threadpoolctl, when it can see the BLAS; ~12 us to switch); larger ones,
    and tiny ones (``entries * nodes < 2**16``, a few hundred microseconds),
    with the BLAS as configured.
    """
    global _CONTROLLER
    if entries > SERIAL_ENTRIES or entries * nodes < 2**16:
        return contextlib.nullcontext()
    try:
        if _CONTROLLER is None:
            from threadpoolctl import ThreadpoolController

            _CONTROLLER = ThreadpoolController()
        return cast(
            contextlib.AbstractContextManager[Any], _CONTROLLER.limit(limits=1, user_api="blas")
        )
    except Exception:  # threadpoolctl missing or unable to see the BLAS: run as configured
        return contextlib.nullcontext()


_CONTROLLER: Any = None

#: Largest intermediate (entries) for which the recursion runs BLAS single-threaded.
SERIAL_ENTRIES = 2**22


def float_core(
    tt: TreeTensor,
    part: frozenset[int],
    *,
    stats: CoreStats | None = None,
    refuse: Callable[[int], None] | None = None,
    gram_min_width: int | None = None,
    tree_links: Links | None = None,
) -> tuple[NDArray[np.float64], float]:
    """The root core ``k_I x k_J`` and its log-scale: the matricization is ``exp(log) U C V^T``.

    Parameters
    ----------
    tt : TreeTensor
        With ``out_dim == 1``.
    part : frozenset of int
        The row positions ``I`` (already checked).
    stats : CoreStats, optional
        Filled with what the run did.
    refuse : callable, optional
        Called with the size of an orthogonal fallback before it is allocated;
        expected to raise when it is too large.
    gram_min_width : int, optional
        Narrowest group width for the Gram route (default :data:`GRAM_MIN_WIDTH`;
        a huge value keeps every group on the orthogonal route).
    tree_links : Links, optional
        ``plan.links(tt)``, when the caller has it already.
    """
    st = CoreStats() if stats is None else stats
    least = GRAM_MIN_WIDTH if gram_min_width is None else gram_min_width
    return _recursion(tt, part, tree_links or links(tt), st, refuse, least)


def _leaves(tt: TreeTensor, sides: list[int], st: CoreStats) -> dict[int, _Part]:
    """The leaves' cores, normalized in one pass per leaf shape (a 32x32 grid has 1024)."""
    by_shape: dict[tuple[int, ...], list[int]] = {}
    for i, a in enumerate(tt.leaf_weights):
        by_shape.setdefault(a.shape, []).append(i)
    out: dict[int, _Part] = {}
    for idx in by_shape.values():
        stack = np.asarray([tt.leaf_weights[i] for i in idx], dtype=np.float64)
        logs = np.zeros(len(idx))
        norms = np.sqrt(np.einsum("nij,nij->n", stack, stack))
        st.flops += 3.0 * stack.size
        odd = ~((norms > 1e-150) & (norms < 1e150))  # squares under- or overflowed (or zero)
        if odd.any():
            top = np.abs(stack[odd]).max(axis=(1, 2))
            top[top == 0.0] = 1.0
            stack[odd] /= top[:, None, None]
            logs[odd] = np.log(top)
            norms[odd] = np.sqrt(np.einsum("nij,nij->n", stack[odd], stack[odd]))
        norms[norms == 0.0] = 1.0
        stack /= norms[:, None, None]
        logs += np.log(norms)
        m, r = stack.shape[1:]
        for j, i in enumerate(idx):
            core = _oriented(stack[j], sides[i])
            out[i] = _Part(_qr_compress(core, st) if m > r else core, float(logs[j]), sides[i])
    return out


def _recursion(
    tt: TreeTensor,
    part: frozenset[int],
    tree_links: Links,
    st: CoreStats,
    refuse: Callable[[int], None] | None,
    least: int,
) -> tuple[NDArray[np.float64], float]:
    tree = tt.tree
    sides = node_sides(tt, part, tree_links)
    parts: dict[int, _Part] = {}

    def worthy(kids: list[_Part], side: int, r: int) -> bool:
        return gram_worthy([k.core.shape[side] for k in kids], r, least)

    def settle(core: NDArray[Any], log: float, side: int) -> _Part:
        core, extra = _unit(core, st)
        return _Part(_qr_compress(core, st), log + extra, side)

    def orthogonal(kids: list[_Part], r: int) -> tuple[NDArray[np.float64], float]:
        if refuse is not None:
            acc, biggest = kids[0].core.shape[:2], 0
            for k in kids[1:]:
                a, b = acc[0] * k.core.shape[0], acc[1] * k.core.shape[1]
                biggest = max(biggest, a * b * r)
                acc = compressed(a, b, r)
            refuse(biggest)
        p, log = _pure_product([k.core for k in kids], st)
        return p, log + sum(k.log for k in kids)

    def group(kids: list[_Part], side: int, r: int) -> tuple[NDArray[np.float64], float]:
        if len(kids) == 1:  # a mixed child, or a lone same-side one
            return kids[0].core, kids[0].log
        if worthy(kids, side, r):
            found = gram_factor([k.core for k in kids], [k.log for k in kids], st)
            if found is not None:
                return _oriented(found[0], side), found[1]
            st.fallbacks += 1
        p, log = orthogonal(kids, r)
        return _oriented(p, side), log

    parts.update(_leaves(tt, sides, st))
    for v in tree.internal_nodes:
        w = np.asarray(tt.node_weights[v], dtype=np.float64)
        r = w.shape[0]
        kids = [parts.pop(c) for c in tree_links.children[v]]
        side = sides[v]
        if side != MIXED:
            f: NDArray[np.float64] | None = None
            if worthy(kids, side, r):
                found = gram_factor([k.core for k in kids], [k.log for k in kids], st)
                if found is not None:
                    f, log = blas.dtrmm(1.0, found[0], w), found[1]  # R @ W, R triangular
                    st.flops += float(r * r * w.shape[1])
                else:
                    st.fallbacks += 1
            if f is None:
                p, log = orthogonal(kids, r)
                f = p @ w
                st.flops += 2.0 * p.shape[0] * r * w.shape[1]
            parts[v] = settle(_oriented(np.ascontiguousarray(f), side), log, side)
            continue
        groups = [group(items, s, r) for items, s in grouped([(k, k.side) for k in kids])]
        core, log = _contract([g[0] for g in groups], w, st)
        parts[v] = settle(core, log + sum(g[1] for g in groups), side)
    root = parts[tree.root]
    return root.core[:, :, 0], root.log


def root_values(core: NDArray[np.float64], stats: CoreStats | None = None) -> NDArray[np.float64]:
    """Singular values of the root core, decreasing (the last dense kernel of the recursion)."""
    if stats is not None and core.size:
        m, n = max(core.shape), min(core.shape)
        stats.flops += 4.0 * m * n * n - 4.0 * n**3 / 3
    return np.asarray(np.linalg.svd(core, compute_uv=False), dtype=np.float64)
