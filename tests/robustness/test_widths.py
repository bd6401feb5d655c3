"""Bad input to the width design (dltheory.design.widths) is refused cleanly, before any work."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dltheory as dt
from dltheory.design.widths import (
    MAX_BUDGET,
    MAX_RANK,
    cheapest_widths,
    design_widths,
    parameter_count,
    tree_min_cut,
)

from .harness import Spec, bad_values, check, refuses

TREE = dt.ModeTree.balanced(8)
LEAST = parameter_count(TREE, 1, in_dim=2)  # 23: the budget every width 1 needs
GRID = dt.ModeTree.grid((32, 32))

SPECS = [
    Spec(
        "parameter_count",
        parameter_count,
        {"tree": TREE, "widths": 2, "in_dim": 2, "out_dim": 1},
        {
            "tree": ("object",),
            "widths": ("int", 1, None),
            "in_dim": ("int", 1, None),
            "out_dim": ("int", 1, None),
        },
    ),
    Spec(
        "tree_min_cut",
        tree_min_cut,
        {"tree": TREE, "ranks": 2, "I": [0, 1], "in_dim": 2},
        {
            "tree": ("object",),
            "ranks": ("int", 1, None),
            "I": ("partition", 8),
            "in_dim": ("int", 1, None),
        },
    ),
    Spec(
        "design_widths",
        design_widths,
        {
            "tree": TREE,
            "budget": 200,
            "partitions": [[0, 1, 2, 3]],  # one partition: weights [1, 2] are too many
            "in_dim": 2,
            "out_dim": 1,
            "weights": None,
            "per": "level",
            "max_width": None,
            "method": "auto",
            "max_candidates": 10**4,
        },
        {
            "tree": ("object",),
            "budget": ("int", LEAST, MAX_BUDGET),
            "partitions": ("partition", 8),
            "in_dim": ("int", 1, None),
            "out_dim": ("int", 1, None),
            "weights": ("object",),
            "per": ("choice", ("level", "node")),
            "max_width": ("int", 1, None),
            "method": ("choice", ("auto", "branch-and-bound")),
            "max_candidates": ("int", 1, None),
        },
        optional=frozenset({"weights", "max_width"}),
    ),
    Spec(
        "cheapest_widths",
        cheapest_widths,
        {
            "tree": TREE,
            "targets": [([0, 1, 2, 3], 4)],
            "in_dim": 2,
            "out_dim": 1,
            "per": "level",
            "max_candidates": 10**4,
        },
        {
            "tree": ("object",),
            "targets": ("object",),
            "in_dim": ("int", 1, None),
            "out_dim": ("int", 1, None),
            "per": ("choice", ("level", "node")),
            "max_candidates": ("int", 1, None),
        },
    ),
]

CASES = [case for spec in SPECS for case in spec.cases()]


@pytest.mark.parametrize(("spec", "arg"), CASES, ids=[f"{s.public}-{a}" for s, a in CASES])
@given(data=st.data())
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_bad_input_is_refused(spec: Spec, arg: str, data: st.DataObject) -> None:
    kind, *params = spec.args[arg]
    check(spec, arg, data.draw(bad_values(kind, *params)))


@pytest.mark.parametrize(
    ("call", "name"),
    [
        # a budget below every-width-1 on a 32x32 grid: refused at once, naming the minimum
        (lambda: design_widths(GRID, 100, [range(512)], in_dim=2), "budget"),
        (lambda: design_widths(GRID, 10**6, [[0, 1024]], in_dim=2), "partitions[0]"),
        (lambda: design_widths(GRID, 10**6, [range(1024)], in_dim=2), "partitions[0]"),
        (lambda: design_widths(GRID, 10**6, [[0, 0]], in_dim=2), "partitions[0]"),
        (lambda: design_widths(GRID, 10**6, [[0], [True]], in_dim=2), "partitions[1]"),
        (lambda: design_widths(GRID, 10**6, [[0]] * 10**5, in_dim=2), "partitions"),
        (lambda: design_widths(GRID, 10**6, {(0,): 1.0}, in_dim=2), "partitions"),
        (lambda: design_widths(TREE, 100, [[0]], in_dim=2, weights=[-0.5]), "weights[0]"),
        (lambda: design_widths(TREE, 100, [[0]], in_dim=2, weights=[math.inf]), "weights[0]"),
        (lambda: design_widths(TREE, 100, [[0]], in_dim=2, weights=["1"]), "weights[0]"),
        (lambda: design_widths(TREE, 100, [[0]], in_dim=2, weights=[1.0, 1.0]), "weights"),
        (lambda: design_widths(TREE, 100, [[0]], in_dim=2, weights=(x for x in [])), "weights"),
        (lambda: design_widths(TREE, 100, [[0]], in_dim=2, max_width=2.5), "max_width"),
        (lambda: design_widths(GRID, 10**6, [[0]], in_dim=2, per="node"), "per"),
        (lambda: cheapest_widths(TREE, [([0], 0)], in_dim=2), "targets[0]"),
        (lambda: cheapest_widths(TREE, [([0], MAX_RANK + 1)], in_dim=2), "targets[0]"),
        (lambda: cheapest_widths(TREE, [([0], 2.0)], in_dim=2), "targets[0]"),
        (lambda: cheapest_widths(TREE, [([0, 8], 2)], in_dim=2), "targets[0]"),
        (lambda: cheapest_widths(TREE, [([0], 2, 3)], in_dim=2), "targets[0]"),
        (lambda: cheapest_widths(TREE, {(0,): 2, (1, 2): 0}, in_dim=2), "targets[1]"),
        (lambda: cheapest_widths(TREE, [([0], 5)], in_dim=2), "targets[0]"),  # beyond M = 2
        (lambda: cheapest_widths(GRID, [(range(1024), 2)], in_dim=2), "targets[0]"),
        (lambda: parameter_count(TREE, [2, 2], in_dim=2), "widths"),
        (lambda: parameter_count(TREE, {8: 2}, in_dim=2), "widths"),
        (lambda: tree_min_cut(TREE, 2, [8], in_dim=2), "I"),
    ],
)
def test_reported_examples(call: object, name: str) -> None:
    refuses(call, name)  # type: ignore[arg-type]
