"""Edges of min cuts, matricize and partitions (surviving mutants of make mutate)."""

from __future__ import annotations

import numpy as np
import pytest

import dltheory as dt
from dltheory.analysis import block, matricize, min_cut, network_graph, random_partition


def test_cut_repr_lists_legs_and_bonds() -> None:
    tree = dt.ModeTree.balanced(4)
    cut = min_cut(tree, 2, [0, 1], in_dim=3)  # the bond of node (0, 1): width 2 < 3 * 3
    bonds = [e.node for e in cut.edges if e.kind == "bond"]
    assert bonds and repr(cut) == f"Cut(value=2, legs=0, bonds={bonds})"
    legs = min_cut(tree, 5, [0], in_dim=2)  # one leg (2) is cheaper than a bond (5)
    assert repr(legs) == "Cut(value=2, legs=1, bonds=[])"


def test_network_graph_carries_the_widths() -> None:
    tree = dt.ModeTree.balanced(4)
    widths = {4: 2, 5: 3, 6: 5}
    g = network_graph(tree, widths, in_dim=1)  # in_dim = 1 is a valid (trivial) input
    for v, w in widths.items():
        assert g.nodes[f"d{v}"] == {"kind": "delta", "width": w}
    assert all(g.edges[f"A{i}", f"x{i}"]["width"] == 1 for i in range(4))
    g = network_graph(tree, widths, in_dim=7)
    assert {g.edges[f"A{i}", f"x{i}"]["width"] for i in range(4)} == {7}
    with pytest.raises(ValueError, match="^in_dim: "):
        network_graph(tree, widths, in_dim=0)


def test_matricize_names_the_kind_it_refuses() -> None:
    with pytest.raises(TypeError, match=r"^I: expected a collection of mode indices, got int$"):
        matricize(np.zeros((2, 2)), 3)  # type: ignore[arg-type]


def test_partition_helpers_at_their_edges() -> None:
    with pytest.raises(ValueError, match="a bipartition needs >= 2 positions"):
        random_partition(1)
    assert random_partition(3, seed=0, size=1) in ((0,), (1,), (2,))
    assert len(random_partition(5, seed=0, size=4)) == 4
    with pytest.raises(ValueError, match=r"^top_left\[0\]: expected an integer >= 0, got -1$"):
        block((4, 4), (-1, 0), (1, 1))
    assert block((4, 4), (3, 3), (1, 1)) == (15,)
    assert block((4, 4), (0, 0), (1, 4)) == (0, 1, 2, 3)
