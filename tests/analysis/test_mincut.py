from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dltheory as dt
from tests.strategies import mode_trees


def brute_force_min_cut(tree: dt.ModeTree, widths: dict[int, int], part: set[int], m: int) -> int:
    """Try every assignment of the tensors to the two sides; delta tensors cost r_v once."""
    tensors = list(range(tree.num_leaves)) + list(tree.internal_nodes)  # A_i and W_v
    best = math.inf
    for sides in itertools.product((0, 1), repeat=len(tensors)):
        side = dict(zip(tensors, sides, strict=True))
        cost = math.prod(m for i in range(tree.num_leaves) if side[i] != (0 if i in part else 1))
        for v in tree.internal_nodes:
            members = {side[v], *(side[c] for c in tree.children(v))}
            if len(members) == 2:
                cost *= widths[v]
        best = min(best, cost)
    return int(best)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_min_cut_matches_brute_force(data: st.DataObject) -> None:
    tree = data.draw(mode_trees(max_leaves=6))
    widths = {v: data.draw(st.integers(1, 5)) for v in tree.internal_nodes}
    m = data.draw(st.integers(1, 4))
    n = tree.num_leaves
    part = data.draw(st.sets(st.integers(0, n - 1), min_size=1, max_size=n - 1))
    cut = dt.min_cut(tree, widths, part, in_dim=m)
    assert cut.value == brute_force_min_cut(tree, widths, set(part), m)
    assert cut.value == math.prod(e.width for e in cut.edges)


def test_hyperedge_costs_its_width_once() -> None:
    # flat tree, width 3, M = 10: cutting the single delta tensor costs 3, not 3 per leg
    tree = dt.ModeTree.flat(6)
    cut = dt.min_cut(tree, 3, [0, 2, 4], in_dim=10)
    assert cut.value == 3
    assert [(e.kind, e.width) for e in cut.edges] == [("bond", 3)]
    # a single position: its own leg (M = 2) is cheaper than the bond
    cut = dt.min_cut(tree, 3, [1], in_dim=2)
    assert cut.value == 2 and cut.edges[0].kind == "leg"
    assert "legs=1" in repr(cut)


def test_network_graph_is_bipartite_tree() -> None:
    import networkx as nx

    tree = dt.ModeTree.balanced(8)
    g = dt.analysis.network_graph(tree, tree.resolve_ranks(2), 2)
    assert nx.is_tree(g)
    assert sum(1 for _, d in g.nodes(data=True) if d.get("kind") == "delta") == 7


def test_min_cut_bad_input() -> None:
    tree = dt.ModeTree.balanced(4)
    with pytest.raises(ValueError, match="in_dim"):
        dt.min_cut(tree, 2, [0], in_dim=0)
    with pytest.raises(TypeError, match="in_dim"):
        dt.min_cut(tree, 2, [0], in_dim=2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ranks"):
        dt.min_cut(tree, 0, [0], in_dim=2)
    with pytest.raises(ValueError, match="I: positions"):
        dt.min_cut(tree, 2, [7], in_dim=2)


def test_the_objective_is_the_product_of_the_cut_widths() -> None:
    # I = {0, 1, 2} of a flat tree over 6 positions: cut the 3 legs of I (2 * 2 * 2 = 8; their
    # *sum* 6 is the smallest) or the root's bond (width r).  The rank bound is the product.
    tree = dt.ModeTree.flat(6)
    bond = dt.min_cut(tree, 7, [0, 1, 2], in_dim=2)
    assert bond.value == 7 and [(e.kind, e.width) for e in bond.edges] == [("bond", 7)]
    legs = dt.min_cut(tree, 9, [0, 1, 2], in_dim=2)
    assert legs.value == 8 and sorted(e.node for e in legs.edges) in ([0, 1, 2], [3, 4, 5])
    assert math.isclose(legs.log_value, math.log(8))
    # a hyperedge with four legs costs its width once: one bond of 3 beats 2 legs of 2 (4)
    one = dt.min_cut(dt.ModeTree.from_nested([[0, 1, 2, 3], [4, 5]]), 3, [0, 1, 2, 3], in_dim=2)
    assert one.value == 3
