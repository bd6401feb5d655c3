"""Exact ranks, Schmidt spectra and min cuts of mixed decompositions, by one reduction.

The reduction
-------------
Call an index set *common* when it is the root, or a child set of a common set,
and both trees pool it from the same child sets.  Above the frontier of common
sets the two networks of a :class:`~dltheory.mixed.MixedTensor` run over one
tree, the *common top*, side by side: product pooling is channel-wise, so
``[p^a_v ; p^b_v] = (.)_c [u^a_c ; u^b_c]``, and the weights act on the joined
channels as one matrix,

* ``blockdiag(W^a_v, W^b_v)`` at a plain node,
* ``[W^a_v | W^b_v]`` at a mixture node (each tree reads both trees' channels),
* ``[W^a_root ; W^b_root]`` at the root (``A = u^a_root + u^b_root``).

So the mixed tensor *is* a tree tensor over the common top, with widths
``r^a_v + r^b_v``, whose leaves are the *frontier* sets: the children of common
sets that are not common (positions, or nodes the trees pool differently).  A
frontier set ``F`` is materialized densely -- ``[u^a_F ; u^b_F]``, ``M^|F|``
rows: both networks below ``F``, mixture nodes included -- and split along the
partition like any leaf.  The spectrum then follows as for tree tensors
(:mod:`dltheory.analysis.spectrum`): cores ``(k_I, k_J, r)`` with orthonormal
implicit bases, Khatri-Rao products of the children's cores, Householder QR
whenever an unfolding is taller than wide, and the scale carried as a log; the
modular route runs the same recursion over ``Z/pZ`` with exact row reduction
(a certified lower bound on the rank over the rationals).

For ``dilated(N, (1, 2, 4, ...))`` and ``dilated(N, (2, 1, 4, ...))`` the
frontier is the blocks of 4 positions (``M^4 (r^a + r^b)`` entries each) and
the cost is that of one tree tensor.  Trees that share only the root (the
reversed scheme) have one frontier set, the whole tensor: the reduction is then
the dense tensor itself, refused above ``max_entries``.

Min cut
-------
:func:`min_cut` cuts the tensor network of the reduction (frontier tensors with
one leg per position, the common top's delta tensors of width
``r^a_v + r^b_v``); it bounds the rank for every setting of the weights.  It
does not see inside frontier sets, so mixing below the frontier does not change it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import networkx as nx
import numpy as np
from numpy.typing import NDArray

from ..analysis.cores import kernel_threads, root_values
from ..analysis.mincut import Cut, CutEdge
from ..analysis.modular import DEFAULT_PRIME, check_prime, mod_pool_last, rref_rows
from ..analysis.spectrum import DEFAULT_MAX_CORE_ENTRIES, Spectrum, core_rank
from ..validation import check_choice, check_flag, check_float, check_int, check_size
from .forward import dense_size, dense_values, targets
from .tensor import MixedTensor

__all__ = [
    "Reduction",
    "matricization_rank",
    "min_cut",
    "reduction",
    "schmidt_spectrum",
    "schmidt_values",
]

_SCALE = 2**40  # fixed-point scale of log-capacities (exact integer max-flow)


@dataclass(frozen=True)
class Reduction:
    """The common top of a mixed tensor: one tree over frontier sets.

    Attributes
    ----------
    order : list of frozenset
        Common sets, children before parents (the root last); empty when the
        trees share no pooling but the root's set (then ``frontier == [root]``).
    children : dict
        Common set -> its child sets (tree a's order).
    frontier : list of frozenset
        The leaves of the common top, materialized densely.
    weights : dict
        Common set -> the joined weight matrix.
    widths : dict
        Common set -> ``r^a_v + r^b_v`` (its pooled channels).
    ids : dict
        Common set -> tree a's node id (names the bonds of a cut).
    """

    order: list[frozenset[int]]
    children: dict[frozenset[int], tuple[frozenset[int], ...]]
    frontier: list[frozenset[int]]
    weights: dict[frozenset[int], NDArray[Any]]
    widths: dict[frozenset[int], int]
    ids: dict[frozenset[int], int]


def _check_tensor(tensor: Any) -> MixedTensor:
    if not isinstance(tensor, MixedTensor):
        raise TypeError(f"tensor: expected a MixedTensor, got {type(tensor).__name__}")
    return tensor


def reduction(tensor: MixedTensor) -> Reduction:
    """The common top and frontier of ``tensor`` (see the module notes)."""
    mt = _check_tensor(tensor)
    sets = mt.sets
    full = frozenset(range(mt.num_leaves))

    def kids(t: int, s: frozenset[int]) -> tuple[frozenset[int], ...]:
        tree = mt.trees[t]
        return tuple(frozenset(tree.leaves(c)) for c in tree.children(sets[t][s]))

    common: list[frozenset[int]] = []
    children: dict[frozenset[int], tuple[frozenset[int], ...]] = {}
    frontier: list[frozenset[int]] = []
    stack = [full]
    while stack:
        s = stack.pop()
        pooled = len(s) > 1 and s in sets[0] and s in sets[1] and len(kids(0, s)) > 1
        if pooled and set(kids(0, s)) == set(kids(1, s)):  # (a unary node stays dense)
            common.append(s)
            children[s] = kids(0, s)
            stack.extend(reversed(children[s]))
        else:
            frontier.append(s)
    weights, widths, ids = {}, {}, {}
    mix = set(mt.mix)
    for s in common:
        va, vb = sets[0][s], sets[1][s]
        wa, wb = mt.node_weights[0][va], mt.node_weights[1][vb]
        if s == full:
            w = np.vstack([wa, wb])
        elif s in mix:
            w = np.hstack([wa, wb])
        else:
            w = np.zeros((wa.shape[0] + wb.shape[0], wa.shape[1] + wb.shape[1]), dtype=wa.dtype)
            w[: wa.shape[0], : wa.shape[1]] = wa
            w[wa.shape[0] :, wa.shape[1] :] = wb
        weights[s], ids[s] = w, va
        widths[s] = mt.widths[0][va] + mt.widths[1][vb]
    return Reduction(common[::-1], children, frontier, weights, widths, ids)


def _frontier_dense(mt: MixedTensor, f: frozenset[int], exact: bool) -> NDArray[Any]:
    ua, ub = dense_values(mt, f, exact=exact)
    return ua + ub if len(f) == mt.num_leaves else np.concatenate([ua, ub], axis=-1)


def _split(dense: NDArray[Any], f: frozenset[int], part: frozenset[int], m: int) -> NDArray[Any]:
    """A frontier tensor ``(M,)*|F| + (w,)`` as a core ``(M^|I_F|, M^|J_F|, w)``."""
    pos = sorted(f)
    rows = [k for k, p in enumerate(pos) if p in part]
    cols = [k for k, p in enumerate(pos) if p not in part]
    out = dense.transpose([*rows, *cols, len(pos)])
    return out.reshape(m ** len(rows), m ** len(cols), dense.shape[-1])


def _shrunk(a: int, b: int, r: int) -> tuple[int, int]:
    """Core sides after compression (QR of an unfolding taller than wide)."""
    a = min(a, b * r)
    return a, min(b, a * r)


def _ordered(items: list[Any], shape: Any = np.shape) -> list[Any]:
    """Pure-I children first (they compress as they multiply), both-sided ones, pure-J last."""
    pure_i = [x for x in items if shape(x)[1] == 1]
    pure_j = [x for x in items if shape(x)[1] != 1 and shape(x)[0] == 1]
    both = [x for x in items if shape(x)[0] != 1 and shape(x)[1] != 1]
    return pure_i + both + pure_j


@dataclass(frozen=True)
class _Job:
    mt: MixedTensor
    part: frozenset[int]
    red: Reduction
    biggest: int  # entries of the largest intermediate

    def threads(self) -> Any:
        """BLAS threads for kernels of this size (one on small ones; see ``kernel_threads``)."""
        return kernel_threads(self.biggest, 2 * len(self.red.order) + len(self.red.frontier))


def _prepare(tensor: Any, I: Iterable[int], y: int | None, max_entries: int) -> _Job:
    """Checked tensor (one output), partition and reduction; every size refused before work."""
    mt = _check_tensor(tensor)
    part = mt.trees[0].check_partition(I)
    limit = check_int(max_entries, "max_entries", minimum=1)
    if y is not None:
        mt = mt.output(y)
    elif mt.out_dim != 1:
        raise ValueError(f"y: the tensor has {mt.out_dim} outputs; pass y= to pick one")
    red = reduction(mt)
    m = mt.in_dim
    shapes: dict[frozenset[int], tuple[int, int, int]] = {}
    biggest = 0
    for f in red.frontier:
        biggest = max(biggest, dense_size(mt, f))
        w = mt.out_dim if len(f) == mt.num_leaves else _frontier_width(mt, f)
        a, b = m ** len(f & part), m ** len(f - part)
        shapes[f] = (*_shrunk(a, b, w), w)
    for s in red.order:
        cores = _ordered([shapes.pop(c) for c in red.children[s]], shape=lambda x: x)
        r, out = red.widths[s], red.weights[s].shape[1]
        a, b = cores[0][:2] if len(cores) > 1 else (1, 1)
        for ca, cb, _ in cores[1:-1]:
            biggest = max(biggest, a * ca * b * cb * r)
            a, b = _shrunk(a * ca, b * cb, r)
        a, b = a * cores[-1][0], b * cores[-1][1]  # the last child, pooled with W at once
        biggest = max(biggest, a * b * max(r, out))
        shapes[s] = (*_shrunk(a, b, out), out)
    if biggest > limit:
        cut = min_cut(mt, part)
        check_size(
            biggest,
            "max_entries",
            limit=limit,
            what="the cores of this partition's exact analysis",
            fix=f"the rank is at most the min cut {cut.value if cut.value < 10**12 else '>1e12'} "
            "(MixedTensor.min_cut); raise max_entries if memory allows",
        )
    return _Job(mt, part, red, biggest)


def _frontier_width(mt: MixedTensor, f: frozenset[int]) -> int:
    """Channels of a frontier tensor: both trees' ``u`` at ``f`` (the outputs at the root)."""
    if len(f) == mt.num_leaves:
        return mt.out_dim
    total = 0
    for k, (kind, _, v) in enumerate(targets(mt, f)):
        w = mt.leaf_weights[k][v] if kind == "leaf" else mt.node_weights[k][v]
        total += int(w.shape[1])
    return total


# ---------------------------------------------------------------------- float cores


def _normalized(core: NDArray[np.float64], log: float) -> tuple[NDArray[np.float64], float]:
    top = float(np.max(np.abs(core))) if core.size else 0.0
    return (core / top, log + math.log(top)) if top > 0.0 else (core, log)


def _r_factor(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """``R`` of ``x = Q R`` (Householder QR, ``Q`` orthonormal, never formed)."""
    return np.asarray(np.linalg.qr(x, mode="r"), dtype=np.float64)


def _compress(core: NDArray[np.float64]) -> NDArray[np.float64]:
    """Orthonormal re-bases of each side whose unfolding is taller than wide (exact)."""
    a, b, r = core.shape
    if a > b * r:
        core = _r_factor(core.reshape(a, b * r)).reshape(-1, b, r)
        a = core.shape[0]
    if b > a * r:
        t = _r_factor(core.transpose(1, 0, 2).reshape(b, a * r))
        core = np.ascontiguousarray(t.reshape(-1, a, r).transpose(1, 0, 2))
    return core


def _float_root(job: _Job) -> tuple[NDArray[np.float64], float]:
    mt, part, red = job.mt, job.part, job.red
    cores: dict[frozenset[int], tuple[NDArray[np.float64], float]] = {}
    for f in red.frontier:
        dense = np.asarray(_frontier_dense(mt, f, exact=False), dtype=np.float64)
        cores[f] = _normalized(_compress(_split(dense, f, part, mt.in_dim)), 0.0)
    for s in red.order:
        kids = [cores.pop(c) for c in red.children[s]]
        log = sum(x[1] for x in kids)
        parts = _ordered([x[0] for x in kids])
        r, w = red.widths[s], red.weights[s].astype(np.float64)
        head = parts[0] if len(parts) > 1 else np.ones((1, 1, r))
        for q in parts[1:-1]:
            pa, pb, _ = head.shape
            prod = head[:, None, :, None, :] * q[None, :, None, :, :]
            head, log = _normalized(
                _compress(prod.reshape(pa * q.shape[0], pb * q.shape[1], r)), log
            )
        last = parts[-1]
        pooled = np.einsum("abk,cdk,kg->acbdg", head, last, w, optimize=True)
        shape = (head.shape[0] * last.shape[0], head.shape[1] * last.shape[1], w.shape[1])
        cores[s] = _normalized(_compress(pooled.reshape(shape)), log)
    core, log = cores[red.order[-1]] if red.order else cores[red.frontier[0]]
    return core[:, :, 0], log


def schmidt_spectrum(
    tensor: MixedTensor,
    I: Iterable[int],
    *,
    y: int | None = None,
    max_entries: int = DEFAULT_MAX_CORE_ENTRIES,
) -> Spectrum:
    """Schmidt spectrum of the matricization of a mixed tensor w.r.t. the positions ``I``.

    Exact up to rounding (tested against dense SVDs to 1e-10); values decreasing
    with their log-scale kept apart, as :func:`dltheory.schmidt_spectrum`.

    Raises
    ------
    ValueError
        Naming ``I`` for a bad partition, ``y`` for a multi-output tensor
        without ``y=``, ``max_entries`` when a frontier tensor or a core would
        exceed it (checked before any work; the message gives the min cut).
    """
    job = _prepare(tensor, I, y, max_entries)
    with job.threads():
        core, log = _float_root(job)
        values = root_values(core)
    return Spectrum(values=values, log_scale=log)


def schmidt_values(
    tensor: MixedTensor,
    I: Iterable[int],
    *,
    normalized: bool = True,
    y: int | None = None,
    max_entries: int = DEFAULT_MAX_CORE_ENTRIES,
) -> NDArray[np.float64]:
    """Singular values w.r.t. ``I``: unit Euclidean norm, or (``normalized=False``) absolute.

    Raises ``ValueError`` naming ``normalized`` when the absolute values leave float64.
    """
    flag = check_flag(normalized, "normalized")
    return schmidt_spectrum(tensor, I, y=y, max_entries=max_entries).values_for(flag)


# -------------------------------------------------------------------- modular cores


def _compress_mod(core: NDArray[np.int64], p: int) -> NDArray[np.int64]:
    a, b, r = core.shape
    x = rref_rows(core.reshape(a, b * r), p)
    core = x.reshape(x.shape[0], b, r)
    a = core.shape[0]
    t = rref_rows(core.transpose(1, 0, 2).reshape(b, a * r), p)
    return np.ascontiguousarray(t.reshape(t.shape[0], a, r).transpose(1, 0, 2))


def _modular_root(job: _Job, p: int) -> NDArray[np.int64]:
    mt, part, red = job.mt, job.part, job.red
    cores: dict[frozenset[int], NDArray[np.int64]] = {}
    for f in red.frontier:
        dense = np.asarray(_frontier_dense(mt, f, exact=True) % p, dtype=np.int64)
        cores[f] = _compress_mod(_split(dense, f, part, mt.in_dim), p)
    for s in red.order:
        parts = _ordered([cores.pop(c) for c in red.children[s]])
        r, w = red.widths[s], np.mod(red.weights[s], p)
        head = parts[0] if len(parts) > 1 else np.ones((1, 1, r), dtype=np.int64)
        for q in parts[1:-1]:
            pa, pb, _ = head.shape
            prod = (head[:, None, :, None, :] * q[None, :, None, :, :]) % p
            head = _compress_mod(prod.reshape(pa * q.shape[0], pb * q.shape[1], r), p)
        cores[s] = _compress_mod(mod_pool_last(head, parts[-1], w, p), p)
    core = cores[red.order[-1]] if red.order else cores[red.frontier[0]]
    return core[:, :, 0]


def matricization_rank(
    tensor: MixedTensor,
    I: Iterable[int],
    method: Literal["svd", "modular"] = "svd",
    *,
    tol: float | None = None,
    prime: int = DEFAULT_PRIME,
    y: int | None = None,
    max_entries: int = DEFAULT_MAX_CORE_ENTRIES,
) -> int:
    """Rank of the matricization w.r.t. ``I``, never materializing the tensor.

    ``method="svd"`` counts singular values above ``tol`` (default
    ``s_max * max(k_I, k_J) * eps`` on the root core, as
    :func:`dltheory.matricization_rank`); ``"modular"`` is the exact rank over
    ``Z/prime Z`` of an integer tensor: a certified lower bound on the rank over
    the rationals (:meth:`MixedTensor.min_cut` is an upper bound).
    """
    check_choice(method, "method", ("svd", "modular"))
    if tol is not None:
        tol = check_float(tol, "tol", minimum=0.0)
    p = check_prime(prime)
    job = _prepare(tensor, I, y, max_entries)
    if method == "modular":
        if not job.mt.is_integer:
            raise ValueError(
                "method: 'modular' needs integer parameters; draw them with "
                "MixedTensor.random(..., integer=True)"
            )
        return int(rref_rows(_modular_root(job, p), p).shape[0])
    with job.threads():
        core, log = _float_root(job)
        s = np.linalg.svd(core, compute_uv=False)
    return core_rank(s, log, core.shape, tol)


# ------------------------------------------------------------------------- min cut


def min_cut(tensor: MixedTensor, I: Iterable[int]) -> Cut:
    """Minimal cut of the reduction's tensor network separating ``I`` from the rest.

    Returns
    -------
    Cut
        ``value``, the product of the cut widths, bounds the rank of the
        matricization for every setting of the weights; ``edges`` are position
        legs (width ``M``) and common-top bonds (width ``r^a_v + r^b_v``, named
        by tree a's node id).
    """
    mt = _check_tensor(tensor)
    part = mt.trees[0].check_partition(I)
    red = reduction(mt)
    m = mt.in_dim

    def cap(w: int) -> int:
        return round(math.log(w) * _SCALE)

    inf = cap(m) * mt.num_leaves + sum(cap(w) for w in red.widths.values()) + 1
    name = {f: f"F{k}" for k, f in enumerate(red.frontier)}
    name.update({s: f"W{red.ids[s]}" for s in red.order})
    g = nx.DiGraph()
    for f in red.frontier:
        for i in f:
            if i in part:
                g.add_edge("s", f"x{i}", capacity=cap(m))
                g.add_edge(f"x{i}", name[f], capacity=inf)
            else:
                g.add_edge(name[f], f"x{i}", capacity=inf)
                g.add_edge(f"x{i}", "t", capacity=cap(m))
    for s in red.order:
        v = red.ids[s]
        g.add_edge(f"in{v}", f"out{v}", capacity=cap(red.widths[s]))
        for u in [name[s]] + [name[c] for c in red.children[s]]:
            g.add_edge(u, f"in{v}", capacity=inf)
            g.add_edge(f"out{v}", u, capacity=inf)
    _, (s_side, _) = nx.minimum_cut(g, "s", "t")
    edges = [
        CutEdge("leg", i, m) for i in range(mt.num_leaves) if (i in part) != (f"x{i}" in s_side)
    ]
    for s in red.order:
        v = red.ids[s]
        if f"in{v}" in s_side and f"out{v}" not in s_side:
            edges.append(CutEdge("bond", v, red.widths[s]))
    value = math.prod(e.width for e in edges)
    return Cut(value=value, edges=tuple(edges), source_side=frozenset(s_side))
