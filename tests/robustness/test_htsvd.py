"""Bad input to the hierarchical SVD and the tree comparison is refused cleanly."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dltheory as dt
from dltheory.design.compare import COMPARE_BY, compare_trees
from dltheory.design.htsvd import hierarchical_svd, required_widths

from .harness import Spec, bad_values, check, refuses

TREE = dt.ModeTree.balanced(4)
TARGET = np.random.default_rng(0).standard_normal((2,) * 4)

SPECS = [
    Spec(
        "hierarchical_svd",
        hierarchical_svd,
        {
            "target": TARGET,
            "tree": TREE,
            "ranks": None,
            "tol": None,
            "max_rank": None,
            "max_entries": 2**12,
        },
        {
            "target": ("array", (2, 2, 2, 2), torch.float64),
            "tree": ("object",),
            "ranks": ("int", 1, None),
            "tol": ("float", 0.0, 1.0),
            "max_rank": ("int", 1, None),
            "max_entries": ("int", 1, None),
        },
        optional=frozenset({"ranks", "tol", "max_rank"}),
    ),
    Spec(
        "required_widths",
        required_widths,
        {"target": TARGET, "tree": TREE, "tol": 0.1, "max_entries": 2**12},
        {
            "target": ("array", (2, 2, 2, 2), torch.float64),
            "tree": ("object",),
            "tol": ("float", 0.0, 1.0),
            "max_entries": ("int", 1, None),
        },
        optional=frozenset({"tol"}),
    ),
    Spec(
        "compare_trees",
        compare_trees,
        {
            "target": TARGET,
            "trees": [TREE, dt.ModeTree.chain(4)],
            "tol": 0.1,
            "max_rank": None,
            "by": "ht",
            "max_entries": 2**12,
        },
        {
            "target": ("array", (2, 2, 2, 2), torch.float64),
            "trees": ("object",),
            "tol": ("float", 0.0, 1.0),
            "max_rank": ("int", 1, None),
            "by": ("choice", COMPARE_BY),
            "max_entries": ("int", 1, None),
        },
        optional=frozenset({"tol", "max_rank"}),
    ),
]

CASES = [case for spec in SPECS for case in spec.cases()]


@pytest.mark.parametrize(("spec", "arg"), CASES, ids=[f"{s.public}-{a}" for s, a in CASES])
@given(data=st.data())
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_bad_input_is_refused(spec: Spec, arg: str, data: st.DataObject) -> None:
    kind, *params = spec.args[arg]
    check(spec, arg, data.draw(bad_values(kind, *params)))


BIG = dt.TreeTensor.random(dt.ModeTree.grid((32, 32)), 2, 2, seed=0)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: hierarchical_svd(TARGET, TREE, ranks=2, tol=0.1), "tol"),
        (lambda: hierarchical_svd(TARGET, TREE, ranks=2, tol=0.1), "ranks"),
        (lambda: hierarchical_svd(TARGET, TREE, tol=0.0), "tol"),
        (lambda: hierarchical_svd(TARGET, TREE, tol=1.0), "tol"),
        (lambda: hierarchical_svd(TARGET, TREE, tol=float("nan")), "tol"),
        (lambda: hierarchical_svd(TARGET, TREE, ranks=0), "ranks"),
        (lambda: hierarchical_svd(TARGET, TREE, ranks={0: 0}), "ranks"),
        (lambda: hierarchical_svd(TARGET, TREE, ranks={99: 1}), "ranks"),
        (lambda: hierarchical_svd(TARGET, TREE, ranks=[2]), "ranks"),
        (lambda: hierarchical_svd(TARGET, TREE, ranks=[2, 0]), "ranks"),
        (lambda: hierarchical_svd(TARGET, TREE, ranks="2"), "ranks"),  # type: ignore[arg-type]
        (lambda: hierarchical_svd(TARGET, TREE, max_rank=0), "max_rank"),
        (lambda: hierarchical_svd(TARGET[..., 0], TREE), "target"),
        (lambda: hierarchical_svd(TARGET[..., 0], TREE), "tree"),
        (lambda: hierarchical_svd(np.zeros((2, 3, 2, 2)), TREE), "target"),
        (lambda: hierarchical_svd(np.full((2,) * 4, np.nan), TREE), "target"),
        (lambda: hierarchical_svd(np.full((2,) * 4, np.inf), TREE), "target"),
        (lambda: hierarchical_svd(np.zeros((2,) * 4, complex), TREE), "target"),
        (lambda: hierarchical_svd(np.zeros((2,) * 4, bool), TREE), "target"),
        (lambda: hierarchical_svd(TARGET.tolist(), TREE), "target"),
        (lambda: hierarchical_svd(TARGET, [[0, 1], [1, 2]]), "tree"),
        (lambda: hierarchical_svd(TARGET, "balanced"), "tree"),
        # too large: refused before the dense form (or any copy) is made
        (lambda: hierarchical_svd(BIG, BIG.tree), "target"),
        (
            lambda: hierarchical_svd(np.broadcast_to(0.0, (2,) * 26), dt.ModeTree.chain(26)),
            "target",
        ),
        (lambda: hierarchical_svd(TARGET, TREE, max_entries=8), "target"),
        (lambda: hierarchical_svd(dt.TreeTensor.random(TREE, 2, 2, out_dim=2), TREE), "target"),
        (lambda: hierarchical_svd(dt.TreeTensor.random(dt.ModeTree.chain(3), 2, 2), TREE), "tree"),
        (lambda: required_widths(TARGET, TREE, tol=-0.5), "tol"),
        (lambda: compare_trees(TARGET, [TREE, dt.ModeTree.chain(5)], 0.1), "trees"),
        (lambda: compare_trees(TARGET, [], 0.1), "trees"),
        (lambda: compare_trees(TARGET, TREE, 0.1), "trees"),  # type: ignore[arg-type]
        (lambda: compare_trees(TARGET, {3: TREE}, 0.1), "trees"),  # type: ignore[dict-item]
        (lambda: compare_trees(TARGET, [TREE], 0.1, by="params"), "by"),  # type: ignore[arg-type]
        (lambda: compare_trees(np.zeros((2,) * 4, complex), [TREE], 0.1), "target"),
        (lambda: compare_trees(BIG, [BIG.tree], 0.1), "target"),
    ],
)
def test_reported_examples(call: object, name: str) -> None:
    refuses(call, name)  # type: ignore[arg-type]
