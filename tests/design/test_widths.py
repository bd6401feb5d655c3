"""Width design from min cuts: the tree dynamic program, the searches, their brute force."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

import dltheory as dt
from dltheory.analysis import interleaved_2d, left_right
from dltheory.design.widths import (
    MAX_NODE_VARIABLES,
    _Scorer,
    cheapest_widths,
    design_widths,
    parameter_count,
    tree_min_cut,
)
from tests.strategies import mode_trees

SMALL_TREES = [
    dt.ModeTree.balanced(4),
    dt.ModeTree.chain(4),
    dt.ModeTree.flat(3),
    dt.ModeTree.balanced(8),
    dt.ModeTree.grid((2, 4)),
    dt.ModeTree.from_nested([[0, [1, 2]], [3, [4, [5, 6]]], 7]),
    dt.ModeTree.balanced(9, arity=3),
]


def partitions_of(data: st.DataObject, tree: dt.ModeTree, count: int) -> list[tuple[int, ...]]:
    n = tree.num_leaves
    draw = st.sets(st.integers(0, n - 1), min_size=1, max_size=n - 1).map(sorted).map(tuple)
    return [data.draw(draw) for _ in range(count)]


def variables(tree: dt.ModeTree, per: str) -> list[list[int]]:
    """The internal nodes sharing each free width."""
    if per == "level":
        return tree.levels()
    return [[v] for v in tree.internal_nodes]


def as_widths(groups: list[list[int]], w: tuple[int, ...]) -> dict[int, int]:
    return {v: x for nodes, x in zip(groups, w, strict=True) for v in nodes}


def caps_of(tree: dt.ModeTree, budget: int, m: int, per: str) -> list[int]:
    """Per free width, the largest value within the budget with every other width 1."""
    groups = variables(tree, per)
    caps = []
    for j in range(len(groups)):
        x = 1
        while True:
            w = tuple(x + 1 if k == j else 1 for k in range(len(groups)))
            if parameter_count(tree, as_widths(groups, w), in_dim=m) > budget:
                break
            x += 1
        caps.append(x)
    return caps


def objective(
    tree: dt.ModeTree, widths: dict[int, int], parts: list[tuple[int, ...]],
    weights: list[float], m: int,
) -> float:  # fmt: skip
    cuts = [tree_min_cut(tree, widths, p, in_dim=m).log_value for p in parts]
    return sum(a * c for a, c in zip(weights, cuts, strict=True))


def brute_force_design(
    tree: dt.ModeTree, budget: int, parts: list[tuple[int, ...]], weights: list[float], m: int,
    per: str,
) -> float:  # fmt: skip
    """Best objective over EVERY width vector within the budget (min cuts of ``tree_min_cut``,
    itself checked against networkx above)."""
    groups = variables(tree, per)
    best = -math.inf
    for w in itertools.product(*(range(1, c + 1) for c in caps_of(tree, budget, m, per))):
        widths = as_widths(groups, w)
        if parameter_count(tree, widths, in_dim=m) > budget:
            continue
        best = max(best, objective(tree, widths, parts, weights, m))
    return best


# ---------------------------------------------------------------- the tree DP
@settings(max_examples=60, deadline=None)
@given(st.data())
def test_tree_min_cut_equals_networkx_min_cut(data: st.DataObject) -> None:
    tree = data.draw(mode_trees(max_leaves=12))
    widths = {v: data.draw(st.integers(1, 7)) for v in tree.internal_nodes}
    m = data.draw(st.integers(1, 5))
    (part,) = partitions_of(data, tree, 1)
    ours, ref = tree_min_cut(tree, widths, part, in_dim=m), dt.min_cut(tree, widths, part, in_dim=m)
    assert ours.value == ref.value
    assert ours.log_value == pytest.approx(ref.log_value, abs=1e-12)
    # the returned sides are a cut of that value: legs off their side, mixed hyperedges
    side = {f"A{i}": f"A{i}" in ours.source_side for i in range(tree.num_leaves)}
    side |= {f"W{v}": f"W{v}" in ours.source_side for v in tree.internal_nodes}
    cost = math.prod(m for i in range(tree.num_leaves) if side[f"A{i}"] != (i in part))
    for v in tree.internal_nodes:
        names = [f"W{v}"] + [f"A{c}" if tree.is_leaf(c) else f"W{c}" for c in tree.children(v)]
        if len({side[u] for u in names}) == 2:
            cost *= widths[v]
            assert f"in{v}" in ours.source_side and f"out{v}" not in ours.source_side
    assert cost == ours.value == math.prod(e.width for e in ours.edges)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_level_class_program_equals_min_cut(data: st.DataObject) -> None:
    """The searches' vectorized DP over classes of equal subtrees (per level and per node)."""
    tree = data.draw(mode_trees(max_leaves=12))
    per = data.draw(st.sampled_from(["level", "node"]))
    groups = variables(tree, per)
    var = {v: j for j, nodes in enumerate(groups) for v in nodes}
    m = data.draw(st.integers(1, 5))
    parts = partitions_of(data, tree, data.draw(st.integers(1, 3)))
    rows = [tuple(data.draw(st.integers(1, 9)) for _ in groups) for _ in range(4)]
    got = _Scorer(tree, [frozenset(p) for p in parts], var, m, 10**6).cuts(np.log(rows))
    for r, w in enumerate(rows):
        for k, p in enumerate(parts):
            ref = dt.min_cut(tree, as_widths(groups, w), p, in_dim=m).log_value
            assert got[r, k] == pytest.approx(ref, abs=1e-12)


def test_tree_min_cut_on_a_32x32_grid_equals_networkx() -> None:
    tree = dt.ModeTree.grid((32, 32))
    rng = np.random.default_rng(0)
    widths = {v: int(rng.integers(1, 9)) for v in tree.internal_nodes}
    for part in (
        left_right((32, 32)),
        interleaved_2d((32, 32)),
        dt.analysis.random_partition(1024),
    ):
        ours, ref = (
            tree_min_cut(tree, widths, part, in_dim=2),
            dt.min_cut(tree, widths, part, in_dim=2),
        )
        assert ours.value == ref.value


# ----------------------------------------------------------- parameter count
@settings(max_examples=40, deadline=None)
@given(st.data())
def test_parameter_count_is_the_tree_tensors(data: st.DataObject) -> None:
    tree = data.draw(mode_trees(max_leaves=10))
    widths = {v: data.draw(st.integers(1, 5)) for v in tree.internal_nodes}
    m, out = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 3))
    tt = dt.TreeTensor.random(tree, in_dim=m, ranks=widths, out_dim=out)
    assert parameter_count(tree, widths, in_dim=m, out_dim=out) == tt.num_params


def test_parameter_count_is_the_convacs() -> None:
    tree = dt.ModeTree.grid((4, 4))
    net = dt.ConvAC(tree, in_dim=3, ranks=[4, 5], out_dim=2, shared=False)
    assert parameter_count(tree, [4, 5], in_dim=3, out_dim=2) == sum(
        p.numel() for p in net.parameters()
    )


# ----------------------------------------------------------------- searches
@settings(max_examples=60, deadline=None)
@given(st.data())
def test_design_matches_brute_force(data: st.DataObject) -> None:
    tree = data.draw(st.sampled_from(SMALL_TREES))
    per = data.draw(st.sampled_from(["level", "node"]))
    m = data.draw(st.integers(1, 3))
    parts = partitions_of(data, tree, data.draw(st.integers(1, 2)))
    weights = [data.draw(st.sampled_from([0.0, 0.5, 1.0, 3.0])) for _ in parts]
    if not any(weights):
        weights[0] = 1.0
    least = parameter_count(tree, 1, in_dim=m)
    budget = least + data.draw(st.integers(8, 80))
    while math.prod(caps_of(tree, budget, m, per)) > 1500:  # keep the brute force small
        budget -= 1 + (budget - least) // 8
    event(f"search space {math.prod(caps_of(tree, budget, m, per))}")
    d = design_widths(tree, budget, parts, in_dim=m, weights=weights, per=per)
    assert d.exact and d.gap == 0.0
    assert d.objective == pytest.approx(
        brute_force_design(tree, budget, parts, weights, m, per), abs=1e-9
    )
    assert d.params == parameter_count(tree, d.widths, in_dim=m) <= budget
    for c, p in zip(d.cuts, parts, strict=True):
        assert c.value == dt.min_cut(tree, d.widths, p, in_dim=m).value
    # minimal: lowering any width lowers the objective
    groups = variables(tree, per)
    for j in range(len(groups)):
        w = [d.widths[nodes[0]] for nodes in groups]
        if w[j] > 1:
            w[j] -= 1
            lower = objective(tree, as_widths(groups, tuple(w)), parts, weights, m)
            assert lower < d.objective - 1e-9


def brute_force_cheapest(
    tree: dt.ModeTree, targets: list[tuple[tuple[int, ...], int]], m: int, per: str
) -> int | None:
    groups = variables(tree, per)
    top = max(r for _, r in targets)
    best = None
    for w in itertools.product(range(1, top + 1), repeat=len(groups)):
        widths = as_widths(groups, w)
        if all(dt.min_cut(tree, widths, p, in_dim=m).value >= r for p, r in targets):
            cost = parameter_count(tree, widths, in_dim=m)
            best = cost if best is None else min(best, cost)
    return best


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_cheapest_matches_brute_force(data: st.DataObject) -> None:
    tree = data.draw(st.sampled_from(SMALL_TREES[:5]))
    per = data.draw(st.sampled_from(["level", "node"]))
    m = data.draw(st.integers(1, 3))
    parts = partitions_of(data, tree, data.draw(st.integers(1, 2)))
    top = 4 if per == "node" and len(tree.internal_nodes) > 3 else 6
    targets = [(p, data.draw(st.integers(1, top))) for p in parts]
    reach = [tree_min_cut(tree, r, p, in_dim=m).value for p, r in targets]
    if any(x < r for x, (_, r) in zip(reach, targets, strict=True)):
        with pytest.raises(ValueError, match="targets"):
            cheapest_widths(tree, targets, in_dim=m, per=per)
        return
    d = cheapest_widths(tree, dict(targets) if data.draw(st.booleans()) else targets, in_dim=m,
                        per=per)  # fmt: skip
    assert d.exact and d.params == brute_force_cheapest(tree, targets, m, per)
    assert d.params == parameter_count(tree, d.widths, in_dim=m)
    for (p, r), c in zip(targets, d.cuts, strict=True):
        assert c.value == dt.min_cut(tree, d.widths, p, in_dim=m).value >= r == c.target


def every_vector(caps: list[int]) -> np.ndarray:
    grids = np.meshgrid(*(np.arange(1, c + 1) for c in caps), indexing="ij")
    return np.stack([g.ravel() for g in grids], axis=1)


def costs(tree: dt.ModeTree, per: str, w: np.ndarray, m: int) -> np.ndarray:
    """parameter_count of every row of widths (one column per free width), vectorized."""
    var = {v: j for j, nodes in enumerate(variables(tree, per)) for v in nodes}
    total = w[:, var[tree.root]].copy()  # the root's matrix: r_root x 1
    for v in tree.internal_nodes:
        for c in tree.children(v):
            total += (m if tree.is_leaf(c) else w[:, var[c]]) * w[:, var[v]]
    return total


def exhaustive_design(
    tree: dt.ModeTree, budget: int, parts: list[tuple[int, ...]], weights: list[float], m: int,
    per: str,
) -> float:  # fmt: skip
    """Best objective over every vector within the budget, by the (checked) class DP."""
    w = every_vector(caps_of(tree, budget, m, per))
    w = w[costs(tree, per, w, m) <= budget]
    var = {v: j for j, nodes in enumerate(variables(tree, per)) for v in nodes}
    scorer = _Scorer(tree, [frozenset(p) for p in parts], var, m, 10**9)
    return float((scorer.cuts(np.log(w)) @ np.asarray(weights)).max())


def exhaustive_cheapest(
    tree: dt.ModeTree, targets: list[tuple[tuple[int, ...], int]], m: int, per: str
) -> int:
    var = {v: j for j, nodes in enumerate(variables(tree, per)) for v in nodes}
    w = every_vector([max(r for _, r in targets)] * len(variables(tree, per)))
    scorer = _Scorer(tree, [frozenset(p) for p, _ in targets], var, m, 10**9)
    ok = (scorer.cuts(np.log(w)) >= np.log([r for _, r in targets]) - 1e-9).all(axis=1)
    return int(costs(tree, per, w[ok], m).min())


LARGER_TREES = [*SMALL_TREES[:6], dt.ModeTree.grid((4, 4)), dt.ModeTree.balanced(16),
                dt.ModeTree.chain(6)]  # fmt: skip


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_design_matches_exhaustive_scoring_on_larger_spaces(data: st.DataObject) -> None:
    """Up to ~10^5 vectors, where the pruning of the branch and bound matters."""
    tree = data.draw(st.sampled_from(LARGER_TREES))
    per = "level" if len(tree.internal_nodes) > 4 else data.draw(st.sampled_from(["level", "node"]))
    m = data.draw(st.integers(2, 3))
    parts = partitions_of(data, tree, data.draw(st.integers(1, 3)))
    weights = [data.draw(st.sampled_from([0.5, 1.0, 2.0])) for _ in parts]
    least = parameter_count(tree, 1, in_dim=m)
    budget = least + data.draw(st.integers(50, 3000))
    while math.prod(caps_of(tree, budget, m, per)) > 2 * 10**5:
        budget -= 1 + (budget - least) // 8
    d = design_widths(tree, budget, parts, in_dim=m, weights=weights, per=per)
    assert d.exact and d.params <= budget
    assert d.objective == pytest.approx(
        exhaustive_design(tree, budget, parts, weights, m, per), abs=1e-9
    )


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_cheapest_matches_exhaustive_scoring_on_larger_spaces(data: st.DataObject) -> None:
    tree = data.draw(st.sampled_from(LARGER_TREES))
    per = "level" if len(tree.internal_nodes) > 4 else data.draw(st.sampled_from(["level", "node"]))
    m = data.draw(st.integers(2, 3))
    parts = partitions_of(data, tree, data.draw(st.integers(1, 3)))
    ranks = [data.draw(st.integers(1, 60)) for _ in parts]
    ranks = [
        min(r, tree_min_cut(tree, 10**6, p, in_dim=m).value)
        for r, p in zip(ranks, parts, strict=True)
    ]
    while max(ranks) ** len(variables(tree, per)) > 2 * 10**5:
        ranks = [max(1, r // 2) for r in ranks]
    targets = list(zip(parts, ranks, strict=True))
    d = cheapest_widths(tree, targets, in_dim=m, per=per)
    assert d.exact and d.params == exhaustive_cheapest(tree, targets, m, per)
    assert all(c.value >= c.target for c in d.cuts)


def test_found_cases_where_pruning_too_early_loses_the_optimum() -> None:
    """Cases that an over-eager pruning (by 0.3 in the objective, by 3 parameters) gets wrong."""
    tree, parts = dt.ModeTree.balanced(16), [(0, 1, 2, 3, 4, 5, 6, 11), (3, 5)]
    budget = parameter_count(tree, 1, in_dim=2) + 752
    d = design_widths(tree, budget, parts, in_dim=2)
    # the optimum, by exhaustive_design (10 s): min cuts whose product is 192
    assert d.exact and d.cuts[0].value * d.cuts[1].value == 192
    targets = [((0, 1, 2, 3, 5), 2), ((0, 1, 3, 5), 4)]
    chain = dt.ModeTree.chain(6)
    assert cheapest_widths(chain, targets, in_dim=2).params == 36
    assert exhaustive_cheapest(chain, targets, 2, "level") == 36


def test_the_paper_long_range_wants_deep_widths_short_range_early_ones() -> None:
    """Levine et al., ICLR'18, Sec. 5: left/right widens the deep levels, interleaved level 0."""
    tree, budget = dt.ModeTree.grid((8, 8)), 2000
    lr = design_widths(tree, budget, [left_right((8, 8))], in_dim=2)
    il = design_widths(tree, budget, [interleaved_2d((8, 8))], in_dim=2)
    assert lr.exact and il.exact
    assert lr.level_widths is not None and il.level_widths is not None
    assert lr.level_widths[-1] > lr.level_widths[1] > lr.level_widths[0]
    assert il.level_widths[0] > il.level_widths[-1] == 1
    assert lr.level_widths[-1] > il.level_widths[-1] and lr.level_widths[0] <= il.level_widths[0]
    # each design is the better one for its own partition, by a wide margin
    cut = {(a, b): tree_min_cut(tree, d.widths, p, in_dim=2).value
           for a, d in (("lr", lr), ("il", il))
           for b, p in (("lr", left_right((8, 8))), ("il", interleaved_2d((8, 8))))}  # fmt: skip
    assert cut[("lr", "lr")] >= 10 * cut[("il", "lr")]
    assert cut[("il", "il")] == 2**16  # the most any widths give: every leg of I (M = 2)
    assert il.params * 4 < lr.params


def test_32x32_grid_design_is_exact_and_quick() -> None:
    tree = dt.ModeTree.grid((32, 32))
    parts = [left_right((32, 32)), interleaved_2d((32, 32))]
    d = design_widths(tree, 10**6, parts, in_dim=2)
    assert d.exact and d.params <= 10**6 and d.candidates < 10**6
    assert d.level_widths is not None and list(d.level_widths) == sorted(d.level_widths)
    assert d.cuts[1].value == 2**256  # interleaved: every leg of I (M = 2) is cut
    assert d.objective == pytest.approx(sum(c.log_value for c in d.cuts), rel=1e-12)
    # the weights trade the partitions: without interleaved, level 0 may stay at 1 or 2
    c = cheapest_widths(tree, [(parts[0], d.cuts[0].value), (parts[1], 2**30)], in_dim=2)
    assert c.exact and c.params <= d.params


def test_a_stopped_search_states_a_valid_gap() -> None:
    tree = dt.ModeTree.balanced(16)
    parts = [left_right(16), (0, 3, 5, 6, 9, 12)]
    full = design_widths(tree, 3000, parts, in_dim=2)
    cut = design_widths(tree, 3000, parts, in_dim=2, max_candidates=50)
    assert full.exact and not cut.exact and cut.candidates < full.candidates
    assert cut.objective <= full.objective + 1e-9 <= cut.objective + cut.gap + 2e-9
    assert cut.params <= 3000 and "max_candidates" in cut.statement


def test_max_width_bounds_the_search() -> None:
    tree = dt.ModeTree.balanced(8)
    d = design_widths(tree, 10**4, [left_right(8)], in_dim=2, max_width=3)
    assert max(d.widths.values()) <= 3 and d.exact
    assert d.objective == pytest.approx(math.log(3))


# ------------------------------------------------------------------ refusals
TREE = dt.ModeTree.balanced(8)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: design_widths(TREE, 10, [[0]], in_dim=2), ValueError, r"budget.*\[23,.*takes 23"),
        (lambda: design_widths(TREE, 100, [[8]], in_dim=2), ValueError, r"partitions\[0\]"),
        (lambda: design_widths(TREE, 100, [[]], in_dim=2), ValueError, r"partitions\[0\]"),
        (lambda: design_widths(TREE, 100, [range(8)], in_dim=2), ValueError, "partitions"),
        (lambda: design_widths(TREE, 100, [0, 1], in_dim=2), TypeError, "partitions"),
        (lambda: design_widths(TREE, 100, [], in_dim=2), ValueError, "partitions"),
        (lambda: design_widths(TREE, 100, [[0]], in_dim=2, weights=[-1]), ValueError, "weights"),
        (
            lambda: design_widths(TREE, 100, [[0]], in_dim=2, weights=[math.nan]),
            ValueError,
            "weights",
        ),  # fmt: skip
        (lambda: design_widths(TREE, 100, [[0]], in_dim=2, weights=[1, 2]), ValueError, "weights"),
        (lambda: design_widths(TREE, 100, [[0]], in_dim=2, weights=[0]), ValueError, "weights"),
        (lambda: design_widths(TREE, 100, [[0]], in_dim=0), ValueError, "in_dim"),
        (lambda: design_widths(TREE, 100, [[0]], in_dim=2, max_width=0), ValueError, "max_width"),
        (lambda: design_widths("tree", 100, [[0]], in_dim=2), TypeError, "tree"),
        (
            lambda: design_widths(dt.ModeTree.balanced(256), 10**5, [[0]], in_dim=2, per="node"),
            ValueError,
            f"per.*{MAX_NODE_VARIABLES}",
        ),  # fmt: skip
        (lambda: cheapest_widths(TREE, [([0], 0)], in_dim=2), ValueError, r"targets\[0\]"),
        (lambda: cheapest_widths(TREE, [([9], 2)], in_dim=2), ValueError, r"targets\[0\]"),
        (lambda: cheapest_widths(TREE, [[0]], in_dim=2), TypeError, r"targets\[0\]"),
        (lambda: cheapest_widths(TREE, [([0], 3)], in_dim=2), ValueError, "reach"),
        (lambda: parameter_count(TREE, 0, in_dim=2), ValueError, "widths"),
        (lambda: tree_min_cut(TREE, 2, [0], in_dim=2.0), TypeError, "in_dim"),
    ],
)
def test_bad_input_is_refused_before_any_work(call: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        call()
