"""The min cut of a tree tensor network by dynamic programming (Levine et al., ICLR'18).

The matricization rank of a ConvAC's coefficient tensor w.r.t. a partition
``(I, J)`` of its inputs is at most the minimal cut of its tensor network
separating the legs of ``I`` from those of ``J`` (Levine, Yakira, Cohen &
Shashua, "Deep Learning and Quantum Entanglement", ICLR 2018, Claim 1 / Thm 1).
Because the network is a tree, that cut needs no max-flow.

The network is a tree: leaf matrices ``A_i`` (with the open leg of position
``i``, width M), node matrices ``W_v`` and, per internal node ``v``, a delta
tensor (hyperedge of width ``r_v``) joining ``W_v`` to its children's
tensors.  Put every tensor on the side of ``I`` (s) or of ``J`` (t).  Let
``f_v(side)`` be the cheapest log-cost below ``v`` with ``W_v`` (or ``A_i``) on
``side``: a leaf pays ``log M`` when it is not on its own leg's side, and

``f_v(side) = min( sum_c f_c(side),  log r_v + sum_c min(f_c(s), f_c(t)) )``

(keep the hyperedge whole, or cut it once).  The min cut is
``min(f_root(s), f_root(t))`` (:func:`tree_min_cut`, exact integer products).  With
one width per level, nodes whose (level, children classes) agree have equal
``f``: the searches of :mod:`.widths` evaluate one class per distinct subtree
pattern, vectorized over candidate widths (:class:`_Scorer`; a few dozen
classes for a 32x32 grid and a left/right or interleaved partition, instead of
1365 nodes).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..analysis.mincut import Cut, CutEdge
from ..trees import ModeTree, Ranks
from ..validation import check_int, describe

__all__ = ["tree_min_cut"]

_CHUNK_ENTRIES = 2**22  # floats held by one vectorized evaluation


def _check_tree(tree: Any) -> ModeTree:
    if not isinstance(tree, ModeTree):
        raise TypeError(f"tree: expected a ModeTree, got {describe(tree)}")
    return tree


def tree_min_cut(tree: ModeTree, ranks: Ranks, I: Iterable[int], *, in_dim: int) -> Cut:
    """Minimal cut separating ``I``, by the dynamic program over the tree (module notes).

    Same result as :func:`dltheory.analysis.min_cut` (exact integer ``value``;
    ties may pick other edges) in time linear in the tree, without max-flow.
    ``source_side`` names the vertices of :func:`~dltheory.analysis.min_cut`'s
    flow graph on the side of ``I`` (``"s"``, ``"A{i}"``, ``"W{v}"``, ``"in{v}"``,
    ``"out{v}"``).
    """
    tree = _check_tree(tree)
    m = check_int(in_dim, "in_dim", minimum=1)
    w = tree.resolve_ranks(ranks)
    part = tree.check_partition(I)
    n = tree.num_leaves
    f: list[tuple[int, int]] = [((1, m) if i in part else (m, 1)) for i in range(n)]
    cut_here: list[tuple[bool, bool]] = [(False, False)] * n
    for v in tree.internal_nodes:
        kids = tree.children(v)
        keep = [math.prod(f[c][s] for c in kids) for s in (0, 1)]
        cut = w[v] * math.prod(min(f[c]) for c in kids)
        f.append((min(keep[0], cut), min(keep[1], cut)))
        cut_here.append((cut < keep[0], cut < keep[1]))
    side = [0] * len(f)  # 0: the side of I (source)
    root = tree.root
    side[root] = 0 if f[root][0] <= f[root][1] else 1
    edges: list[CutEdge] = []
    names = {"s"}
    for v in reversed(tree.internal_nodes):
        kids = tree.children(v)
        if cut_here[v][side[v]]:
            edges.append(CutEdge("bond", v, w[v]))
            for c in kids:
                side[c] = 0 if f[c][0] <= f[c][1] else 1
        else:
            for c in kids:
                side[c] = side[v]
        members = [v, *kids]
        if any(side[u] == 0 for u in members):
            names.add(f"in{v}")
        if all(side[u] == 0 for u in members):
            names.add(f"out{v}")
    legs = [CutEdge("leg", i, m) for i in range(n) if side[i] != (0 if i in part else 1)]
    names.update(f"A{i}" for i in range(n) if side[i] == 0)
    names.update(f"W{v}" for v in tree.internal_nodes if side[v] == 0)
    all_edges = tuple(legs + sorted(edges, key=lambda e: e.node))
    return Cut(math.prod(e.width for e in all_edges), all_edges, frozenset(names))


class _Scorer:
    """The dynamic programs of all partitions, over classes of equal subtrees (module notes).

    A class is a (width variable, multiset of child classes); classes are shared
    by the partitions and numbered by height (0: a leaf in ``I``, 1: not), and
    each height is one vectorized stage.  Counts the candidates scored.
    """

    def __init__(
        self, tree: ModeTree, parts: list[frozenset[int]], var: dict[int, int], m: int, limit: int
    ) -> None:
        table: dict[tuple[Any, ...], int] = {}
        found: list[tuple[int, list[tuple[int, int]]]] = []
        height, roots = [0, 0], []
        for part in parts:
            cls = [0 if i in part else 1 for i in range(tree.num_leaves)]
            for v in tree.internal_nodes:
                kids = sorted(Counter(cls[c] for c in tree.children(v)).items())
                key = (var[v], *kids)
                if key not in table:
                    table[key] = len(height)
                    found.append((var[v], kids))
                    height.append(1 + max(height[c] for c, _ in kids))
                cls.append(table[key])
            roots.append(cls[tree.root])
        rank = sorted(range(len(height)), key=height.__getitem__)  # stable: leaves stay 0, 1
        new = {old: k for k, old in enumerate(rank)}
        self.size, self.roots = len(height), np.array([new[r] for r in roots])
        self.stages: list[tuple[int, int, Any, Any, Any, Any]] = []
        k = 2
        while k < self.size:
            h, members = height[rank[k]], []
            while k < self.size and height[rank[k]] == h:
                members.append(found[rank[k] - 2])
                k += 1
            child = [new[c] for _, kids in members for c, _ in kids]
            mult = [float(x) for _, kids in members for _, x in kids]
            starts = np.cumsum([0] + [len(kids) for _, kids in members[:-1]])
            self.stages.append(
                (k - len(members), k, np.array([j for j, _ in members]), np.array(child),
                 np.array(mult), starts)
            )  # fmt: skip
        self.logm, self.limit, self.scored = math.log(m), limit, 0
        self.chunk = max(1, _CHUNK_ENTRIES // (8 * self.size + len(var)))

    def cuts(self, logw: NDArray[np.float64]) -> NDArray[np.float64]:
        """(K, partitions) log min cuts for the rows of per-variable log-widths ``logw``."""
        self.scored += len(logw)
        return np.concatenate(
            [self._cuts(logw[s : s + self.chunk]) for s in range(0, len(logw), self.chunk)]
        )

    def _cuts(self, logw: NDArray[np.float64]) -> NDArray[np.float64]:
        f = np.empty((len(logw), 2, self.size))  # cheapest cost below: tensor on side s / t
        f[:, :, :2] = ((0.0, self.logm), (self.logm, 0.0))
        for lo, hi, var, child, mult, starts in self.stages:
            g = f[:, :, child]
            g = np.concatenate([g, g.min(axis=1, keepdims=True)], axis=1) * mult
            r = np.add.reduceat(g, starts, axis=2)  # keep s, keep t, cut: children's share
            f[:, :, lo:hi] = np.minimum(r[:, :2], (logw[:, var] + r[:, 2])[:, None, :])
        return np.asarray(f[:, :, self.roots].min(axis=1))
