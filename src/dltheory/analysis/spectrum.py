"""Schmidt spectra and matricization ranks of tree tensors, without materializing them.

Method
------
For a bipartition ``(I, J)`` of the positions, every node ``v`` of the tree is
carried bottom-up as a *core* ``C_v`` of shape ``(k_I, k_J, r_out)`` such that

``phi_v[i, j, :] = sum_{a,b} U_v[i, a] C_v[a, b, :] V_v[j, b]``

where ``i`` and ``j`` run over the positions of ``I`` and ``J`` under ``v``,
and ``U_v``, ``V_v`` are never formed.  Product pooling turns the children's
bases into Kronecker products, so the parent's core is the Khatri-Rao
product of the children's cores followed by ``W_v``; it is then compressed:

* ``method="svd"``: ``U_v``, ``V_v`` have orthonormal columns; each side is
  re-orthogonalized with a Householder QR of the core's unfolding whenever the
  unfolding is taller than wide.  Only orthogonal transformations are applied,
  so the singular values at the root carry an absolute error of a few ulps of
  the largest one, including the tiny ones of deep nets (no Gram matrix is
  ever formed, which would square the condition number).  Each core is
  rescaled to unit norm and the scale is carried as a logarithm, so N = 1024
  neither overflows nor underflows.
* ``method="modular"`` (integer parameters): the same recursion over the
  field ``Z/pZ``, with ``U_v``, ``V_v`` of full column rank, compressed by exact
  row reduction.  The result is the rank of ``A mod p``, a certified lower bound
  on the rank of the integer matricization; :func:`~dltheory.analysis.mincut.min_cut`
  is an upper bound.  Where they meet, the rank is proven.

At the root the core is ``k_I x k_J`` and its singular values (rank) are those
of the full ``M^|I| x M^|J|`` matricization (Cohen, Sharir & Shashua, COLT'16;
Levine, Yakira, Cohen & Shashua, ICLR'18).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import numpy as np
from numpy.typing import NDArray

from ..validation import check_choice, check_float, check_int, check_size
from .modular import DEFAULT_PRIME, check_prime, mod_pool_last, rref_rows

if TYPE_CHECKING:
    from ..tensors import TreeTensor

__all__ = [
    "Spectrum",
    "schmidt_spectrum",
    "schmidt_values",
    "matricization_rank",
    "core_plan",
    "DEFAULT_MAX_CORE_ENTRIES",
]

#: Largest intermediate core (entries) the exact spectrum builds by default.
DEFAULT_MAX_CORE_ENTRIES = 2**25


@dataclass(frozen=True)
class Spectrum:
    """Schmidt spectrum of a matricization.

    Attributes
    ----------
    values : ndarray
        Singular values in decreasing order, divided by ``exp(log_scale)``.
    log_scale : float
        Natural log of the factor taken out of ``values`` (kept apart so that
        networks over thousands of positions do not overflow float64).
    """

    values: NDArray[np.float64]
    log_scale: float

    def absolute(self) -> NDArray[np.float64]:
        """The singular values themselves; ``OverflowError`` if they exceed float64."""
        if self.log_scale > 700.0 or self.log_scale < -700.0:
            raise OverflowError(
                f"normalized: singular values carry a scale of exp({self.log_scale:.4g}), beyond "
                "float64; use normalized=True (or Spectrum.values and log_scale)"
            )
        return self.values * math.exp(self.log_scale)

    def normalized(self) -> NDArray[np.float64]:
        """Singular values scaled to unit Euclidean norm (a normalized quantum state)."""
        norm = float(np.linalg.norm(self.values))
        if norm == 0.0:
            return self.values.copy()
        return self.values / norm


def core_plan(tt: TreeTensor, I: frozenset[int]) -> tuple[int, int, int]:
    """Dimensions the float recursion will need: ``(k_I, k_J, largest intermediate)``.

    Computed from the shapes alone, before any arithmetic, so that an
    infeasible request fails at once.
    """
    tree = tt.tree
    dims: dict[int, tuple[int, int]] = {}
    biggest = 0
    for i in range(tree.num_leaves):
        r = _out_width(tt, i)
        a, b = (tt.in_dim, 1) if i in I else (1, tt.in_dim)
        dims[i] = _compressed(a, b, r)
    for v in tree.internal_nodes:
        r = tt.widths[v]

        def pair(x: tuple[int, int], y: tuple[int, int], r: int = r) -> tuple[int, int]:
            nonlocal biggest
            a, b = x[0] * y[0], x[1] * y[1]
            biggest = max(biggest, a * b * r)
            return _compressed(a, b, r)

        parts = group_children([dims.pop(c) for c in tree.children(v)], lambda d: d, pair)
        a, b = functools.reduce(pair, parts[:-1]) if len(parts) > 1 else (1, 1)
        a, b = a * parts[-1][0], b * parts[-1][1]
        biggest = max(biggest, a * b * _out_width(tt, v))
        dims[v] = _compressed(a, b, _out_width(tt, v))
    ka, kb = dims[tree.root]
    return ka, kb, biggest


T = TypeVar("T")


def group_children(
    items: list[T], shape: Callable[[T], tuple[int, int]], pair: Callable[[T, T], T]
) -> list[T]:
    """Multiply the pure-I children together and the pure-J children together; I first, J last.

    The product over children is commutative (reordering Kronecker factors
    only permutes rows and columns, which leaves singular values and ranks
    alone).  A product of same-side children compresses to the width as it
    grows; mixing sides early would let both sides grow at once.
    """
    pure_i = [x for x in items if shape(x)[1] == 1]
    pure_j = [x for x in items if shape(x)[1] != 1 and shape(x)[0] == 1]
    mixed = [x for x in items if shape(x)[0] != 1 and shape(x)[1] != 1]
    out = [functools.reduce(pair, pure_i)] if pure_i else []
    out.extend(mixed)
    if pure_j:
        out.append(functools.reduce(pair, pure_j))
    return out


def _compressed(a: int, b: int, r: int) -> tuple[int, int]:
    a = min(a, b * r)
    b = min(b, a * r)
    return a, b


def _out_width(tt: TreeTensor, v: int) -> int:
    p = tt.tree.parent(v)
    return tt.out_dim if p is None else tt.widths[p]


def _prepare(
    tt: TreeTensor, I: Iterable[int], y: int | None, max_entries: int
) -> tuple[TreeTensor, frozenset[int]]:
    from ..tensors import TreeTensor

    if not isinstance(tt, TreeTensor):
        raise TypeError(f"tensor: expected a TreeTensor, got {type(tt).__name__}")
    part = tt.tree.check_partition(I)
    if y is not None:
        tt = tt.output(y)
    elif tt.out_dim != 1:
        raise ValueError(
            f"y: the tensor has {tt.out_dim} outputs; pass y= to pick one (or use .output(y))"
        )
    limit = check_int(max_entries, "max_entries", minimum=1)
    ka, kb, biggest = core_plan(tt, part)
    if biggest > limit:
        from .mincut import min_cut

        cut = min_cut(tt.tree, tt.widths, part, in_dim=tt.in_dim)
        check_size(
            biggest,
            "max_entries",
            limit=limit,
            what="the intermediate cores of this partition's exact spectrum",
            fix=f"the Schmidt rank is at most the min cut {_short(cut.value)} (dltheory.min_cut); "
            "raise max_entries if memory allows, or bound the rank with min_cut",
        )
    return tt, part


def _short(x: int) -> str:
    return str(x) if x < 10**12 else f"~10^{math.log10(x):.1f}"


# --------------------------------------------------------------------- float


def _kr_pair(p: NDArray[Any], q: NDArray[Any]) -> NDArray[Any]:
    """``P[(a, qa), (b, qb), alpha] = p[a, b, alpha] q[qa, qb, alpha]``, re-orthogonalized.

    Compressing each side while ``alpha`` is still open is an orthonormal change
    of the I- and J-bases, so it is exact; on a pure side it keeps the product
    at most ``(r k) x r``.
    """
    a, b, r = p.shape
    qa, qb, _ = q.shape
    return _qr_compress(
        (p[:, None, :, None, :] * q[None, :, None, :, :]).reshape(a * qa, b * qb, r)
    )


def _pool(cores: list[NDArray[Any]], w: NDArray[Any]) -> NDArray[Any]:
    """``C[(a..), (b..), g] = sum_alpha w[alpha, g] prod_c C_c[a_c, b_c, alpha]`` (float).

    Children are grouped by side (:func:`group_children`); the last factor is
    contracted with ``w`` in one matrix product over alpha, so the largest array
    is the result itself, not the result times ``r_v``.
    """
    parts = group_children(cores, lambda c: (c.shape[0], c.shape[1]), _kr_pair)
    head = functools.reduce(_kr_pair, parts[:-1]) if len(parts) > 1 else np.ones((1, 1, w.shape[0]))
    last = parts[-1]
    a, b, r = head.shape
    la, lb, _ = last.shape
    g = w.shape[1]
    hw = (head[:, :, :, None] * w[None, None, :, :]).transpose(0, 1, 3, 2).reshape(a * b * g, r)
    out = (hw @ last.reshape(la * lb, r).T).reshape(a, b, g, la, lb)
    return out.transpose(0, 3, 1, 4, 2).reshape(a * la, b * lb, g)


def _qr_compress(core: NDArray[Any]) -> NDArray[Any]:
    """Re-orthogonalize both sides of a core whose unfolding is taller than wide."""
    a, b, r = core.shape
    if a > b * r:
        core = np.asarray(np.linalg.qr(core.reshape(a, b * r), mode="r")).reshape(-1, b, r)
        a = core.shape[0]
    if b > a * r:
        t = core.transpose(1, 0, 2).reshape(b, a * r)
        core = np.asarray(np.linalg.qr(t, mode="r")).reshape(-1, a, r).transpose(1, 0, 2)
    return np.ascontiguousarray(core)


def _float_core(tt: TreeTensor, part: frozenset[int]) -> tuple[NDArray[Any], float]:
    tree = tt.tree
    cores: dict[int, NDArray[Any]] = {}
    logs: dict[int, float] = {}

    def settle(v: int, core: NDArray[Any], log: float) -> None:
        norm = float(np.linalg.norm(core))
        if norm > 0.0:
            core = core / norm
            log += math.log(norm)
        cores[v] = _qr_compress(core)
        logs[v] = log

    for i in range(tree.num_leaves):
        a = tt.leaf_weights[i].astype(np.float64)
        core = a[:, None, :] if i in part else a[None, :, :]
        settle(i, core, 0.0)
    for v in tree.internal_nodes:
        kids = tree.children(v)
        log = sum(logs[c] for c in kids)
        settle(v, _pool([cores.pop(c) for c in kids], tt.node_weights[v]), log)
    root = tree.root
    return cores[root][:, :, 0], logs[root]


def schmidt_spectrum(
    tensor: TreeTensor,
    I: Iterable[int],
    *,
    y: int | None = None,
    max_entries: int = DEFAULT_MAX_CORE_ENTRIES,
) -> Spectrum:
    """Schmidt spectrum of the matricization of ``tensor`` w.r.t. the positions ``I``.

    Parameters
    ----------
    tensor : TreeTensor
    I : iterable of int
        Positions on the row side (a non-empty proper subset of ``0..N-1``).
    y : int, optional
        Output to analyse when ``tensor.out_dim > 1``.
    max_entries : int
        Refuse with a ``ValueError`` pointing to :func:`min_cut` when an
        intermediate core would exceed this many entries.

    Returns
    -------
    Spectrum
        Values in decreasing order (length ``min(k_I, k_J)``, which may include
        exact zeros) and their log-scale.
    """
    tt, part = _prepare(tensor, I, y, max_entries)
    core, log = _float_core(tt, part)
    s = np.asarray(np.linalg.svd(core, compute_uv=False), dtype=np.float64)
    return Spectrum(values=s, log_scale=log)


def schmidt_values(
    tensor: TreeTensor,
    I: Iterable[int],
    *,
    normalized: bool = False,
    y: int | None = None,
    max_entries: int = DEFAULT_MAX_CORE_ENTRIES,
) -> NDArray[np.float64]:
    """Singular values of the matricization w.r.t. ``I`` (decreasing), never materialized.

    Matches ``numpy.linalg.svd(matricize(tensor.to_dense(), I))`` to ~1e-15 of
    the largest value on cases small enough to check; zero singular values
    beyond the structured bound are omitted.

    Parameters
    ----------
    normalized : bool
        Scale to unit Euclidean norm (needed when the absolute values exceed
        float64, as for N = 1024 with unit Gaussian weights).

    See Also
    --------
    schmidt_spectrum : the same with the scale kept apart.
    """
    spec = schmidt_spectrum(tensor, I, y=y, max_entries=max_entries)
    return spec.normalized() if normalized else spec.absolute()


# ------------------------------------------------------------------- modular


def _modular_core(tt: TreeTensor, part: frozenset[int], prime: int) -> NDArray[np.int64]:
    tree = tt.tree
    cores: dict[int, NDArray[np.int64]] = {}

    def compress(core: NDArray[np.int64]) -> NDArray[np.int64]:
        a, b, r = core.shape
        x = rref_rows(core.reshape(a, b * r), prime)
        core = x.reshape(x.shape[0], b, r)
        a = core.shape[0]
        t = rref_rows(core.transpose(1, 0, 2).reshape(b, a * r), prime)
        return np.ascontiguousarray(t.reshape(t.shape[0], a, r).transpose(1, 0, 2))

    def settle(v: int, core: NDArray[np.int64]) -> None:
        cores[v] = compress(core)

    for i in range(tree.num_leaves):
        a = np.mod(tt.leaf_weights[i], prime)
        settle(i, a[:, None, :] if i in part else a[None, :, :])

    def pair(p: NDArray[np.int64], q: NDArray[np.int64]) -> NDArray[np.int64]:
        pa, pb, r = p.shape
        prod = np.mod(p[:, None, :, None, :] * q[None, :, None, :, :], prime)
        return compress(prod.reshape(pa * q.shape[0], pb * q.shape[1], r))

    for v in tree.internal_nodes:
        w = np.mod(tt.node_weights[v], prime)
        kids = [cores.pop(c) for c in tree.children(v)]
        parts = group_children(kids, lambda c: (c.shape[0], c.shape[1]), pair)
        head = (
            functools.reduce(pair, parts[:-1])
            if len(parts) > 1
            else np.ones((1, 1, w.shape[0]), dtype=np.int64)
        )
        settle(v, mod_pool_last(head, parts[-1], w, prime))
    return cores[tree.root][:, :, 0]


def matricization_rank(
    tensor: TreeTensor,
    I: Iterable[int],
    method: Literal["svd", "modular"] = "svd",
    *,
    tol: float | None = None,
    prime: int = DEFAULT_PRIME,
    y: int | None = None,
    max_entries: int = DEFAULT_MAX_CORE_ENTRIES,
) -> int:
    """Rank of the matricization of ``tensor`` w.r.t. the positions ``I``.

    Parameters
    ----------
    method : {"svd", "modular"}
        ``"svd"`` counts singular values above ``tol``; by default
        ``tol = s_max * max(k_I, k_J) * eps`` where ``k_I x k_J`` is the
        compressed core the spectrum comes from (the ``numpy.linalg.matrix_rank``
        rule applied to the core, not to the astronomically large matricization).
        Float ranks are fragile when the spectrum decays over many orders of
        magnitude; use ``"modular"`` on integer tensors for a certified value.
        ``"modular"`` returns the rank over ``Z/prime Z`` with no tolerance: an
        exact lower bound on the rank over the rationals.
    tol : float, optional
        Absolute threshold for ``"svd"``.
    prime : int
        Prime modulus for ``"modular"`` (below 2**31 so products fit in int64).

    Raises
    ------
    ValueError
        For a modular rank of a float tensor, a bad method or prime, or a
        partition whose exact analysis exceeds ``max_entries``.
    """
    check_choice(method, "method", ("svd", "modular"))
    if tol is not None:
        tol = check_float(tol, "tol", minimum=0.0)
    tt, part = _prepare(tensor, I, y, max_entries)
    if method == "modular":
        if not tt.is_integer:
            raise ValueError(
                "method: 'modular' needs integer parameters; draw them with "
                "TreeTensor.random(..., integer=True)"
            )
        check_prime(prime)
        return int(rref_rows(_modular_core(tt, part, prime), prime).shape[0])
    core, log = _float_core(tt, part)
    s = np.linalg.svd(core, compute_uv=False)
    if s.size == 0:
        return 0
    if tol is None:
        return int(np.count_nonzero(s > float(s[0]) * max(core.shape) * np.finfo(np.float64).eps))
    # the core carries the spectrum divided by exp(log); compare in log space
    with np.errstate(divide="ignore"):
        return int(np.count_nonzero(np.log(s) + log > math.log(tol) if tol > 0 else s > 0))
