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

* ``method="svd"`` (:mod:`~dltheory.analysis.cores`): ``U_v``, ``V_v`` have
  orthonormal columns.  Where children from both sides meet, each side is
  re-orthogonalized with a Householder QR of the core's unfolding whenever it
  is taller than wide.  A group of children whose subtrees lie on one side
  enters only through its Gram matrix, the Hadamard product of the children's
  Grams (the Khatri-Rao identity), factored by Cholesky: ``O(r^3)`` per node
  instead of the ``O(r^4)`` QR of an ``r^2 x r`` Khatri-Rao product, taken only
  where a condition estimate bounds the relative error it adds to every
  singular value by ~1e-12 (see :mod:`~dltheory.analysis.cores`).  The singular
  values at the root carry an absolute error of a few ulps of the largest one
  (tested against dense SVDs to 1e-10).  Each core is rescaled to unit norm
  and the scale is carried as a logarithm, so N = 1024 neither overflows nor
  underflows.
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

from ..validation import check_choice, check_flag, check_float, check_int, check_size
from .cores import core_plan, float_core, kernel_threads, root_values
from .modular import DEFAULT_PRIME, check_prime, mod_pool_last, rref_rows
from .plan import Links, links

if TYPE_CHECKING:
    from ..tensors import TreeTensor

__all__ = [
    "Spectrum",
    "schmidt_spectrum",
    "schmidt_values",
    "matricization_rank",
    "core_plan",
    "core_rank",
    "DEFAULT_MAX_CORE_ENTRIES",
]

#: Largest intermediate core (entries) the exact spectrum builds by default.
DEFAULT_MAX_CORE_ENTRIES = 2**25

_LOG_MAX = math.log(float(np.finfo(np.float64).max))
_LOG_TINY = math.log(float(np.finfo(np.float64).tiny))


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

    def log_largest(self) -> float:
        """Natural log of the largest singular value (``-inf`` for a zero matricization)."""
        top = float(self.values[0]) if self.values.size else 0.0
        return math.log(top) + self.log_scale if top > 0.0 else -math.inf

    def absolute(self) -> NDArray[np.float64]:
        """The singular values themselves.

        Raises
        ------
        ValueError
            When the largest one is outside float64's normal range (above
            ~1.8e308 or below ~2.2e-308); ``values`` and ``log_scale`` (or
            :meth:`normalized`) represent them at any scale.
        """
        top = self.log_largest()
        if top == -math.inf:
            return self.values.copy()
        if not _LOG_TINY <= top <= _LOG_MAX:
            raise ValueError(
                f"log_scale: the largest singular value is exp({top:.2f}), outside float64's "
                f"range [exp({_LOG_TINY:.1f}), exp({_LOG_MAX:.1f})]; use values with "
                "log_scale, or normalized()"
            )
        return np.asarray(self.values / self.values[0] * math.exp(top), dtype=np.float64)

    def values_for(self, normalized: bool) -> NDArray[np.float64]:
        """:meth:`normalized` or, for ``normalized=False``, the absolute values.

        The ``schmidt_values(..., normalized=)`` of every tensor type ends here.

        Raises
        ------
        ValueError
            Naming ``normalized`` when the absolute values are outside float64.
        """
        if normalized:
            return self.normalized()
        top = self.log_largest()
        if top != -math.inf and not _LOG_TINY <= top <= _LOG_MAX:
            raise ValueError(
                f"normalized: with normalized=False the singular values themselves are "
                f"returned, but the largest is exp({top:.2f}) (log scale {self.log_scale:.2f}), "
                "outside float64; use schmidt_spectrum(...) for the values plus their log "
                "scale, or normalized=True"
            )
        return self.absolute()

    def normalized(self) -> NDArray[np.float64]:
        """Singular values scaled to unit Euclidean norm (a normalized quantum state)."""
        norm = float(np.linalg.norm(self.values))
        if norm == 0.0:
            return self.values.copy()
        return self.values / norm


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


@dataclass(frozen=True)
class _Prepared:
    tt: TreeTensor
    part: frozenset[int]
    refuse: Callable[[int], None]
    biggest: int
    links: Links


def _prepare(
    tt: TreeTensor, I: Iterable[int], y: int | None, max_entries: int, *, gram: bool = True
) -> _Prepared:
    """The tensor of one output, the checked partition, the size check of its cores, their size.

    ``gram=False`` plans the modular recursion, which has no Gram route.
    """
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
    checked = tt

    def refuse(entries: int) -> None:
        if entries > limit:
            from .mincut import min_cut

            cut = min_cut(checked.tree, checked.widths, part, in_dim=checked.in_dim)
            check_size(
                entries,
                "max_entries",
                limit=limit,
                what="the intermediate cores of this partition's exact spectrum",
                fix=f"the Schmidt rank is at most the min cut {_short(cut.value)} "
                "(dltheory.min_cut); raise max_entries if memory allows, or bound the rank "
                "with min_cut",
            )

    tree_links = links(tt)
    biggest = core_plan(tt, part, gram=gram, tree_links=tree_links)[2]
    refuse(biggest)
    return _Prepared(tt, part, refuse, biggest, tree_links)


def _short(x: int) -> str:
    return str(x) if x < 10**12 else f"~10^{math.log10(x):.1f}"


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
        exact zeros) and their log-scale: the singular values are
        ``values * exp(log_scale)``, which for N = 1024 with unit Gaussian
        weights is far beyond float64 (``log_scale`` ~ 900).
    """
    job = _prepare(tensor, I, y, max_entries)
    with kernel_threads(job.biggest, job.tt.tree.num_nodes):
        core, log = float_core(job.tt, job.part, refuse=job.refuse, tree_links=job.links)
        values = root_values(core)
    return Spectrum(values=values, log_scale=log)


def schmidt_values(
    tensor: TreeTensor,
    I: Iterable[int],
    *,
    normalized: bool = True,
    y: int | None = None,
    max_entries: int = DEFAULT_MAX_CORE_ENTRIES,
) -> NDArray[np.float64]:
    """Singular values of the matricization w.r.t. ``I`` (decreasing), never materialized.

    Matches ``numpy.linalg.svd(matricize(tensor.to_dense(), I))`` to ~1e-15 of
    the largest value on cases small enough to check (after the same
    normalization); zero singular values beyond the structured bound are omitted.

    Parameters
    ----------
    normalized : bool
        ``True`` (default): the values divided by their Euclidean norm (the
        Schmidt coefficients of the normalized state, :meth:`Spectrum.normalized`),
        representable at any N.  ``False``: the singular values themselves,
        when float64 can hold them; a ``ValueError`` naming the scale otherwise
        (random nets over a 32x32 grid reach ~exp(900)).

    Raises
    ------
    ValueError
        With ``normalized=False``, when the largest singular value lies outside
        float64's range: use :func:`schmidt_spectrum` for the values with their
        log-scale, or ``normalized=True``.

    See Also
    --------
    schmidt_spectrum : the values with the scale kept apart.
    """
    flag = check_flag(normalized, "normalized")
    return schmidt_spectrum(tensor, I, y=y, max_entries=max_entries).values_for(flag)


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


def core_rank(
    s: NDArray[np.floating[Any]], log: float, shape: tuple[int, ...], tol: float | None
) -> int:
    """How many of a root core's singular values ``s`` (decreasing) count toward the rank.

    The core carries the spectrum divided by ``exp(log)``.  Without ``tol`` the
    ``numpy.linalg.matrix_rank`` rule on the core, ``s_max * max(shape) * eps``;
    with ``tol`` an absolute threshold on the true values, compared in log space
    (``tol = 0``: every nonzero value).
    """
    if s.size == 0:
        return 0
    if tol is None:
        return int(np.count_nonzero(s > float(s[0]) * max(shape) * np.finfo(np.float64).eps))
    with np.errstate(divide="ignore"):
        return int(np.count_nonzero(np.log(s) + log > math.log(tol) if tol > 0 else s > 0))


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
    job = _prepare(tensor, I, y, max_entries, gram=method == "svd")
    tt, part = job.tt, job.part
    if method == "modular":
        if not tt.is_integer:
            raise ValueError(
                "method: 'modular' needs integer parameters; draw them with "
                "TreeTensor.random(..., integer=True)"
            )
        check_prime(prime)
        return int(rref_rows(_modular_core(tt, part, prime), prime).shape[0])
    with kernel_threads(job.biggest, job.tt.tree.num_nodes):
        core, log = float_core(tt, part, refuse=job.refuse, tree_links=job.links)
        s = root_values(core)
    return core_rank(s, log, core.shape, tol)
