"""The hierarchical SVD (HT-SVD) of a tensor onto any mode tree (Grasedyck, SIMAX 31(4), 2010).

For a target ``A`` of shape ``(M,)*N`` (a coefficient tensor, or the grid tensor of any
network or function) :func:`hierarchical_svd` computes a hierarchical Tucker approximation:

* for every non-root node ``v`` (leaves included) the ``k_v`` leading left singular
  vectors ``U_v`` of the matricization ``A_(v)`` (rows: the positions under ``v``);
* for every internal node the transfer tensor ``B_v = (U_c1 (x) ... (x) U_cm)^T U_v`` of
  shape ``(k_c1, ..., k_cm, k_v)``, and at the root ``B_root = (U_c1 (x) ...)^T A``
  (``k_root = 1``).

Grasedyck's root-to-leaves truncation (2010, Sec. 3): every basis comes from ``A``, so the
node spectra are the target's own and a tolerance's rank ``k_v`` depends on ``A`` and ``v``
alone.  ``A_H = pi_L ... pi_1 A``, ``pi_l`` projecting onto the bases at depth ``l`` (the
root's children first, leaves last), and ``||A - P_L ... P_1 A||^2 <= sum_l ||(I - P_l) A||^2``
for orthogonal projections (Grasedyck, Thm 3.11).

Bound for any arity
-------------------
Nodes with the same bipartition ``{leaves(v), rest}`` (a unary chain; the two children of
a binary top split) share one SVD, one basis and one rank, and count once.  With ``G``
the set of these bipartitions (nodes over all positions excluded) and
``tail_g^2 = sum_{i > k_g} sigma_{g,i}^2``,

``||A - A_H|| <= sqrt(sum_g tail_g^2) <= sqrt(n_T) * ||A - A_best||``

with ``n_T`` the number of truncated bipartitions and ``A_best`` the best approximation of
HT ranks ``<= k`` (``||A - A_best|| >= max_g tail_g``, Eckart-Young).  A full binary tree has
``n_T <= 2N - 3`` (Grasedyck's constant), the flat tree (Tucker, HOSVD) ``n_T <= N``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..analysis.cores import kernel_threads
from ..tensors import TreeTensor
from ..trees import ModeTree
from ..validation import check_array, check_float, check_int, check_size, describe

__all__ = ["DEFAULT_MAX_HTSVD_ENTRIES", "HTResult", "hierarchical_svd", "required_widths"]

#: Largest target (entries) :func:`hierarchical_svd` decomposes by default (2^24 float64 =
#: 128 MiB; the SVDs of its matricizations take a few times that).
DEFAULT_MAX_HTSVD_ENTRIES = 2**24

_EPS = float(np.finfo(np.float64).eps)
_ALL = ("all",)  # group key of the nodes over all positions (a column matricization)


def _as_tree(tree: Any, name: str) -> ModeTree:
    """A ModeTree, or one built from a nested list; errors name ``name``."""
    if isinstance(tree, ModeTree):
        return tree
    if isinstance(tree, (list, tuple)):
        try:
            return ModeTree.from_nested(list(tree))
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{name}: not a valid nested tree ({exc})") from None
    raise TypeError(
        f"{name}: expected a ModeTree or a nested list of positions, got {describe(tree)}"
    )


def _dense_target(target: Any, tree: ModeTree, limit: int) -> NDArray[np.float64]:
    """The target as a float64 array of shape ``(M,)*N``, size refused before any copy."""
    n = tree.num_leaves
    if isinstance(target, TreeTensor):
        if target.out_dim != 1:
            raise ValueError(
                f"target: expected a single-output TreeTensor, got out_dim = "
                f"{target.out_dim}; pass target.output(y)"
            )
        if target.num_leaves != n:
            raise ValueError(
                f"target: a TreeTensor over {target.num_leaves} positions, but tree has {n} leaves"
            )
        check_size(
            target.dense_size(),
            "target",
            limit=limit,
            what=f"the dense form of a TreeTensor of {target.in_dim}^{n} entries",
            fix="raise max_entries, or analyse it with schmidt_values",
        )
        return np.asarray(target.to_dense(max_entries=limit), dtype=np.float64)
    check_array(target, "target", finite=False)
    shape = tuple(int(s) for s in target.shape)
    if len(shape) != n or len(set(shape)) != 1 or shape[0] < 1:
        raise ValueError(
            f"target: expected an array of shape (M,)*{n}, one axis of the same "
            f"size M >= 1 per leaf of tree ({tree!r}), got shape {shape}"
        )
    check_size(
        math.prod(shape),
        "target",
        limit=limit,
        what=f"a target of shape {shape}",
        fix="raise max_entries",
    )
    check_array(target, "target")
    if hasattr(target, "detach"):  # a torch tensor
        target = target.detach().cpu().numpy()
    return np.asarray(target, dtype=np.float64)


def _check_tol(tol: Any) -> float:
    """A relative Frobenius error in ``(0, 1)``; ``ValueError``/``TypeError`` naming ``tol``."""
    return check_float(
        tol,
        "tol",
        minimum=0.0,
        maximum=1.0,
        exclusive_minimum=True,
        exclusive_maximum=True,
        fix="tol is a relative Frobenius error",
    )


def _caps(tree: ModeTree, ranks: Any) -> dict[int, int]:
    """Caps on the HT ranks of non-root nodes from an int, a per-level sequence or a mapping."""
    root = tree.root
    if isinstance(ranks, Mapping):
        out: dict[int, int] = {}
        for key, value in ranks.items():
            v = check_int(key, "ranks (a key)", minimum=0, maximum=root, fix="a node id")
            out[v] = check_int(value, f"ranks: cap of node {v}", minimum=1, fix="caps are >= 1")
        out.pop(root, None)  # the root's HT rank is 1
        return out
    if isinstance(ranks, np.ndarray) and ranks.ndim == 1:
        ranks = ranks.tolist()
    if isinstance(ranks, Sequence) and not isinstance(ranks, (str, bytes)):
        caps = tree.resolve_ranks(list(ranks), name="ranks")
        caps.pop(root)
        return caps
    r = check_int(
        ranks, "ranks", minimum=1, fix="a cap >= 1, one per level, or a mapping node -> cap"
    )
    return {v: r for v in tree.nodes if v != root}


def _group_key(tree: ModeTree, v: int) -> tuple[Any, ...]:
    """The bipartition of node ``v``: the side holding position 0 (or ``_ALL``)."""
    side = tree.leaves(v)
    if len(side) == tree.num_leaves:
        return _ALL
    if side[0] == 0:
        return side
    inside = set(side)
    return tuple(i for i in range(tree.num_leaves) if i not in inside)


def _contract(
    t: NDArray[Any],
    labels: list[int],
    tree: ModeTree,
    kids: Sequence[int],
    bases: Mapping[int, NDArray[Any]],
) -> NDArray[Any]:
    """Contract the leading position axes of ``t`` (named ``labels``) with each child's basis.

    Returns the trailing axes of ``t`` followed by one axis ``k_c`` per child, in order.
    """
    lab = list(labels)
    for c in kids:
        lc = tree.leaves(c)
        t = np.tensordot(t, bases[c], axes=([lab.index(i) for i in lc], list(range(len(lc)))))
        gone = set(lc)
        lab = [i for i in lab if i not in gone]
    return t


@dataclass(frozen=True, eq=False)
class HTResult:
    """A hierarchical SVD: the HT approximation ``A_H``, its ranks, spectra and error bound.

    Attributes
    ----------
    tree : ModeTree
    in_dim : int
        Mode size M.
    ranks : dict node -> int
        HT rank ``k_v`` of every node (leaves included, the root 1).
    spectra : dict node -> ndarray
        Singular values (decreasing) of the target's matricization w.r.t. the positions
        under each non-root node.
    leaf_bases : tuple of ndarray
        ``U_i`` of shape ``(M, k_i)``, orthonormal columns.
    transfers : dict internal node -> ndarray
        ``B_v`` of shape ``(k_c1, ..., k_cm, k_v)`` (children in tree order).
    norm : float
        ``||A||`` (Frobenius).
    error_bound : float
        ``sqrt(sum_g tail_g^2)``: ``||A - A_H|| <= error_bound`` (absolute).
    truncated : tuple of int
        One node per truncated bipartition (a singular value above the numerical
        tolerance was discarded); ``sqrt(len(truncated))`` is the quasi-optimality factor.
    rule : str
        ``"ranks"``, ``"tol"`` or ``"exact"``.
    """

    tree: ModeTree
    in_dim: int
    ranks: dict[int, int]
    spectra: dict[int, NDArray[np.float64]] = field(repr=False)
    leaf_bases: tuple[NDArray[np.float64], ...] = field(repr=False)
    transfers: dict[int, NDArray[np.float64]] = field(repr=False)
    norm: float
    error_bound: float
    truncated: tuple[int, ...]
    rule: str

    @property
    def relative_error_bound(self) -> float:
        """``error_bound / ||A||`` (0 for the zero tensor)."""
        return self.error_bound / self.norm if self.norm > 0 else 0.0

    @property
    def quasi_optimality(self) -> float:
        """``sqrt(n_T)``: ``||A - A_H|| <= sqrt(n_T) ||A - A_best||`` at these ranks."""
        return math.sqrt(len(self.truncated))

    def _kids_k(self, v: int) -> list[int]:
        return [self.ranks[c] for c in self.tree.children(v)]

    @property
    def num_params(self) -> int:
        """Parameters of the HT format: ``sum_i M k_i + sum_v prod_c k_c * k_v``."""
        leaves = sum(self.in_dim * self.ranks[i] for i in range(self.tree.num_leaves))
        return leaves + sum(
            math.prod(self._kids_k(v)) * self.ranks[v] for v in self.tree.internal_nodes
        )

    @property
    def needed_widths(self) -> dict[int, int]:
        """Lower bounds on a ConvAC's widths: ``r_v >= max(k_v, max_c k_c)``.

        Cutting the bond (delta tensor) of node ``v`` separates the positions under any
        one child, or under ``v``, from the rest, so the ranks of those matricizations
        are at most ``r_v`` (Levine, Yakira, Cohen & Shashua, ICLR'18, Claim 1).  For an
        untruncated HT-SVD these are lower bounds for computing ``A`` exactly; arity > 2
        can need more (unions of children are other matricizations).
        """
        return {v: max([self.ranks[v], *self._kids_k(v)]) for v in self.tree.internal_nodes}

    @property
    def convac_widths(self) -> dict[int, int]:
        """Widths of :meth:`to_tree_tensor`: ``r_v = prod_c k_c * min(1, k_v / max_c k_c)``."""
        out = {}
        for v in self.tree.internal_nodes:
            ks = self._kids_k(v)
            full = math.prod(ks)
            out[v] = min(full, full // max(ks) * self.ranks[v])
        return out

    @property
    def convac_params(self) -> int:
        """Parameters of :meth:`to_tree_tensor` (computed without building it)."""
        w, tree = self.convac_widths, self.tree
        total = w[tree.root]  # the root's (r_root, 1) output matrix
        for v in tree.nodes:
            p = tree.parent(v)
            if p is not None:
                total += (self.in_dim if v < tree.num_leaves else w[v]) * w[p]
        return total

    def to_dense(self) -> NDArray[np.float64]:
        """The approximation ``A_H`` as a dense array of shape ``(M,)*N``."""
        tree, n = self.tree, self.tree.num_leaves
        mats: dict[int, NDArray[np.float64]] = dict(enumerate(self.leaf_bases))
        order: dict[int, list[int]] = {i: [i] for i in range(n)}
        for v in tree.internal_nodes:
            t = self.transfers[v]
            modes: list[int] = []
            for j, c in enumerate(tree.children(v)):
                t = np.moveaxis(np.tensordot(mats.pop(c), t, axes=([1], [j])), 0, j)
                modes += order.pop(c)
            mats[v] = t.reshape(-1, t.shape[-1])
            order[v] = modes
        dense = mats[tree.root].reshape((self.in_dim,) * n)
        return np.ascontiguousarray(dense.transpose(np.argsort(order[tree.root])))

    def to_tree_tensor(self) -> TreeTensor:
        """``A_H`` exactly as a ConvAC (:class:`~dltheory.tensors.TreeTensor`) over the tree.

        A transfer tensor ``B_v`` is a product-pooling node: with one term per index
        ``alpha = (b_1, ..., b_m)`` of the children's bases, the children's weights select
        ``b_j`` and the node's output matrix is ``B_v`` (width ``prod_c k_c``); or, where
        smaller, the largest child's leg carries the slice ``B_v[b_-j, :, a]`` and the terms
        are ``(b_-j, a)`` (width ``k_v prod_c k_c / max_c k_c``).  A child's weight matrix
        is its own output matrix composed with the parent's selection; a leaf's is
        ``U_i`` composed with it.  Widths: :attr:`convac_widths`.
        """
        tree = self.tree
        sel: dict[int, NDArray[np.float64]] = {}  # child -> (k_c, r_parent)
        out: dict[int, NDArray[np.float64]] = {}  # internal v -> (r_v, k_v)
        for v in tree.internal_nodes:
            kids, b = tree.children(v), self.transfers[v]
            ks, kv = self._kids_k(v), self.ranks[v]
            j = int(np.argmax(ks)) if kv < max(ks) else -1  # -1: no leg carries a slice
            grid = [k for i, k in enumerate(ks) if i != j] + ([kv] if j >= 0 else [])
            idx = np.indices(grid).reshape(len(grid), -1)  # the terms alpha, row-major
            legs = [c for i, c in enumerate(kids) if i != j]
            for c, k, row in zip(legs, grid, idx, strict=False):  # a slice's last axis: a
                sel[c] = (np.arange(k)[:, None] == row[None, :]).astype(np.float64)
            if j < 0:
                out[v] = b.reshape(-1, kv)
            else:
                sel[kids[j]] = np.moveaxis(b, j, 0).reshape(ks[j], -1)
                out[v] = np.tile(np.eye(kv), (idx.shape[1] // kv, 1))
        leaves = [self.leaf_bases[i] @ sel[i] for i in range(tree.num_leaves)]
        nodes = {v: out[v] if v == tree.root else out[v] @ sel[v] for v in tree.internal_nodes}
        return TreeTensor(tree, leaves, nodes)

    def __repr__(self) -> str:
        return (
            f"HTResult({self.tree!r}, M={self.in_dim}, rule={self.rule!r}, max_rank="
            f"{max(self.ranks.values())}, params={self.num_params}, "
            f"relative_error_bound={self.relative_error_bound:.3g})"
        )


_Keep = Callable[[tuple[Any, ...], NDArray[np.float64], int], int]


def _decompose(
    a: NDArray[np.float64],
    tree: ModeTree,
    groups: dict[tuple[Any, ...], list[int]],
    keep: _Keep,
    rule: str,
) -> HTResult:
    """Root-to-leaves HT-SVD: one SVD per bipartition, ``keep(group, s, numerical) -> k``."""
    n, m = tree.num_leaves, a.shape[0]
    norm = float(np.linalg.norm(a))
    cache: dict[tuple[Any, ...], tuple[NDArray[Any], NDArray[Any], NDArray[Any], int]] = {}
    pending = {g: len(vs) for g, vs in groups.items()}
    bases: dict[int, NDArray[np.float64]] = {}  # non-root node -> (M,)*n_v + (k_v,)
    spectra: dict[int, NDArray[np.float64]] = {}
    out_ranks: dict[int, int] = {tree.root: 1}
    transfers: dict[int, NDArray[np.float64]] = {}
    bound2, truncated = 0.0, []
    for v in tree.nodes:
        if v == tree.root:
            break
        g = _group_key(tree, v)
        if g not in cache:
            rows = list(range(n)) if g == _ALL else list(g)
            cols = [i for i in range(n) if i not in set(rows)]
            mat = a.transpose(rows + cols).reshape(m ** len(rows), -1)
            u, s, vt = np.linalg.svd(mat, full_matrices=False)
            s = np.asarray(s, dtype=np.float64)
            s.setflags(write=False)
            numerical = max(1, int(np.count_nonzero(s > max(mat.shape) * _EPS * norm)))
            k = keep(g, s, numerical)
            bound2 += float(np.sum(s[k:] ** 2))
            if k < numerical:
                truncated.append(v)
            cache[g] = (u[:, :k], s, vt[:k].T, k)
        u, s, vside, k = cache[g]
        side = tree.leaves(v)
        basis = u if g == _ALL or side[0] == 0 else vside
        bases[v] = basis.reshape((m,) * len(side) + (k,))
        spectra[v], out_ranks[v] = s, k
        pending[g] -= 1
        if not pending[g]:
            del cache[g]
        if v >= n:
            kids = tree.children(v)
            t = _contract(bases[v], list(side), tree, kids, bases)
            transfers[v] = np.ascontiguousarray(np.moveaxis(t, 0, -1))
            for c in kids:
                if c >= n:
                    del bases[c]
    kids = tree.children(tree.root)
    transfers[tree.root] = _contract(a, list(range(n)), tree, kids, bases)[..., None]
    leaf_bases = tuple(np.ascontiguousarray(bases[i].reshape(m, -1)) for i in range(n))
    ranks = dict(sorted(out_ranks.items()))
    return HTResult(tree, m, ranks, spectra, leaf_bases, transfers, norm, math.sqrt(bound2),
                    tuple(truncated), rule)  # fmt: skip


def hierarchical_svd(
    target: Any,
    tree: ModeTree | Sequence[Any],
    *,
    ranks: int | Sequence[int] | Mapping[int, int] | None = None,
    tol: float | None = None,
    max_rank: int | None = None,
    max_entries: int = DEFAULT_MAX_HTSVD_ENTRIES,
) -> HTResult:
    """The hierarchical SVD of ``target`` onto ``tree``, truncated by rank or by tolerance.

    Parameters
    ----------
    target : ndarray, torch.Tensor or TreeTensor
        A real, finite tensor of shape ``(M,)*N`` (a function sampled on M templates at
        each of N positions, see :func:`dltheory.analysis.grid_tensor`), or a
        single-output TreeTensor (expanded to its dense form).
    tree : ModeTree or nested list
        The pooling geometry (``N`` leaves).
    ranks : int, sequence or mapping, optional
        Caps on the HT ranks.  An int caps every non-root node, leaves included; a
        sequence gives one cap per level of internal nodes, as
        :meth:`~dltheory.trees.ModeTree.resolve_ranks` (the root's entry is unused, its
        rank is 1; leaves are then capped by ``max_rank`` only); a mapping caps the nodes
        it lists (leaves or internal; the root's entry is ignored).  Nodes sharing a
        bipartition take the smallest of their caps.
    tol : float, optional
        Relative Frobenius error in ``(0, 1)``: each of the ``n`` bipartitions keeps the
        fewest singular values whose discarded tail is ``<= tol ||A|| / sqrt(n)``, so
        ``||A - A_H|| <= tol ||A||`` is guaranteed (up to rounding) unless ``max_rank``
        binds.
    max_rank : int, optional
        A cap on every non-root node's rank, combined with either rule.
    max_entries : int
        Refuse targets (or dense forms of a TreeTensor) above this many entries.

    With neither ``ranks`` nor ``tol`` the ranks are the numerical ranks.  Singular
    values ``<= max(rows, cols) * eps * ||A||`` (the matricization's shape, float64
    ``eps``; as :func:`numpy.linalg.matrix_rank`) are dropped under every rule.

    Returns
    -------
    HTResult
        Bases, transfer tensors, ranks, node spectra and the bound
        ``||A - A_H|| <= sqrt(sum_g tail_g^2) <= sqrt(n_T) ||A - A_best||`` (module notes).

    Raises
    ------
    TypeError, ValueError
        For a bad argument (named), both ``ranks`` and ``tol``, or a target too large.
    """
    tree = _as_tree(tree, "tree")
    limit = check_int(max_entries, "max_entries", minimum=1)
    if ranks is not None and tol is not None:
        raise ValueError(
            "ranks, tol: expected one truncation rule, got both; pass ranks "
            "(caps) or tol (a relative error), not both"
        )
    caps = _caps(tree, ranks) if ranks is not None else {}
    if tol is not None:
        tol = _check_tol(tol)
    cap_all = None if max_rank is None else check_int(max_rank, "max_rank", minimum=1)
    a = _dense_target(target, tree, limit)
    norm = float(np.linalg.norm(a))
    groups: dict[tuple[Any, ...], list[int]] = {}
    for v in tree.nodes:
        if v != tree.root:
            groups.setdefault(_group_key(tree, v), []).append(v)
    counted = [g for g in groups if g != _ALL]
    eps2 = (tol * norm) ** 2 / len(counted) if tol is not None and counted else 0.0
    rule = "ranks" if ranks is not None else "tol" if tol is not None else "exact"

    def keep(g: tuple[Any, ...], s: NDArray[np.float64], numerical: int) -> int:
        k = numerical
        if rule == "tol" and g != _ALL:
            tails = np.append(np.cumsum((s**2)[::-1])[::-1], 0.0)  # tails[k] = sum_{i>=k} s_i^2
            k = min(k, max(1, int(np.argmax(tails <= eps2))))
        member_caps = [caps[w] for w in groups[g] if w in caps]
        return min([k, *member_caps] + ([cap_all] if cap_all is not None else []))

    with kernel_threads(a.size, tree.num_nodes):  # one BLAS thread on mid-size kernels
        return _decompose(a, tree, groups, keep, rule)


def required_widths(
    target: Any,
    tree: ModeTree | Sequence[Any],
    tol: float | None = None,
    *,
    max_entries: int = DEFAULT_MAX_HTSVD_ENTRIES,
) -> dict[int, int]:
    """The widths a ConvAC over ``tree`` needs at its internal nodes to reach ``tol``.

    ``r_v >= max(k_v, max_c k_c)`` for the ranks ``k`` of the ``tol``-truncated
    hierarchical SVD (:attr:`HTResult.needed_widths`); with ``tol=None`` the ranks are
    the numerical ranks of the target's own matricizations, so a ConvAC of smaller width
    at ``v`` cannot compute it exactly (Levine et al., ICLR'18, Claim 1).  "Which widths
    does this function need under this pooling geometry."

    Parameters
    ----------
    target, tree, max_entries
        As for :func:`hierarchical_svd`.
    tol : float, optional
        Relative Frobenius error in ``(0, 1)``; ``None`` for an exact representation.
    """
    return hierarchical_svd(target, tree, tol=tol, max_entries=max_entries).needed_widths
