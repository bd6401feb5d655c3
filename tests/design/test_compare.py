"""Ranking pooling geometries by the parameters the hierarchical SVD needs on a target."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import dltheory as dt
from dltheory.design.compare import compare_trees
from dltheory.design.htsvd import hierarchical_svd

SQUARE = dt.ModeTree.grid((4, 4))
MIRROR = dt.ModeTree.grid((4, 4), geometry="mirror")
CANDIDATES = {"square": SQUARE, "mirror": MIRROR, "chain": dt.ModeTree.chain(16)}


@pytest.mark.parametrize("own", ["square", "mirror"])
def test_the_generating_geometry_comes_first(own: str) -> None:
    """Low rank under its own pooling, rank 16 under the other: the own tree ranks first."""
    tt = dt.TreeTensor.random(CANDIDATES[own], in_dim=2, ranks=2, seed=0)
    a = tt.to_dense()
    costs = compare_trees(a, CANDIDATES, 1e-8)
    assert [c.name for c in costs][0] == own
    assert [c.ht_params for c in costs] == sorted(c.ht_params for c in costs)
    first = costs[0]
    assert max(first.ranks.values()) == 2
    assert all(first.widths[v] <= tt.widths[v] for v in first.tree.internal_nodes)
    # the lower bound at the needed widths is the generating net's own count here
    assert first.convac_lower_bound == tt.num_params
    other = {"square": "mirror", "mirror": "square"}[own]
    assert next(c for c in costs if c.name == other).ht_params > 100 * first.ht_params
    for c in costs:
        assert c.error <= 1e-8 and c.error_bound <= 1e-8
        assert c.convac_lower_bound <= c.convac_params


def test_costs_match_the_hierarchical_svd() -> None:
    tree = dt.ModeTree.grid((2, 4))
    a = dt.TreeTensor.random(tree, in_dim=3, ranks=2, seed=1).to_dense()
    a = a + 1e-3 * np.random.default_rng(0).standard_normal(a.shape) * np.linalg.norm(a) / 81
    nested: list[Any] = [[0, 7], [1, 6], [2, 5], [3, 4]]
    trees: list[Any] = [tree, dt.ModeTree.grid((2, 4), geometry="mirror"), nested]
    costs = compare_trees(a, trees, 0.05)
    names = {c.name for c in costs}
    assert names == {"0:grid-square", "1:grid-mirror", "2:custom"}  # a nested list is a tree
    assert costs[0].name == "0:grid-square"
    for c in costs:
        res = hierarchical_svd(a, c.tree, tol=0.05)
        assert c.ranks == res.ranks and c.ht_params == res.num_params
        assert c.convac_params == res.convac_params and c.widths == res.needed_widths
        err = np.linalg.norm(a - res.to_dense()) / np.linalg.norm(a)
        assert c.error == pytest.approx(err, rel=1e-12) and c.error <= 0.05
        assert c.error <= c.error_bound * (1 + 1e-12)


def test_orders_differ_by_format() -> None:
    """4-ary windows are cheap in the HT format, costly in the exact ConvAC form."""
    a = dt.TreeTensor.random(SQUARE, in_dim=2, ranks=2, seed=0).to_dense()
    trees = {"square": SQUARE, "balanced": dt.ModeTree.balanced(16), "chain": CANDIDATES["chain"]}
    by_ht = compare_trees(a, trees, 1e-8)
    by_convac = compare_trees(a, trees, 1e-8, by="convac")
    assert [c.name for c in by_ht] == ["square", "balanced", "chain"]
    assert [c.name for c in by_convac] == ["balanced", "chain", "square"]
    assert [c.convac_params for c in by_convac] == sorted(c.convac_params for c in by_ht)


def test_flat_tree_lower_bound_is_loose() -> None:
    a = dt.TreeTensor.random(dt.ModeTree.balanced(8), in_dim=2, ranks=2, seed=2).to_dense()
    trees: dict[str, Any] = {
        "balanced": dt.ModeTree.balanced(8),
        "flat": dt.ModeTree.flat(8),
        "interleaved": [[[0, 4], [1, 5]], [[2, 6], [3, 7]]],
    }
    costs = compare_trees(a, trees, 1e-6)
    assert [c.name for c in costs] == ["balanced", "interleaved", "flat"]
    flat = costs[-1]  # arity 8: the widths see single children only, not the CP rank
    assert flat.convac_lower_bound < costs[0].convac_lower_bound < flat.convac_params


def test_max_rank_and_a_tree_tensor_target() -> None:
    tt = dt.TreeTensor.random(dt.ModeTree.balanced(8), in_dim=2, ranks=3, seed=3)
    costs = compare_trees(tt, [dt.ModeTree.balanced(8), dt.ModeTree.chain(8)], max_rank=1)
    for c in costs:
        assert set(c.ranks.values()) == {1}
        assert c.error <= c.error_bound * (1 + 1e-12) and c.error > 0.01


def test_bad_trees() -> None:
    a = np.zeros((2,) * 4)
    with pytest.raises(ValueError, match="trees: 'chain' has 5 leaves"):
        compare_trees(a, {"ok": dt.ModeTree.balanced(4), "chain": dt.ModeTree.chain(5)}, 0.1)
    with pytest.raises(ValueError, match="trees: expected at least one"):
        compare_trees(a, [], 0.1)
    with pytest.raises(TypeError, match="trees: expected a mapping"):
        compare_trees(a, dt.ModeTree.balanced(4), 0.1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="trees: names must be strings"):
        compare_trees(a, {1: dt.ModeTree.balanced(4)}, 0.1)  # type: ignore[dict-item]
    with pytest.raises(TypeError, match=r"trees\[0\]"):
        compare_trees(a, [4], 0.1)  # type: ignore[list-item]
    with pytest.raises(ValueError, match=r"trees\['x'\]: not a valid nested tree"):
        compare_trees(a, {"x": [[0, 1], [1, 2]]}, 0.1)
    with pytest.raises(ValueError, match="tol"):
        compare_trees(a, [dt.ModeTree.balanced(4)], 1.0)
