"""Bad input to mixed decompositions (dltheory.mixed, dltheory.mixed.rank) is refused cleanly."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dltheory as dt
from dltheory.mixed import MixedTensor, shared_nodes
from dltheory.mixed import rank as mr

from .harness import Spec, bad_values, check, refuses

TA = dt.ModeTree.dilated(8, (1, 2, 4))
TB = dt.ModeTree.dilated(8, (2, 1, 4))
BLOCKS = [[0, 1, 2, 3], [4, 5, 6, 7]]
MT = MixedTensor.random(TA, TB, 2, 2, 2, mix=BLOCKS, seed=0)
MT_INT = MixedTensor.random(TA, TB, 2, 2, 2, mix=BLOCKS, seed=0, integer=True)
MT3 = MixedTensor.random(TA, TB, 2, 2, 2, mix=BLOCKS, seed=0, out_dim=3)
PLAIN = MixedTensor.random(TA, TB, 2, 2, 2, seed=0)  # no mixture: TreeTensor-shaped weights
WEIGHTS = {
    "tree_a": TA,
    "tree_b": TB,
    "leaf_weights_a": PLAIN.leaf_weights[0],
    "node_weights_a": PLAIN.node_weights[0],
    "leaf_weights_b": PLAIN.leaf_weights[1],
    "node_weights_b": PLAIN.node_weights[1],
}
TREE = ("object",)
PART = ("partition", 8)
INT1 = ("int", 1, None)

SPECS = [
    Spec(
        "shared_nodes", shared_nodes, {"tree_a": TA, "tree_b": TB}, {"tree_a": TREE, "tree_b": TREE}
    ),
    Spec(
        "MixedTensor",
        MixedTensor,
        WEIGHTS,
        {k: TREE for k in WEIGHTS},
    ),
    Spec(
        "MixedTensor.random",
        MixedTensor.random,
        {
            "tree_a": TA,
            "tree_b": TB,
            "in_dim": 2,
            "ranks_a": 2,
            "ranks_b": 3,
            "seed": 0,
            "out_dim": 1,
        },
        {
            "tree_a": TREE,
            "tree_b": TREE,
            "in_dim": INT1,
            "ranks_a": INT1,
            "ranks_b": INT1,
            "seed": ("seed",),
            "out_dim": INT1,
        },
    ),
    Spec(
        "MixedTensor.random(integer)",
        lambda **kw: MixedTensor.random(TA, TB, 2, 2, 2, integer=True, **kw),
        {"int_range": 100},
        {"int_range": ("int", 1, 2**30)},
    ),
    Spec(
        "MixedTensor.evaluate",
        MT.evaluate,
        {"features": np.zeros((3, 8, 2))},
        {"features": ("array", (3, 8, 2), torch.float64)},
    ),
    Spec("MixedTensor.output", MT3.output, {"y": 0}, {"y": ("int", 0, 2)}),
    Spec("MixedTensor.to_dense", MT.to_dense, {"max_entries": 2**20}, {"max_entries": INT1}),
    Spec("MixedTensor.schmidt_values", MT.schmidt_values, {"I": [0, 1]}, {"I": PART}),
    Spec("MixedTensor.schmidt_spectrum", MT.schmidt_spectrum, {"I": [0, 1]}, {"I": PART}),
    Spec(
        "MixedTensor.matricization_rank",
        MT.matricization_rank,
        {"I": [0, 1], "method": "svd"},
        {"I": PART, "method": ("choice", ("svd", "modular"))},
    ),
    Spec("MixedTensor.min_cut", MT.min_cut, {"I": [0, 1]}, {"I": PART}),
    Spec(
        "mixed_rank.schmidt_values",
        mr.schmidt_values,
        {"tensor": MT, "I": [0, 1], "max_entries": 2**20},
        {"tensor": TREE, "I": PART, "max_entries": INT1},
    ),
    Spec(
        "mixed_rank.schmidt_spectrum",
        mr.schmidt_spectrum,
        {"tensor": MT3, "I": [0, 1], "y": 1},
        {"tensor": TREE, "I": PART, "y": ("int", 0, 2)},
        optional=frozenset({"y"}),
    ),
    Spec(
        "mixed_rank.matricization_rank",
        mr.matricization_rank,
        {"tensor": MT, "I": [0, 1], "method": "svd", "tol": None},
        {
            "tensor": TREE,
            "I": PART,
            "method": ("choice", ("svd", "modular")),
            "tol": ("float", 0.0, None),
        },
        optional=frozenset({"tol"}),
    ),
    Spec(
        "mixed_rank.matricization_rank(modular)",
        mr.matricization_rank,
        {"tensor": MT_INT, "I": [0, 1], "method": "modular", "prime": 2**31 - 1},
        {"prime": ("int", 3, 2**31 - 1)},
    ),
    Spec(
        "mixed_rank.min_cut", mr.min_cut, {"tensor": MT, "I": [0, 1]}, {"tensor": TREE, "I": PART}
    ),
    Spec("mixed_rank.reduction", mr.reduction, {"tensor": MT}, {"tensor": TREE}),
]

CASES = [case for spec in SPECS for case in spec.cases()]


@pytest.mark.parametrize(("spec", "arg"), CASES, ids=[f"{s.public}-{a}" for s, a in CASES])
@given(data=st.data())
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_bad_input_is_refused(spec: Spec, arg: str, data: st.DataObject) -> None:
    kind, *params = spec.args[arg]
    check(spec, arg, data.draw(bad_values(kind, *params)))


def _weights(**change: object) -> dict[str, object]:
    out = {
        k: (list(v) if isinstance(v, list) else dict(v) if isinstance(v, dict) else v)
        for k, v in WEIGHTS.items()
    }
    out.update(change)
    return out


def _nan_leaf() -> list[np.ndarray]:
    leaves = [w.copy() for w in PLAIN.leaf_weights[0]]
    leaves[3][0, 0] = np.nan
    return leaves


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: shared_nodes(TA, dt.ModeTree.balanced(16)), "tree_b"),
        (lambda: MixedTensor.random(TA, dt.ModeTree.chain(7), 2, 2, 2), "tree_b"),
        (lambda: MixedTensor.random(TA, TB, 2, 2, 2, mix=[[0, 1]]), "mix"),  # a node of TA only
        (lambda: MixedTensor.random(TA, TB, 2, 2, 2, mix=[range(8)]), "mix"),  # the root
        (lambda: MixedTensor.random(TA, TB, 2, 2, 2, mix=[[0, 1, 2, 3]] * 2), "mix"),
        (lambda: MixedTensor.random(TA, TB, 2, 2, 2, mix="some"), "mix"),
        (lambda: MixedTensor.random(TA, TB, 2, 2, 2, mix=[[True, 1, 2, 3]]), "mix"),
        (lambda: MixedTensor.random(TA, TB, 2, 2, 2, mix=[[0.0, 1, 2, 3]]), "mix"),
        (lambda: MixedTensor.random(TA, TB, 2, 2, 2, mix=[7]), "mix"),
        (lambda: MixedTensor.random(TA, TB, 2, 2, 2, mix=3), "mix"),
        (lambda: MixedTensor.random(TA, TB, 0, 2, 2), "in_dim"),
        (lambda: MixedTensor.random(TA, TB, True, 2, 2), "in_dim"),
        (lambda: MixedTensor.random(TA, TB, 2, 0, 2), "ranks_a"),
        (lambda: MixedTensor.random(TA, TB, 2, 2, [2, 0, 2]), "ranks_b"),
        (lambda: MixedTensor.random(TA, TB, 2, 2, False), "ranks_b"),
        (lambda: MixedTensor.random(TA, TB, 2, 10**5, 2), "ranks_a"),
        (lambda: MixedTensor.random(TA, TB, 2, 2, 2, integer=1), "integer"),
        (lambda: MixedTensor(**_weights(leaf_weights_a=_nan_leaf())), "leaf_weights_a[3]"),
        (
            lambda: MixedTensor(
                **_weights(leaf_weights_b=[w.astype(bool) for w in PLAIN.leaf_weights[1]])
            ),
            "leaf_weights_b[0]",
        ),
        (
            lambda: MixedTensor(**_weights(leaf_weights_b=[w * 1j for w in PLAIN.leaf_weights[1]])),
            "leaf_weights_b[0]",
        ),
        (
            lambda: MixedTensor(**_weights(leaf_weights_a=PLAIN.leaf_weights[0][:7])),
            "leaf_weights_a",
        ),
        (
            lambda: MixedTensor(
                **_weights(node_weights_b={**PLAIN.node_weights[1], 99: np.eye(2)})
            ),
            "node_weights_b",
        ),
        (lambda: MixedTensor(**_weights(), mix=BLOCKS), "node_weights_a[12]"),  # too few rows
        (
            lambda: MixedTensor(**_weights(leaf_weights_a=[np.ones((3, 2))] * 8)),
            "leaf_weights_b[0]",  # M = 3 in tree a, 2 in tree b
        ),
        (
            lambda: MixedTensor.random(
                dt.ModeTree.balanced(32), dt.ModeTree.chain(32), 2, 2, 2
            ).to_dense(),
            "max_entries",
        ),
        (lambda: MT.to_dense(exact=True), "exact"),
        (lambda: MT.evaluate(np.zeros((3, 8, 3))), "features"),
        (lambda: MT.evaluate([[0.0] * 2] * 8), "features"),
        (lambda: MT.matricization_rank([0, 1], method="modular"), "method"),
        (lambda: MT3.matricization_rank([0, 1]), "y"),
        (lambda: MT.schmidt_values([0, 1], normalized=1), "normalized"),
        (lambda: MT.schmidt_values([0, 8]), "I"),
        (lambda: MT.min_cut([True]), "I"),
        (lambda: MT.matricization_rank([0, 1], max_entries=10), "max_entries"),
        (lambda: MT_INT.matricization_rank([0, 1], method="modular", prime=2**31 - 3), "prime"),
    ],
)
def test_reported_examples(call: object, name: str) -> None:
    refuses(call, name)  # type: ignore[arg-type]
