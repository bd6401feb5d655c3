"""Ranks and spectra at their edges: thresholds, zero tensors, defaults, messages, many groups."""

from __future__ import annotations

import numpy as np
import pytest

import dltheory as dt
from dltheory.analysis import dense_schmidt_values, matricization_rank, schmidt_values
from dltheory.analysis.spectrum import Spectrum, group_children


def _pair_tensor(delta: float) -> dt.TreeTensor:
    """N = 2, matricization diag(1, delta) exactly."""
    tree = dt.ModeTree.balanced(2)
    return dt.TreeTensor(tree, [np.eye(2), np.eye(2)], {2: np.array([[1.0], [delta]])})


def test_default_threshold_is_width_times_eps() -> None:
    # the root core is 2 x 2: a value counts iff it exceeds 2 * eps = 4.4e-16 of the largest
    assert matricization_rank(_pair_tensor(2.5e-16), [0]) == 1
    assert matricization_rank(_pair_tensor(1e-15), [0]) == 2
    assert matricization_rank(_pair_tensor(1e-15), [0], tol=1e-14) == 1  # an absolute tol
    assert matricization_rank(_pair_tensor(0.5), [0], tol=0.0) == 2


def test_zero_tensors_have_rank_zero_under_every_rule() -> None:
    tt = dt.TreeTensor.random(dt.ModeTree.balanced(4), 3, 2, seed=0)
    zero = dt.TreeTensor(tt.tree, [0 * a for a in tt.leaf_weights], tt.node_weights)
    assert matricization_rank(zero, [0, 1]) == 0
    assert matricization_rank(zero, [0, 1], tol=0.0) == 0
    assert matricization_rank(zero, [0, 1], tol=1e-3) == 0


def test_default_method_is_svd_and_modular_needs_integers() -> None:
    tt = dt.TreeTensor.random(dt.ModeTree.balanced(4), 2, 2, seed=0)
    assert matricization_rank(tt, [0, 1]) == 2  # float parameters: the default is the SVD route
    with pytest.raises(ValueError) as info:
        matricization_rank(tt, [0, 1], method="modular")
    assert str(info.value) == (
        "method: 'modular' needs integer parameters; draw them with "
        "TreeTensor.random(..., integer=True)"
    )


def test_modular_rank_counts_rows_not_columns() -> None:
    # rank 2 of a 4 x 16 matricization (I = one position of M = 4 against three)
    tt = dt.TreeTensor.random(dt.ModeTree.balanced(4), 4, 2, seed=0, integer=True)
    assert matricization_rank(tt, [0], method="modular") == 2
    assert matricization_rank(tt, [0, 1, 2], method="modular") == 2


@pytest.mark.parametrize(
    ("nested", "part"),
    [
        ([[0, 1], [2, 3], 4, 5], (0, 2, 4)),  # the root: an I leaf, two mixed children, a J leaf
        ([[0, 1], [2, 3], [4, 5], 6, 7], (0, 2, 4, 6)),  # three mixed children
        ([[[0, 1]], [2, 3]], (0, 2)),  # a unary node above a mixed pair
        ([[0, 1, 2], [3, 4, 5]], (0, 3, 4)),  # ternary nodes, both mixed
    ],
)
def test_modular_and_float_ranks_with_many_groups(nested: list, part: tuple[int, ...]) -> None:
    tree = dt.ModeTree.from_nested(nested)
    for seed in range(3):
        tt = dt.TreeTensor.random(tree, 2, 3, seed=seed, integer=True, nonzero=True)
        dense = tt.to_dense(exact=True)
        exact = np.linalg.matrix_rank(dt.analysis.matricize(np.asarray(dense, dtype=float), part))
        assert matricization_rank(tt, part, method="modular") == exact
        assert matricization_rank(tt, part, method="modular", prime=3) <= exact
        float_tt = dt.TreeTensor(tree, [a * 1.0 for a in tt.leaf_weights], tt.node_weights)
        assert matricization_rank(float_tt, part) == exact
        s = schmidt_values(float_tt, part, normalized=False)
        np.testing.assert_allclose(
            s, dense_schmidt_values(np.asarray(dense, dtype=float), part)[: len(s)], rtol=1e-9
        )


def test_fallback_size_is_checked_for_ranks_too() -> None:
    tree = dt.ModeTree.balanced(16)
    tt = dt.TreeTensor.random(tree, 2, 16, seed=0)
    nodes = {v: w.copy() for v, w in tt.node_weights.items()}
    for v in tree.internal_nodes:
        if tree.height(v) == 2:
            nodes[v][:, 1] = nodes[v][:, 0]  # singular Grams: the orthogonal fallback is needed
    twin = dt.TreeTensor(tree, tt.leaf_weights, nodes)
    lr = list(range(8))
    with pytest.raises(ValueError, match="max_entries: this needs about 4.1e\\+03 entries"):
        matricization_rank(twin, lr, max_entries=4095)
    assert matricization_rank(twin, lr, max_entries=4096) == matricization_rank(twin, lr)


def test_normalized_divides_by_the_norm() -> None:
    np.testing.assert_allclose(Spectrum(np.array([3.0, 4.0]), 7.0).normalized(), [0.6, 0.8])
    np.testing.assert_array_equal(Spectrum(np.zeros(2), 7.0).normalized(), [0.0, 0.0])


def test_group_children_orders_i_mixed_j() -> None:
    items = [("i1", (3, 1)), ("m1", (2, 2)), ("j1", (1, 4)), ("i2", (2, 1)), ("j2", (1, 2))]

    def pair(x: tuple, y: tuple) -> tuple:
        return (f"({x[0]}*{y[0]})", (x[1][0] * y[1][0], x[1][1] * y[1][1]))

    out = group_children(items, lambda x: x[1], pair)
    assert [x[0] for x in out] == ["(i1*i2)", "m1", "(j1*j2)"]
    assert [x[0] for x in group_children(items[2:3], lambda x: x[1], pair)] == ["j1"]


def test_schmidt_values_message_for_unrepresentable_absolute_values() -> None:
    shape = (32, 32)
    unit = dt.TreeTensor.random(dt.ModeTree.grid(shape), 2, 2, seed=0, scale="fan-in")
    tiny = dt.TreeTensor(unit.tree, [a * 0.01 for a in unit.leaf_weights], unit.node_weights)
    with pytest.raises(ValueError) as info:
        tiny.schmidt_values(dt.analysis.left_right(shape), normalized=False)
    assert str(info.value).endswith(
        "outside float64; use schmidt_spectrum(...) for the values plus their log scale, or "
        "normalized=True"
    )
