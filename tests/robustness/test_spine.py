"""Bad input to the spine -- trees, tree tensors, the exact analysis -- is refused cleanly."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dltheory as dt
from dltheory import analysis as an
from dltheory.trees import MAX_TREE_NODES

from .harness import Spec, bad_values, check, refuses

BIG = MAX_TREE_NODES
TREE = dt.ModeTree.balanced(8)
TT = dt.TreeTensor.random(TREE, 2, 2, seed=0)
TT_INT = dt.TreeTensor.random(TREE, 2, 2, seed=0, integer=True)
GRID = dt.ModeTree.grid((4, 4))

SPECS = [
    Spec("ModeTree.flat", dt.ModeTree.flat, {"n": 4}, {"n": ("int", 1, BIG)}),
    Spec(
        "ModeTree.balanced",
        dt.ModeTree.balanced,
        {"n": 8, "arity": 2},
        {"n": ("int", 1, BIG), "arity": ("int", 2, None)},
    ),
    Spec("ModeTree.chain", dt.ModeTree.chain, {"n": 4}, {"n": ("int", 1, BIG)}),
    Spec(
        "ModeTree.grid",
        dt.ModeTree.grid,
        {"shape": (4, 4), "window": (2, 2), "geometry": "square"},
        {
            "shape": ("shape",),
            "window": ("shape", 1, False),  # a window wider than the grid pools it whole
            "geometry": ("choice", ("square", "mirror", "mirror-square")),
        },
    ),
    Spec(
        "ModeTree.dilated",
        dt.ModeTree.dilated,
        {"n": 8, "dilations": (1, 2, 4), "kernel": 2},
        {"n": ("int", 1, BIG), "dilations": ("ints", 1, None), "kernel": ("int", 2, None)},
    ),
    Spec("ModeTree.from_nested", dt.ModeTree.from_nested, {"nested": [[0, 1], 2]}, {}),
    Spec("ModeTree.check_partition", TREE.check_partition, {"I": [0, 1]}, {"I": ("partition", 8)}),
    Spec("ModeTree.children", TREE.children, {"v": 8}, {"v": ("int", 0, TREE.num_nodes - 1)}),
    Spec(
        "ModeTree.leaves",
        TREE.leaves,
        {"v": 8},
        {"v": ("int", 0, TREE.num_nodes - 1)},
        optional=frozenset({"v"}),
    ),
    Spec("ModeTree.level", TREE.level, {"v": 8}, {"v": ("int", 0, TREE.num_nodes - 1)}),
    Spec("ModeTree.resolve_ranks", TREE.resolve_ranks, {"ranks": 2}, {"ranks": ("int", 1, None)}),
    Spec(
        "TreeTensor.random",
        dt.TreeTensor.random,
        {"tree": TREE, "in_dim": 2, "ranks": 2, "seed": 0, "out_dim": 1, "scale": "unit"},
        {
            "tree": ("object",),
            "in_dim": ("int", 1, None),
            "ranks": ("int", 1, None),
            "seed": ("seed",),
            "out_dim": ("int", 1, None),
            "scale": ("choice", ("unit", "fan-in")),
        },
    ),
    Spec(
        "TreeTensor.random(integer)",
        lambda **kw: dt.TreeTensor.random(TREE, 2, 2, integer=True, **kw),
        {"int_range": 100},
        {"int_range": ("int", 1, 2**30)},
    ),
    Spec(
        "TreeTensor.evaluate",
        TT.evaluate,
        {"features": np.zeros((3, 8, 2))},
        {"features": ("array", (3, 8, 2), torch.float64)},
    ),
    Spec("TreeTensor.output", TT.output, {"y": 0}, {"y": ("int", 0, 0)}),
    Spec(
        "TreeTensor.to_dense",
        TT.to_dense,
        {"max_entries": 2**20},
        {"max_entries": ("int", 1, None)},
    ),
    Spec("TreeTensor.schmidt_values", TT.schmidt_values, {"I": [0, 1]}, {"I": ("partition", 8)}),
    Spec("TreeTensor.min_cut", TT.min_cut, {"I": [0, 1]}, {"I": ("partition", 8)}),
    Spec(
        "schmidt_values",
        an.schmidt_values,
        {"tensor": TT, "I": [0, 1], "max_entries": 2**20},
        {"tensor": ("object",), "I": ("partition", 8), "max_entries": ("int", 1, None)},
    ),
    Spec(
        "schmidt_spectrum",
        an.schmidt_spectrum,
        {"tensor": TT, "I": [0, 1]},
        {"tensor": ("object",), "I": ("partition", 8)},
    ),
    Spec(
        "matricization_rank",
        an.matricization_rank,
        {"tensor": TT, "I": [0, 1], "method": "svd", "tol": None},
        {
            "tensor": ("object",),
            "I": ("partition", 8),
            "method": ("choice", ("svd", "modular")),
            "tol": ("float", 0.0, None),
        },
        optional=frozenset({"tol"}),
    ),
    Spec(
        "matricization_rank(modular)",
        an.matricization_rank,
        {"tensor": TT_INT, "I": [0, 1], "method": "modular", "prime": 2**31 - 1},
        {"prime": ("int", 3, 2**31 - 1)},
    ),
    Spec(
        "min_cut",
        dt.min_cut,
        {"tree": TREE, "ranks": 2, "I": [0, 1], "in_dim": 2},
        {
            "tree": ("object",),
            "ranks": ("int", 1, None),
            "I": ("partition", 8),
            "in_dim": ("int", 1, None),
        },
    ),
    Spec(
        "network_graph",
        an.network_graph,
        {"tree": TREE, "widths": 2, "in_dim": 2},
        {"tree": ("object",), "widths": ("int", 1, None), "in_dim": ("int", 1, None)},
    ),
    Spec(
        "entanglement_entropy",
        dt.entanglement_entropy,
        {"s": np.array([1.0, 0.5])},
        {"s": ("array", (2,), torch.float64)},
    ),
    Spec(
        "geometric_measure",
        dt.geometric_measure,
        {"s": np.array([1.0, 0.5])},
        {"s": ("array", (2,), torch.float64)},
    ),
    Spec(
        "schmidt_number",
        dt.schmidt_number,
        {"s": np.array([1.0, 0.5]), "tol": 1e-3},
        {"s": ("array", (2,), torch.float64), "tol": ("float", 0.0, None)},
        optional=frozenset({"tol"}),
    ),
    Spec(
        "grid_tensor",
        dt.grid_tensor,
        {
            "f": lambda x: x.sum(axis=(1, 2)),
            "templates": np.eye(2),
            "num_positions": 3,
            "batch_size": 16,
            "max_entries": 2**12,
        },
        {
            "f": ("callable",),
            "templates": ("array", (2, 2), torch.float64),
            "num_positions": ("int", 1, None),
            "batch_size": ("int", 1, None),
            "max_entries": ("int", 1, None),
        },
    ),
    Spec(
        "matricize",
        dt.matricize,
        {"dense": np.zeros((2, 2, 2)), "I": [0]},
        {"I": ("ints", 0, 2)},
    ),
    Spec(
        "dense_schmidt_values",
        an.dense_schmidt_values,
        {"dense": np.ones((2, 2, 2)), "I": [0]},
        {"dense": ("array", (2, 2, 2), torch.float64, True), "I": ("ints", 0, 2)},
    ),
    Spec("odd_even", an.odd_even, {"n": 8}, {"n": ("int", 2, BIG)}),
    Spec("left_right", an.left_right, {"n": 8}, {"n": ("int", 2, BIG)}),
    Spec("interleaved_2d", an.interleaved_2d, {"shape": (4, 4)}, {"shape": ("shape",)}),
    Spec(
        "block",
        an.block,
        {"shape": (4, 4), "top_left": (0, 0), "size": (2, 2)},
        {"shape": ("shape",), "top_left": ("shape", 0), "size": ("shape",)},
    ),
    Spec(
        "random_partition",
        an.random_partition,
        {"n": 8, "seed": 0, "size": 3},
        {"n": ("int", 2, BIG), "seed": ("seed",), "size": ("int", 1, 7)},
        optional=frozenset({"size"}),
    ),
    Spec(
        "rank_mod_p",
        an.rank_mod_p,
        {"mat": np.eye(3, dtype=np.int64), "p": 7},
        {"mat": ("array", (3, 3), torch.float64), "p": ("int", 3, 2**31 - 1)},
    ),
]

CASES = [case for spec in SPECS for case in spec.cases()]


@pytest.mark.parametrize(("spec", "arg"), CASES, ids=[f"{s.public}-{a}" for s, a in CASES])
@given(data=st.data())
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_bad_input_is_refused(spec: Spec, arg: str, data: st.DataObject) -> None:
    kind, *params = spec.args[arg]
    check(spec, arg, data.draw(bad_values(kind, *params)))


# -- the examples users hit ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: dt.ModeTree.flat(10**9), "n"),
        (lambda: dt.ModeTree.balanced(2**40), "n"),
        (lambda: dt.ModeTree.grid((2**15, 2**15)), "shape"),
        (lambda: dt.TreeTensor.random(TREE, 2, 10**5), "ranks"),
        (lambda: dt.TreeTensor.random(TREE, 2, 2, seed=2**64), "seed"),
        (lambda: dt.TreeTensor.random(TREE, 2, 2, seed=1.5), "seed"),
        (lambda: dt.TreeTensor.random(TREE, True, 2), "in_dim"),
        (lambda: dt.TreeTensor.random(TREE, 2.7, 2), "in_dim"),
        (lambda: dt.min_cut("tree", 2, [0], in_dim=2), "tree"),
        (lambda: an.left_right((-4, 4)), "n"),
        (lambda: an.odd_even(10**12), "n"),
        (lambda: an.random_partition(10**12), "n"),
        (lambda: dt.schmidt_number([1.0, 0.5], tol=float("nan")), "tol"),
        (lambda: TT.schmidt_values([True]), "I"),
        (lambda: TT.evaluate(np.zeros((3, 8, 2), complex)), "features"),
        (lambda: an.dense_schmidt_values(np.full((2, 2), np.nan), [0]), "dense"),
        (lambda: an.rank_mod_p(np.eye(2), 7), "mat"),
        (
            lambda: dt.TreeTensor(
                TREE, [w.astype(complex) for w in TT.leaf_weights], dict(TT.node_weights)
            ),
            "leaf_weights[0]",
        ),
        (lambda: dt.TreeTensor.random(dt.ModeTree.grid((32, 32)), 2, 2).to_dense(), "max_entries"),
        (lambda: TT.to_dense(max_entries=float("nan")), "max_entries"),
    ],
)
def test_reported_examples(call: object, name: str) -> None:
    refuses(call, name)  # type: ignore[arg-type]


def test_min_cut_with_capacities_beyond_any_fixed_infinity() -> None:
    # widths of 2^300: the sum of the finite capacities is far above the old fixed "infinity"
    n = 64
    tree = dt.ModeTree.balanced(n)
    huge = 2**300
    cut = dt.min_cut(tree, huge, list(range(n // 2)), in_dim=huge)
    assert cut.value == huge and [e.kind for e in cut.edges] == ["bond"]  # the root's left child
    # a partition of single positions: cutting each leg (in_dim 2) beats any bond of width 2^300
    cut = dt.min_cut(tree, huge, [0, 5, 9], in_dim=2)
    assert cut.value == 8 and all(e.kind == "leg" for e in cut.edges)
