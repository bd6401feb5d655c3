"""The hierarchical SVD against dense matricizations, numpy's SVD and the error bound."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from threadpoolctl import threadpool_limits

import dltheory as dt
from dltheory.analysis import matricize
from dltheory.design.htsvd import HTResult, hierarchical_svd, required_widths
from tests.strategies import mode_trees

TREES = [
    (dt.ModeTree.balanced(8), 2),
    (dt.ModeTree.chain(6), 3),
    (dt.ModeTree.flat(4), 3),
    (dt.ModeTree.grid((2, 4)), 2),
    (dt.ModeTree.grid((2, 4), geometry="mirror"), 2),
    (dt.ModeTree.balanced(9, arity=3), 2),
    (dt.ModeTree.from_nested([[[3, 0], [1]], [[2, 5], 4]]), 2),  # unary node, uneven
    (dt.ModeTree.from_nested([[[0, 2], [1, 3]]]), 3),  # unary root: a node over all positions
]
IDS = [f"{t.kind}-{t.num_leaves}-{i}" for i, (t, _) in enumerate(TREES)]


def _gauss(m: int, n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((m,) * n)


def _dense_svals(a: np.ndarray, tree: dt.ModeTree, v: int) -> np.ndarray:
    """Singular values of A's matricization w.r.t. leaves(v), by numpy; [||A||] for all leaves."""
    side = tree.leaves(v)
    if len(side) == tree.num_leaves:
        return np.array([np.linalg.norm(a)])
    with threadpool_limits(limits=1, user_api="blas"):  # a busy 2nd core stalls threaded BLAS
        return np.linalg.svd(matricize(a, side), compute_uv=False)


def _bipartition(tree: dt.ModeTree, v: int) -> frozenset[frozenset[int]]:
    side = frozenset(tree.leaves(v))
    return frozenset({side, frozenset(range(tree.num_leaves)) - side})


def _dense_tails(a: np.ndarray, res: HTResult) -> dict[frozenset[frozenset[int]], float]:
    """Discarded tail of the dense SVD of each distinct bipartition at the reported rank."""
    tree, out = res.tree, {}
    for v in tree.nodes:
        if v != tree.root and len(tree.leaves(v)) < tree.num_leaves:
            s = _dense_svals(a, tree, v)
            out[_bipartition(tree, v)] = float(np.sqrt(np.sum(s[res.ranks[v] :] ** 2)))
    return out


def _entries(tt: dt.TreeTensor, idx: np.ndarray) -> np.ndarray:
    """Entries A[idx[b]] of a tree tensor by evaluating it on one-hot inputs."""
    return tt.evaluate(np.eye(tt.in_dim)[idx])[:, 0]


def _check_tree_tensor(res: HTResult, approx: np.ndarray) -> None:
    tt = res.to_tree_tensor()
    assert tt.widths == res.convac_widths
    assert tt.num_params == res.convac_params
    idx = np.random.default_rng(1).integers(0, res.in_dim, size=(300, res.tree.num_leaves))
    np.testing.assert_allclose(_entries(tt, idx), approx[tuple(idx.T)], atol=1e-10)
    if tt.dense_size() <= 2**20:
        np.testing.assert_allclose(tt.to_dense(), approx, atol=1e-10)


# -- no truncation ---------------------------------------------------------------------------


@pytest.mark.parametrize(("tree", "m"), TREES, ids=IDS)
def test_exact_reconstruction_and_spectra(tree: dt.ModeTree, m: int) -> None:
    a = _gauss(m, tree.num_leaves)
    res = hierarchical_svd(a, tree)
    assert res.rule == "exact" and res.truncated == ()
    np.testing.assert_allclose(res.to_dense(), a, atol=1e-10)
    assert res.error_bound <= 1e-10 and res.norm == pytest.approx(np.linalg.norm(a), rel=1e-14)
    assert res.ranks[tree.root] == 1
    for v in tree.nodes:
        if v == tree.root:
            continue
        s = _dense_svals(a, tree, v)
        np.testing.assert_allclose(res.spectra[v], s, atol=1e-10)
        assert res.ranks[v] == s.size  # a Gaussian tensor: every matricization of full rank
    for i, u in enumerate(res.leaf_bases):
        np.testing.assert_allclose(u.T @ u, np.eye(res.ranks[i]), atol=1e-12)
    _check_tree_tensor(res, a)


def test_exact_on_a_4x4_grid_and_balanced_16() -> None:
    a = _gauss(2, 16, seed=3)
    for tree in (dt.ModeTree.grid((4, 4)), dt.ModeTree.balanced(16)):
        res = hierarchical_svd(a, tree)
        np.testing.assert_allclose(res.to_dense(), a, atol=1e-10)
        for v in tree.internal_nodes[:-1]:
            np.testing.assert_allclose(res.spectra[v], _dense_svals(a, tree, v), atol=1e-10)
        _check_tree_tensor(res, a)  # the 4-ary root: width 16^3 = 4096, checked entrywise


@given(tree=mode_trees(max_leaves=8), m=st.integers(1, 3), seed=st.integers(0, 2**16))
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_exact_on_random_trees(tree: dt.ModeTree, m: int, seed: int) -> None:
    while m > 1 and m**tree.num_leaves > 2**12:
        m -= 1
    a = _gauss(m, tree.num_leaves, seed)
    res = hierarchical_svd(a, tree)
    np.testing.assert_allclose(res.to_dense(), a, atol=1e-10)
    for v in res.spectra:
        np.testing.assert_allclose(res.spectra[v], _dense_svals(a, tree, v), atol=1e-10)
    _check_tree_tensor(res, a)


# -- truncation by rank ----------------------------------------------------------------------


@pytest.mark.parametrize(("tree", "m"), TREES, ids=IDS)
@pytest.mark.parametrize("k", [1, 2, 3])
def test_rank_truncation_meets_the_bound(tree: dt.ModeTree, m: int, k: int) -> None:
    a = _gauss(m, tree.num_leaves, seed=k)
    res = hierarchical_svd(a, tree, ranks=k)
    approx = res.to_dense()
    err = float(np.linalg.norm(a - approx))
    assert all(r <= k for r in res.ranks.values())
    tails = _dense_tails(a, res)
    # the bound is the dense tails, each bipartition once; the error is below it ...
    assert res.error_bound == pytest.approx(math.sqrt(sum(t**2 for t in tails.values())), rel=1e-9)
    assert err <= res.error_bound * (1 + 1e-12) + 1e-12
    # ... and above the best error at these ranks (A_H has them: Eckart-Young per node)
    best_lower = max(tails.values(), default=0.0)
    assert err >= best_lower - 1e-10
    assert res.error_bound <= res.quasi_optimality * best_lower + 1e-10
    assert len(res.truncated) == sum(t > 1e-10 for t in tails.values())
    for v in tree.nodes:
        if v != tree.root and len(tree.leaves(v)) < tree.num_leaves:
            assert np.linalg.matrix_rank(matricize(approx, tree.leaves(v))) <= res.ranks[v]
    _check_tree_tensor(res, approx)


def test_binary_trees_truncate_at_most_2n_minus_3_bipartitions() -> None:
    for tree in (dt.ModeTree.balanced(8), dt.ModeTree.chain(8)):
        res = hierarchical_svd(_gauss(3, 8), tree, ranks=1)
        assert len(res.truncated) == 2 * 8 - 3  # Grasedyck's sqrt(2d - 3)
        top = tree.children(tree.root)
        assert res.ranks[top[0]] == res.ranks[top[1]] == 1


@pytest.mark.parametrize("tree", [dt.ModeTree.flat(2), dt.ModeTree.balanced(2)])
def test_two_modes_give_the_truncated_matrix_svd(tree: dt.ModeTree) -> None:
    a = np.random.default_rng(5).standard_normal((6, 6))
    u, s, vt = np.linalg.svd(a)
    for k in range(1, 7):
        res = hierarchical_svd(a, tree, ranks=k)
        best = (u[:, :k] * s[:k]) @ vt[:k]
        np.testing.assert_allclose(res.to_dense(), best, atol=1e-10)  # Eckart-Young
        tail = math.sqrt(float(np.sum(s[k:] ** 2)))
        assert res.error_bound == pytest.approx(tail, abs=1e-12)
        assert np.linalg.norm(a - res.to_dense()) == pytest.approx(tail, abs=1e-10)


def test_rank_forms_per_level_mapping_and_max_rank() -> None:
    tree, a = dt.ModeTree.balanced(8), _gauss(3, 8)
    res = hierarchical_svd(a, tree, ranks=[3, 2, 7])  # per level; the root's entry unused
    for v in tree.internal_nodes[:-1]:
        assert res.ranks[v] == (3 if tree.level(v) == 0 else 2)
    assert all(res.ranks[i] == 3 for i in range(8))  # leaves: uncapped by a sequence
    res = hierarchical_svd(a, tree, ranks=[3, 2, 7], max_rank=2)
    assert max(res.ranks[v] for v in tree.nodes) == 2
    res = hierarchical_svd(a, tree, ranks={0: 1, 8: 2, tree.root: 5})
    assert res.ranks[0] == 1 and res.ranks[8] == 2 and res.ranks[1] == 3
    top = tree.children(tree.root)  # one bipartition: both take the smaller cap
    res = hierarchical_svd(a, tree, ranks={top[1]: 4})
    assert res.ranks[top[0]] == res.ranks[top[1]] == 4
    assert hierarchical_svd(a, tree, max_rank=1).ranks == {v: 1 for v in tree.nodes}


# -- truncation by tolerance -----------------------------------------------------------------


def _structured(seed: int) -> tuple[np.ndarray, dt.ModeTree]:
    """A low-rank tree tensor plus noise: spectra with a gap and a tail."""
    tree = dt.ModeTree.balanced(8)
    tt = dt.TreeTensor.random(tree, in_dim=3, ranks=2, seed=seed)
    a = tt.to_dense()
    a = a / np.linalg.norm(a) + 0.02 * _gauss(3, 8, seed) / math.sqrt(3**8)
    return a, tree


@given(
    tols=st.lists(st.floats(1e-6, 0.95), min_size=2, max_size=2),
    seed=st.integers(0, 3),
    kind=st.sampled_from(["structured", "gauss-chain", "gauss-grid"]),
)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_tolerance_is_guaranteed_and_ranks_monotone(
    tols: list[float], seed: int, kind: str
) -> None:
    if kind == "structured":
        a, tree = _structured(seed)
    elif kind == "gauss-chain":
        a, tree = _gauss(3, 6, seed), dt.ModeTree.chain(6)
    else:
        a, tree = _gauss(2, 8, seed), dt.ModeTree.grid((2, 4))
    lo, hi = sorted(tols)
    norm = float(np.linalg.norm(a))
    results = []
    for tol in (lo, hi):
        res = hierarchical_svd(a, tree, tol=tol)
        err = float(np.linalg.norm(a - res.to_dense())) / norm
        assert err <= tol * (1 + 1e-9) + 1e-12
        assert err <= res.relative_error_bound * (1 + 1e-12) + 1e-12
        assert res.relative_error_bound <= tol * (1 + 1e-12)
        # the fewest singular values per bipartition: one fewer would break its share
        tails = {}
        for v in res.spectra:
            if len(tree.leaves(v)) < tree.num_leaves:
                tails[_bipartition(tree, v)] = (res.spectra[v], res.ranks[v])
        share = (tol * norm) ** 2 / len(tails)
        for s, k in tails.values():
            assert np.sum(s[k:] ** 2) <= share * (1 + 1e-12)
            assert k == 1 or np.sum(s[k - 1 :] ** 2) > share
        results.append(res)
    assert all(results[1].ranks[v] <= results[0].ranks[v] for v in tree.nodes)


def test_tolerance_on_the_structured_tensor_finds_its_ranks() -> None:
    tree = dt.ModeTree.balanced(8)
    a = dt.TreeTensor.random(tree, in_dim=3, ranks=2, seed=4).to_dense()
    res = hierarchical_svd(a, tree, tol=1e-8)
    assert max(res.ranks.values()) == 2  # a 1e-8 budget keeps no rounding noise
    assert np.linalg.norm(a - res.to_dense()) <= 1e-8 * np.linalg.norm(a)


# -- structured targets ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tree", [dt.ModeTree.balanced(8), dt.ModeTree.grid((2, 4)), dt.ModeTree.chain(7)]
)
def test_tree_tensor_ranks_are_below_its_min_cuts(tree: dt.ModeTree) -> None:
    widths = {v: 2 + (v % 2) for v in tree.internal_nodes}
    tt = dt.TreeTensor.random(tree, in_dim=3, ranks=widths, seed=2)
    res = hierarchical_svd(tt, tree)  # a TreeTensor target: its dense form
    a = tt.to_dense()
    np.testing.assert_allclose(res.to_dense(), a, atol=1e-10 * float(np.linalg.norm(a)))
    for v in tree.nodes:
        if v != tree.root and len(tree.leaves(v)) < tree.num_leaves:
            assert res.ranks[v] <= tt.min_cut(tree.leaves(v)).value
    assert all(res.needed_widths[v] <= widths[v] for v in tree.internal_nodes)
    assert hierarchical_svd(a, tree).ranks == res.ranks


def test_product_state_has_rank_one_everywhere() -> None:
    rng = np.random.default_rng(7)
    vecs = [rng.standard_normal(3) for _ in range(6)]
    a = vecs[0]
    for x in vecs[1:]:
        a = np.multiply.outer(a, x)
    tree = dt.ModeTree.from_nested([[0, 4], [[1, 2], 3, 5]])
    res = hierarchical_svd(a, tree)
    assert set(res.ranks.values()) == {1}
    assert res.num_params == 6 * 3 + tree.num_nodes - 6
    assert set(res.convac_widths.values()) == {1}
    assert required_widths(a, tree) == {v: 1 for v in tree.internal_nodes}
    np.testing.assert_allclose(res.to_dense(), a, atol=1e-12)


def test_required_widths_of_a_matrix_is_its_rank_at_the_root() -> None:
    rng = np.random.default_rng(8)
    a = rng.standard_normal((5, 2)) @ rng.standard_normal((2, 5))
    tree = dt.ModeTree.flat(2)
    assert required_widths(a, tree) == {tree.root: 2}  # a CP width of 2, not the root's k = 1
    assert required_widths(a + 1e-3 * rng.standard_normal((5, 5)), tree, 0.1) == {2: 2}


def test_grid_tensor_of_a_convac() -> None:
    """A function sampled on templates: the net's grid tensor, ranks below its min cuts."""
    tree = dt.ModeTree.grid((2, 4))
    net = dt.ConvAC(tree, in_dim=2, ranks=[2, 3], dtype=torch.float64, seed=3)
    templates = np.random.default_rng(0).standard_normal((3, 2))
    g = net.grid_tensor(templates)
    res = hierarchical_svd(g, tree, tol=1e-12)
    assert np.linalg.norm(g - res.to_dense()) <= 1e-12 * np.linalg.norm(g)
    for v in tree.nodes:
        if v != tree.root:
            cut = dt.min_cut(tree, net.widths, tree.leaves(v), in_dim=3).value
            assert res.ranks[v] <= min(cut, 2 if v < tree.num_leaves else cut)  # in_dim 2
    assert max(res.ranks.values()) > 1
    widths = required_widths(g, tree, 1e-12)
    assert all(widths[v] <= net.widths[v] for v in tree.internal_nodes)


def test_zero_tensor_and_a_single_position() -> None:
    tree = dt.ModeTree.balanced(4)
    res = hierarchical_svd(np.zeros((2,) * 4), tree, tol=0.5)
    assert set(res.ranks.values()) == {1} and res.error_bound == 0.0
    assert res.relative_error_bound == 0.0
    np.testing.assert_array_equal(res.to_dense(), 0.0)
    one = hierarchical_svd(np.array([3.0, 4.0]), dt.ModeTree.flat(1))
    np.testing.assert_allclose(one.to_dense(), [3.0, 4.0])
    np.testing.assert_allclose(one.to_tree_tensor().to_dense(), [3.0, 4.0])


def test_parameter_counts() -> None:
    tree = dt.ModeTree.balanced(4)
    res = hierarchical_svd(_gauss(2, 4), tree, ranks=1)
    assert res.num_params == 4 * 2 + 3  # leaves M k_i; three 1x1x1 transfers
    assert res.convac_params == 4 * 2 + 2 + 1
    full = hierarchical_svd(_gauss(2, 4), tree)  # k = 2 everywhere, 4 at the root's children
    assert full.num_params == 4 * 2 * 2 + 2 * (2 * 2 * 4) + 4 * 4
    # level 0: width min(4, 2 * 4) = 4; root: min(16, 4 * 1) = 4
    assert full.convac_widths == {4: 4, 5: 4, 6: 4}
    assert "HTResult" in repr(full) and "exact" in repr(full)


# -- bad input (the robustness suite drives the rest) ------------------------------------------


def test_bad_input_names_the_argument() -> None:
    tree, a = dt.ModeTree.balanced(4), _gauss(2, 4)
    with pytest.raises(ValueError, match="ranks, tol"):
        hierarchical_svd(a, tree, ranks=2, tol=0.1)
    with pytest.raises(ValueError, match="target.*tree"):
        hierarchical_svd(_gauss(2, 3), tree)
    with pytest.raises(ValueError, match="target"):
        hierarchical_svd(np.zeros((2, 3, 2, 2)), tree)  # one M for all positions
    with pytest.raises(ValueError, match="ranks"):
        hierarchical_svd(a, tree, ranks=[2])  # two levels
    with pytest.raises(ValueError, match="ranks"):
        hierarchical_svd(a, tree, ranks={99: 1})
    with pytest.raises(ValueError, match="tree: not a valid nested tree"):
        hierarchical_svd(a, [[0, 1], [1, 2]])
    assert hierarchical_svd(a, [[0, 1], [2, 3]]).tree == tree  # a nested list is a tree


def test_torch_and_integer_targets() -> None:
    tree, a = dt.ModeTree.chain(4), np.arange(81.0).reshape((3,) * 4) % 7
    ref = hierarchical_svd(a, tree, ranks=2)
    for target in (torch.tensor(a, requires_grad=True), a.astype(np.int64), a.astype(np.float32)):
        res = hierarchical_svd(target, tree, ranks=2)
        assert res.ranks == ref.ranks
        np.testing.assert_allclose(res.to_dense(), ref.to_dense(), atol=1e-10)
