"""Mixed decompositions of two mode trees (Cohen, Tamari & Shashua, ICLR'18): dense, evaluation,
exact ranks through the reduction, min cuts, and the rank gap on dilated trees."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dltheory as dt
from dltheory.analysis import matricize
from dltheory.mixed import MixedTensor, shared_nodes
from dltheory.mixed.rank import reduction

FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def scheme(n: int, swap: int | None = None) -> tuple[int, ...]:
    """Dilations 1, 2, 4, ... for n positions, with levels ``swap`` and ``swap + 1`` exchanged."""
    ds = [2**k for k in range(n.bit_length() - 1)]
    if swap is not None:
        ds[swap], ds[swap + 1] = ds[swap + 1], ds[swap]
    return tuple(ds)


def witness(n: int) -> list[int]:
    """I_w: {4k, 4k+1} from even blocks, {4k, 4k+2} from odd ones."""
    return [
        p for k in range(n // 4) for p in ((4 * k, 4 * k + 1) if k % 2 == 0 else (4 * k, 4 * k + 2))
    ]


def blocks(tree_a: dt.ModeTree, tree_b: dt.ModeTree) -> list[frozenset[int]]:
    return [s for s in shared_nodes(tree_a, tree_b) if len(s) == 4]


def internal_sets(tree: dt.ModeTree, skip: int | None = None) -> set[frozenset[int]]:
    """Leaf sets of the internal nodes below the root, without those of level ``skip``."""
    return {
        frozenset(tree.leaves(v))
        for v in tree.internal_nodes
        if v != tree.root and tree.level(v) != skip
    }


def contract(dense: np.ndarray, x: np.ndarray) -> np.ndarray:
    """<dense, x_1 (x) ... (x) x_N> per example, by brute force."""
    out = []
    for b in range(x.shape[0]):
        t = dense
        for i in range(x.shape[1]):
            t = np.tensordot(x[b, i], t, axes=([0], [0]))
        out.append(t)
    return np.asarray(out)


# ---------------------------------------------------------------------------- strategies


def _nested(draw: Any, items: list[int]) -> Any:
    if len(items) == 1:
        return items[0]
    k = draw(st.integers(2, min(3, len(items))))
    cuts = sorted(draw(st.sets(st.integers(1, len(items) - 1), min_size=k - 1, max_size=k - 1)))
    bounds = [0, *cuts, len(items)]
    parts = [_nested(draw, items[lo:hi]) for lo, hi in zip(bounds, bounds[1:], strict=False)]
    return [parts] if draw(st.integers(0, 7)) == 0 else parts  # now and then a unary node


def _tree(draw: Any, n: int) -> dt.ModeTree:
    kind = draw(st.sampled_from(["flat", "chain", "nested", "balanced"]))
    if kind == "flat":
        return dt.ModeTree.flat(n)
    if kind == "chain":
        return dt.ModeTree.chain(n)
    if kind == "balanced" and n & (n - 1) == 0 and n > 1:
        return dt.ModeTree.balanced(n)
    nested = _nested(draw, draw(st.permutations(list(range(n)))))
    return dt.ModeTree.from_nested(nested if isinstance(nested, list) else [nested])


def _common_top(draw: Any, n: int) -> tuple[dt.ModeTree, dt.ModeTree]:
    """Two trees over the same groups of positions, each group pooled its own way per tree."""
    perm = draw(st.permutations(list(range(n))))
    k = draw(st.integers(2, min(3, n)))
    cuts = sorted(draw(st.sets(st.integers(1, n - 1), min_size=k - 1, max_size=k - 1)))
    bounds = [0, *cuts, n]
    groups = [perm[lo:hi] for lo, hi in zip(bounds, bounds[1:], strict=False)]
    trees = []
    for _ in "ab":
        parts = [_nested(draw, g) if len(g) > 1 else g[0] for g in groups]
        trees.append(dt.ModeTree.from_nested(parts))
    return trees[0], trees[1]


@st.composite
def mixed_tensors(draw: Any, integer: bool = False, max_dense: int = 2**12) -> MixedTensor:
    """Pairs of trees over the same positions -- dilated schemes with two levels swapped, trees
    that share their top and pool its groups differently, one tree twice, any two trees -- a
    subset of their shared nodes as mixture nodes, random widths and weights."""
    kind = draw(st.sampled_from(["dilated", "common-top", "common-top", "same", "any"]))
    if kind == "dilated":
        n = draw(st.sampled_from([4, 8]))
        ds = draw(st.permutations(list(scheme(n))))
        swap = draw(st.integers(0, len(ds) - 2))
        ta, tb = dt.ModeTree.dilated(n, ds), dt.ModeTree.dilated(n, scheme(n, swap))
    elif kind == "common-top":
        ta, tb = _common_top(draw, draw(st.integers(4, 8)))
    else:
        n = draw(st.integers(2, 8))
        ta = _tree(draw, n)
        tb = ta if kind == "same" else _tree(draw, n)
    n = ta.num_leaves
    m = draw(st.sampled_from([2, 3, 2, 1]))
    while m > 1 and m**n > max_dense:
        m -= 1
    mix = [s for s in shared_nodes(ta, tb) if draw(st.booleans())]
    ra = {v: draw(st.integers(1, 3)) for v in ta.internal_nodes}
    rb = {v: draw(st.integers(1, 3)) for v in tb.internal_nodes}
    seed = draw(st.integers(0, 2**16))
    return MixedTensor.random(ta, tb, m, ra, rb, mix=mix, seed=seed, integer=integer, int_range=3)


@st.composite
def with_partition(draw: Any, integer: bool = False) -> tuple[MixedTensor, list[int]]:
    mt = draw(mixed_tensors(integer=integer))
    n = mt.num_leaves
    part = draw(st.sets(st.integers(0, n - 1), min_size=1, max_size=n - 1))
    return mt, sorted(part)


# -------------------------------------------------------------------- dilated mode trees


@pytest.mark.parametrize("n", [2, 4, 8, 16, 32, 64])
def test_wavenet_scheme_is_the_balanced_tree(n: int) -> None:
    assert dt.ModeTree.dilated(n, scheme(n)) == dt.ModeTree.balanced(n)


@pytest.mark.parametrize("n", [8, 16, 32, 64])
def test_swapping_two_levels_changes_exactly_the_lower_level(n: int) -> None:
    base = dt.ModeTree.dilated(n, scheme(n))
    for level in range(len(scheme(n)) - 1):
        other = dt.ModeTree.dilated(n, scheme(n, swap=level))
        shared = set(shared_nodes(base, other))
        assert shared == internal_sets(base, skip=level) == internal_sets(other, skip=level)
        assert not (internal_sets(base) - shared) & internal_sets(other)


def test_the_swapped_first_levels_pool_positions_two_apart() -> None:
    tree = dt.ModeTree.dilated(8, (2, 1, 4))
    assert [tree.leaves(v) for v in tree.levels()[0]] == [(0, 2), (1, 3), (4, 6), (5, 7)]
    assert [tree.leaves(v) for v in tree.levels()[1]] == [(0, 1, 2, 3), (4, 5, 6, 7)]
    assert shared_nodes(dt.ModeTree.balanced(8), tree) == [
        frozenset({0, 1, 2, 3}),
        frozenset({4, 5, 6, 7}),
    ]


@pytest.mark.parametrize("n", [4, 8, 16, 32, 64])
def test_reversed_scheme_shares_only_the_root(n: int) -> None:
    base = dt.ModeTree.dilated(n, scheme(n))
    assert shared_nodes(base, dt.ModeTree.dilated(n, scheme(n)[::-1])) == []


def test_shared_nodes_of_a_tree_with_itself_are_its_nodes_by_size() -> None:
    tree = dt.ModeTree.chain(6)
    got = shared_nodes(tree, tree)
    assert got == [frozenset(range(k)) for k in range(2, 6)]
    a, b = dt.ModeTree.balanced(8), dt.ModeTree.dilated(8, (1, 4, 2))
    assert shared_nodes(a, b) == shared_nodes(b, a)


# ---------------------------------------------------------------------------- definition


@FAST
@given(mt=mixed_tensors(), seed=st.integers(0, 99))
def test_no_mixture_is_the_sum_of_the_two_tree_tensors(mt: MixedTensor, seed: int) -> None:
    (ta, tb), (wa, wb) = mt.trees, mt.widths
    plain = MixedTensor.random(ta, tb, mt.in_dim, wa, wb, seed=seed)  # the same widths, no mixing
    (la, lb), (na, nb) = plain.leaf_weights, plain.node_weights
    ref = dt.TreeTensor(ta, la, na).to_dense() + dt.TreeTensor(tb, lb, nb).to_dense()
    got = plain.to_dense()
    assert np.abs(got - ref).max() <= 1e-10 * max(1.0, np.abs(ref).max())


def test_no_mixture_is_the_exact_sum_for_integers() -> None:
    ta, tb = dt.ModeTree.dilated(8, (1, 2, 4)), dt.ModeTree.dilated(8, (4, 1, 2))
    mt = MixedTensor.random(ta, tb, 2, [2, 3, 2], 2, seed=5, integer=True)
    ref = dt.TreeTensor(ta, mt.leaf_weights[0], mt.node_weights[0]).to_dense(exact=True)
    ref = ref + dt.TreeTensor(tb, mt.leaf_weights[1], mt.node_weights[1]).to_dense(exact=True)
    got = mt.to_dense(exact=True)
    assert got.dtype == object and (got == ref).all()


def test_a_mixture_node_feeds_both_trees_from_both_pools() -> None:
    # a = ((0 1) (2 3)), b = ((0 1) 2 3): the shared node {0, 1} mixed, written out by hand
    ta = dt.ModeTree.from_nested([[0, 1], [2, 3]])
    tb = dt.ModeTree.from_nested([[0, 1], 2, 3])
    mt = MixedTensor.random(ta, tb, 3, {4: 2, 5: 3, 6: 4}, {4: 5, 5: 2}, mix=[[0, 1]], seed=1)
    (A, B), (Wa, Wb) = mt.leaf_weights, mt.node_weights
    pa = np.einsum("ia,ja->ija", A[0], A[1])  # tree a's pool at {0, 1}: 2 channels
    pb = np.einsum("ia,ja->ija", B[0], B[1])  # tree b's pool at {0, 1}: 5 channels
    both = np.concatenate([pa, pb], axis=-1)  # the a-channels first
    assert Wa[4].shape == (7, 4) and Wb[4].shape == (7, 2)
    ua01 = both @ Wa[4]
    ua23 = np.einsum("ka,la->kla", A[2], A[3]) @ Wa[5]
    ub01 = both @ Wb[4]
    dense_a = np.einsum("ijg,klg,g->ijkl", ua01, ua23, Wa[6][:, 0])
    dense_b = np.einsum("ijg,kg,lg,g->ijkl", ub01, B[2], B[3], Wb[5][:, 0])
    ref = dense_a + dense_b
    assert np.abs(mt.to_dense() - ref).max() <= 1e-12 * np.abs(ref).max()


@FAST
@given(mt=mixed_tensors(), seed=st.integers(0, 2**16))
def test_evaluate_is_the_dense_tensor_contracted_with_the_features(
    mt: MixedTensor, seed: int
) -> None:
    x = np.random.default_rng(seed).standard_normal((3, mt.num_leaves, mt.in_dim))
    ref = contract(mt.to_dense(), x)
    got = mt.evaluate(x)
    assert got.shape == (3, 1)
    assert np.abs(got[:, 0] - ref).max() <= 1e-10 * max(1.0, np.abs(ref).max())
    assert np.allclose(mt.evaluate(x[0]), got[0], rtol=1e-13, atol=0)


def test_evaluate_at_twelve_positions_and_several_outputs() -> None:
    ta, tb = dt.ModeTree.chain(12), dt.ModeTree.from_nested([[0, 1], [2, 3, 4], list(range(5, 12))])
    mix = shared_nodes(ta, tb)
    assert mix == [frozenset({0, 1})]
    mt = MixedTensor.random(ta, tb, 2, 2, 3, mix=mix, seed=2, out_dim=3)
    x = np.random.default_rng(0).standard_normal((4, 12, 2))
    dense = mt.to_dense()
    assert dense.shape == (2,) * 12 + (3,)
    for y in range(3):
        ref = contract(dense[..., y], x)
        assert np.abs(mt.evaluate(x)[:, y] - ref).max() <= 1e-10 * np.abs(ref).max()
        assert np.allclose(mt.output(y).to_dense(), dense[..., y], rtol=1e-12, atol=0)


def test_parameters_count_both_networks_and_the_wider_mixture_matrices() -> None:
    ta, tb = dt.ModeTree.dilated(8, (1, 2, 4)), dt.ModeTree.dilated(8, (2, 1, 4))
    plain = MixedTensor.random(ta, tb, 2, 3, 3)
    mixed = MixedTensor.random(ta, tb, 2, 3, 3, mix="all")
    singles = sum(dt.TreeTensor.random(t, 2, 3).num_params for t in (ta, tb))
    assert plain.num_params == singles
    assert mixed.num_params == singles + 2 * 2 * 3 * 3  # two nodes, two trees, 3 more rows of 3


# ---------------------------------------------------------------------------- exact ranks


@FAST
@given(job=with_partition())
def test_structured_spectrum_matches_the_dense_svd(job: tuple[MixedTensor, list[int]]) -> None:
    mt, part = job
    ref = np.linalg.svd(matricize(mt.to_dense(), part), compute_uv=False)
    got = mt.schmidt_values(part, normalized=False)
    k = max(ref.size, got.size)
    a, b = np.zeros(k), np.zeros(k)
    a[: ref.size], b[: got.size] = ref, got
    assert np.abs(a - b).max() <= 1e-10 * max(ref[0], 1e-300)
    if ref[0] > 0:
        assert np.allclose(
            mt.schmidt_values(part), ref[: got.size] / np.linalg.norm(ref), atol=1e-10
        )


@FAST
@given(job=with_partition(integer=True))
def test_modular_rank_equals_the_dense_svd_rank_and_the_structured_one(
    job: tuple[MixedTensor, list[int]],
) -> None:
    mt, part = job
    dense = mt.to_dense(exact=True).astype(np.float64)  # small integers: exact in float64
    rank = int(np.linalg.matrix_rank(matricize(dense, part)))
    assert mt.matricization_rank(part, method="modular") == rank
    assert mt.matricization_rank(part) == rank
    assert rank <= mt.min_cut(part).value


@FAST
@given(job=with_partition())
def test_rank_is_at_most_the_min_cut(job: tuple[MixedTensor, list[int]]) -> None:
    mt, part = job
    cut = mt.min_cut(part)
    assert mt.matricization_rank(part) <= cut.value
    assert cut.value == int(np.prod([e.width for e in cut.edges]))
    assert cut.value <= mt.in_dim ** min(len(part), mt.num_leaves - len(part))


@pytest.mark.parametrize("part", [[0, 1], [0, 2, 4, 6], [1, 2, 5], [3]])
def test_min_cut_of_one_tree_twice_is_the_tree_cut_with_summed_widths(part: list[int]) -> None:
    tree = dt.ModeTree.balanced(8)
    widths_a = {v: 1 + v % 3 for v in tree.internal_nodes}
    widths_b = {v: 2 + v % 2 for v in tree.internal_nodes}
    mt = MixedTensor.random(tree, tree, 3, widths_a, widths_b, mix="all")
    summed = {v: widths_a[v] + widths_b[v] for v in tree.internal_nodes}
    assert mt.min_cut(part).value == dt.min_cut(tree, summed, part, in_dim=3).value


def test_the_reduction_of_dilated_trees_pools_the_blocks_densely() -> None:
    ta, tb = dt.ModeTree.dilated(16, scheme(16)), dt.ModeTree.dilated(16, scheme(16, swap=0))
    red = reduction(MixedTensor.random(ta, tb, 2, 2, 3, mix="all"))
    assert red.frontier and all(len(f) == 4 for f in red.frontier)
    assert [len(s) for s in red.order] == [8, 8, 16]
    assert all(red.widths[s] == 5 for s in red.order)
    reversed_red = reduction(
        MixedTensor.random(ta, dt.ModeTree.dilated(16, scheme(16)[::-1]), 2, 2, 2)
    )
    assert reversed_red.order == [] and reversed_red.frontier == [frozenset(range(16))]


def test_structured_route_at_256_positions() -> None:
    n = 256
    ta, tb = dt.ModeTree.dilated(n, scheme(n)), dt.ModeTree.dilated(n, scheme(n, swap=0))
    mt = MixedTensor.random(ta, tb, 3, 4, 4, mix="all", seed=0)
    for part in (list(range(n // 2)), list(range(8)), list(range(0, 8, 2))):
        rank, cut = mt.matricization_rank(part), mt.min_cut(part).value
        assert rank <= cut
    assert mt.matricization_rank(list(range(n // 2))) == 8 == mt.min_cut(list(range(n // 2))).value
    spectrum = mt.schmidt_spectrum(list(range(n // 2)))
    assert spectrum.values.size == 8 and spectrum.log_scale > 0


def test_a_partition_beyond_max_entries_is_refused_with_the_min_cut() -> None:
    ta, tb = dt.ModeTree.dilated(64, scheme(64)), dt.ModeTree.dilated(64, scheme(64, swap=0))
    mt = MixedTensor.random(ta, tb, 2, 2, 2, mix="all")
    with pytest.raises(ValueError, match=r"max_entries:.*min cut"):
        mt.matricization_rank(witness(64))


# ------------------------------------------------------------------------- the rank gap


@pytest.mark.parametrize("n", [8, 16, 32])
@pytest.mark.parametrize("m", [2, 3])
def test_a_single_tree_needs_width_m_squared_for_the_full_rank(n: int, m: int) -> None:
    full = m ** (n // 2)
    for swap in (None, 0):
        tree = dt.ModeTree.dilated(n, scheme(n, swap))
        for width in (m, m * m - 1, m * m):
            bound = min(width, m * m) ** (n // 8) * min(width, m) ** (n // 4)
            cut = dt.min_cut(tree, width, witness(n), in_dim=m).value
            assert cut <= bound
            assert (cut == full) == (width >= m * m)


@pytest.mark.parametrize(("n", "m"), [(8, 2), (8, 3), (16, 2)])
def test_mixed_trees_reach_the_rank_single_trees_need_width_r_squared_for(n: int, m: int) -> None:
    ta, tb = dt.ModeTree.dilated(n, scheme(n)), dt.ModeTree.dilated(n, scheme(n, swap=0))
    part, full, r = witness(n), m ** (n // 2), m
    mixed = MixedTensor.random(ta, tb, m, r, r, mix=blocks(ta, tb), seed=0, integer=True)
    rank = mixed.matricization_rank(part, method="modular")  # certified: <= the rational rank
    assert rank == full == mixed.min_cut(part).value
    assert mixed.matricization_rank(part) == full
    side_by_side = MixedTensor.random(ta, tb, m, r, r, seed=0, integer=True)
    assert side_by_side.matricization_rank(part, method="modular") < full
    for tree in (ta, tb):
        single = dt.TreeTensor.random(tree, m, r, seed=0, integer=True)
        assert single.matricization_rank(part, method="modular") <= single.min_cut(part).value
        assert single.min_cut(part).value < full
    wide = dt.TreeTensor.random(ta, m, r * r, seed=0, integer=True)  # width r^2 suffices
    assert wide.matricization_rank(part, method="modular") == full
