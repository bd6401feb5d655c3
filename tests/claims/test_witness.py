"""Witness rules of the exact claims (claims.evidence.generic), unit by unit."""

from __future__ import annotations

import numpy as np
import pytest

import dltheory as dt
from dltheory.claims._util import derive_seed
from dltheory.claims.evidence import generic as g


def test_draw_seeds_are_the_scheduled_one_then_derived_retries() -> None:
    seeds = g.draw_seeds(17)
    assert len(seeds) == 1 + g.RETRIES == 4
    assert seeds == [17] + [derive_seed(17, "retry", i) for i in (1, 2, 3)]
    assert len(set(seeds)) == 4 and g.draw_seeds(17) == seeds and g.draw_seeds(18) != seeds


def test_find_witness_stops_at_the_first_draw_that_reaches_the_target() -> None:
    calls: list[int] = []
    ranks = {10: 3, 11: 5, 12: 8, 13: 8}

    def draw(seed: int) -> tuple[int, int]:
        calls.append(seed)
        return ranks[seed], 1 if ranks[seed] < 8 else 0

    w = g.find_witness(draw, [10, 11, 12, 13], 8)
    assert calls == [10, 11, 12] and w.found and w.best == 8 and w.first == 3
    assert w.to_json() == {
        "target": 8,
        "ranks": [3, 5, 8],
        "singular_factors": [1, 1, 0],
        "seeds": [10, 11, 12],
        "first": 3,
        "best": 8,
        "found": True,
    }


def test_find_witness_tries_at_most_one_plus_retries_draws() -> None:
    calls: list[int] = []

    def short(seed: int) -> tuple[int, int]:
        calls.append(seed)
        return 2, 0

    w = g.find_witness(short, range(100, 110), 4)
    assert calls == [100, 101, 102, 103] and not w.found and w.best == 2
    assert w.seeds == (100, 101, 102, 103) and w.target == 4
    first = g.find_witness(lambda s: (9, 0), [5, 6], 4)  # reached at once: one draw
    assert first.ranks == (9,) and first.seeds == (5,) and first.found
    with pytest.raises(ValueError, match="^find_witness: no seeds$"):
        g.find_witness(short, [], 4)


def test_singular_factors_counts_rank_deficient_factors_below_the_root() -> None:
    tree = dt.ModeTree.balanced(4)
    tt = dt.TreeTensor.random(tree, 2, 2, seed=0, integer=True, nonzero=True, int_range=1000)
    assert g.singular_factors(tt) == 0
    leaves = [a.copy() for a in tt.leaf_weights]
    leaves[1][:, 1] = 2 * leaves[1][:, 0]  # one singular 2 x 2 leaf
    nodes = {v: w.copy() for v, w in tt.node_weights.items()}
    child = tree.children(tree.root)[0]
    nodes[child][1] = 3 * nodes[child][0]  # one singular node weight
    nodes[tree.root][:] = 0  # the root's weights are not a factor that caps a rank
    bad = dt.TreeTensor(tree, leaves, nodes)
    assert g.singular_factors(bad) == 2
    # modulo a small prime more factors can be singular: the count is over Z/pZ
    assert g.singular_factors(bad, p=3) >= 2
    with pytest.raises(TypeError, match="^singular_factors: expected an integer TreeTensor"):
        g.singular_factors(dt.TreeTensor.random(tree, 2, 2, seed=0))


def test_shortfall_rate_counts_explained_and_unexplained_short_draws() -> None:
    ws = [
        g.Witness(4, (4,), (0,), (1,)),
        g.Witness(4, (2, 4), (1, 0), (2, 3)),  # short, explained by a singular factor
        g.Witness(4, (3, 3, 3, 3), (0, 0, 0, 0), (4, 5, 6, 7)),  # short, unexplained, no witness
    ]
    out = g.shortfall_rate(ws + [ws[0].to_json()])
    assert out["draws"] == 4 and out["short"] == 2
    assert out["short_with_singular_factor"] == 1 and out["short_unexplained"] == 1
    assert out["witnesses_missing"] == 1
    lo, hi = out["short_rate_ci95"]
    assert 0.0 < lo < 0.5 < hi < 1.0
    assert g.shortfall_rate([])["short_rate_ci95"] == [0.0, 1.0]
    assert np.isclose(lo, 0.0675860, atol=1e-6) and np.isclose(hi, 0.9324140, atol=1e-6)  # 2 of 4


def test_singular_factors_counts_leaves_and_inner_nodes_but_not_the_root() -> None:
    tt = dt.TreeTensor.random(dt.ModeTree.balanced(4), 2, 2, seed=0, integer=True, nonzero=True)
    assert g.singular_factors(tt) == 0
    nodes = dict(tt.node_weights)
    root = tt.tree.root
    nodes[root] = np.zeros_like(nodes[root])  # a (2, 1) output column: not a factor of any rank
    assert g.singular_factors(dt.TreeTensor(tt.tree, list(tt.leaf_weights), nodes)) == 0
    inner = next(v for v in tt.tree.internal_nodes if v != root)
    nodes[inner] = np.array([[3, 6], [1, 2]], dtype=np.int64)  # rank 1 of 2
    assert g.singular_factors(dt.TreeTensor(tt.tree, list(tt.leaf_weights), nodes)) == 1
    with pytest.raises(TypeError, match="integer"):
        g.singular_factors(dt.TreeTensor.random(dt.ModeTree.balanced(4), 2, 2, seed=0))
