"""Bad input to the synthetic range tasks is refused cleanly."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dltheory.data import MAX_RANGE_EXAMPLES, RANGE_TASKS, load_range_task
from dltheory.data.ranges import BACKGROUNDS

from .harness import Spec, bad_values, check

SPECS = [
    Spec(
        "load_range_task",
        load_range_task,
        {
            "task": "local",
            "n": 16,
            "num_train": 4,
            "num_test": 2,
            "seed": 0,
            "block": 4,
            "background": "zeros",
        },
        {
            "task": ("choice", RANGE_TASKS),
            "n": ("int", 8, 4096),
            "num_train": ("int", 2, MAX_RANGE_EXAMPLES),
            "num_test": ("int", 2, MAX_RANGE_EXAMPLES),
            "seed": ("seed",),
            "block": ("int", 2, 8),
            "background": ("choice", BACKGROUNDS),
        },
    ),
]


CASES = [case for spec in SPECS for case in spec.cases()]


@pytest.mark.parametrize(("spec", "arg"), CASES, ids=[f"{s.public}-{a}" for s, a in CASES])
@given(data=st.data())
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_bad_input_is_refused(spec: Spec, arg: str, data: st.DataObject) -> None:
    kind, *params = spec.args[arg]
    check(spec, arg, data.draw(bad_values(kind, *params)))
