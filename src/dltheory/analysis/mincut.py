"""The tensor network of a ConvAC and its minimal cuts.

A :class:`~dltheory.tensors.TreeTensor` is a tree tensor network: one matrix per
leaf (``A_i``, with the open leg of position ``i``), one matrix per internal
node (``W_v``), and at every internal node a *delta tensor* of width ``r_v``
joining the children's outputs to ``W_v`` (product pooling).  A delta tensor is
a hyperedge: cutting it costs ``r_v`` however its legs are split, never the sum
of its legs.  The rank of the matricization w.r.t. ``I`` is at most the product
of the widths of any cut separating the open legs of ``I`` from the rest, for
every setting of the weights (Levine, Yakira, Cohen & Shashua, ICLR'18,
Claim 1); the minimal such product is returned here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import networkx as nx

from ..trees import ModeTree, Ranks
from ..validation import check_int

__all__ = ["Cut", "CutEdge", "min_cut", "network_graph"]

_SCALE = 2**40  # fixed-point scale for log-capacities (exact integer max-flow)


def _check_tree(tree: object) -> ModeTree:
    if not isinstance(tree, ModeTree):
        raise TypeError(f"tree: expected a ModeTree, got {type(tree).__name__}")
    return tree


@dataclass(frozen=True)
class CutEdge:
    """One cut edge: the open ``leg`` of a position, or the ``bond`` (delta tensor) of a node."""

    kind: str  # "leg" or "bond"
    node: int  # position for a leg, internal node for a bond
    width: int


@dataclass(frozen=True)
class Cut:
    """A minimal cut: ``value`` (product of cut widths) bounds the rank for every weight setting."""

    value: int
    edges: tuple[CutEdge, ...]
    source_side: frozenset[str]

    @property
    def log_value(self) -> float:
        """Natural log of :attr:`value`."""
        return sum(math.log(e.width) for e in self.edges)

    def __repr__(self) -> str:
        legs = sum(1 for e in self.edges if e.kind == "leg")
        bonds = [e.node for e in self.edges if e.kind == "bond"]
        return f"Cut(value={self.value}, legs={legs}, bonds={bonds})"


def network_graph(tree: ModeTree, widths: dict[int, int], in_dim: int) -> nx.Graph:
    """The tensor network as a bipartite graph: tensors and delta-tensor hyperedges.

    Tensor vertices are ``"A{i}"`` (leaf matrices) and ``"W{v}"`` (node
    matrices); hyperedge vertices ``"d{v}"`` carry the width ``r_v``; open legs
    connect ``"A{i}"`` to ``"x{i}"`` with width ``in_dim``.
    """
    tree = _check_tree(tree)
    widths = tree.resolve_ranks(widths, name="widths")
    in_dim = check_int(in_dim, "in_dim", minimum=1)
    g = nx.Graph()
    for v in tree.internal_nodes:
        g.add_node(f"d{v}", kind="delta", width=widths[v])
        g.add_edge(f"d{v}", f"W{v}")
        for c in tree.children(v):
            g.add_edge(f"d{v}", f"A{c}" if tree.is_leaf(c) else f"W{c}")
    for i in range(tree.num_leaves):
        g.add_edge(f"A{i}", f"x{i}", width=in_dim)
    return g


def min_cut(tree: ModeTree, ranks: Ranks, I: Iterable[int], *, in_dim: int) -> Cut:
    """Minimal cut of the ConvAC tensor network separating the positions ``I`` from the rest.

    Parameters
    ----------
    tree : ModeTree
    ranks : int, sequence or mapping
        Widths of the internal nodes (as for :meth:`TreeTensor.random`).
    I : iterable of int
        A non-empty proper subset of the positions.
    in_dim : int
        Size M of each open leg.

    Returns
    -------
    Cut
        ``value`` is the product of the widths of the cut edges (an upper bound
        on the matricization rank), ``edges`` says which legs and bonds are cut.

    Notes
    -----
    Max-flow on integer capacities ``round(2^40 log w)``; the edges that must
    never be cut get the sum of all other capacities plus one, a bound no cut
    of finite edges can reach, whatever the widths (Python integers do not
    overflow).  ``value`` is the exact product of the cut's widths; cuts whose
    products differ by less than a factor ``exp(N 2^-40)`` are ties at this
    precision.
    """
    tree = _check_tree(tree)
    in_dim = check_int(in_dim, "in_dim", minimum=1)
    widths = tree.resolve_ranks(ranks)
    part = tree.check_partition(I)

    def cap(w: int) -> int:
        return round(math.log(w) * _SCALE)

    inf = cap(in_dim) * tree.num_leaves + sum(cap(w) for w in widths.values()) + 1

    g = nx.DiGraph()
    for i in range(tree.num_leaves):
        if i in part:
            g.add_edge("s", f"A{i}", capacity=cap(in_dim))
        else:
            g.add_edge(f"A{i}", "t", capacity=cap(in_dim))
    for v in tree.internal_nodes:
        members = [f"W{v}"] + [f"A{c}" if tree.is_leaf(c) else f"W{c}" for c in tree.children(v)]
        g.add_edge(f"in{v}", f"out{v}", capacity=cap(widths[v]))
        for u in members:
            g.add_edge(u, f"in{v}", capacity=inf)
            g.add_edge(f"out{v}", u, capacity=inf)
    _, (s_side, _) = nx.minimum_cut(g, "s", "t")
    edges: list[CutEdge] = []
    for i in range(tree.num_leaves):
        if (i in part) != (f"A{i}" in s_side):
            edges.append(CutEdge("leg", i, in_dim))
    for v in tree.internal_nodes:
        if f"in{v}" in s_side and f"out{v}" not in s_side:
            edges.append(CutEdge("bond", v, widths[v]))
    value = math.prod(e.width for e in edges)
    return Cut(value=value, edges=tuple(edges), source_side=frozenset(s_side))
