from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import dltheory as dt


def test_product_and_maximally_entangled_states() -> None:
    assert dt.entanglement_entropy([3.0, 0.0]) == 0.0
    assert dt.geometric_measure([3.0]) == 0.0
    assert dt.schmidt_number([3.0, 0.0, 0.0]) == 1
    flat = np.ones(8)
    assert math.isclose(dt.entanglement_entropy(flat), math.log(8))
    assert math.isclose(dt.geometric_measure(flat), 1 - 1 / 8)
    assert dt.schmidt_number(flat) == 8
    assert dt.schmidt_number([1.0, 1e-3], tol=1e-2) == 1


@given(st.lists(st.floats(0, 1e6), min_size=1, max_size=30).filter(lambda s: max(s) > 1e-3))
def test_measure_bounds(s: list[float]) -> None:
    k = dt.schmidt_number(s)
    h = dt.entanglement_entropy(s)
    assert -1e-12 <= h <= math.log(max(k, 1)) + 1e-9
    g = dt.geometric_measure(s)
    assert -1e-12 <= g <= 1 - 1 / max(k, 1) + 1e-9
    # scale invariance
    assert math.isclose(dt.entanglement_entropy(np.asarray(s) * 7.5), h, abs_tol=1e-9)


def test_entropy_bounded_by_log_min_cut() -> None:
    tt = dt.TreeTensor.random(dt.ModeTree.balanced(16), 2, 2, seed=0)
    part = dt.analysis.odd_even(16)
    h = dt.entanglement_entropy(tt.schmidt_values(part))
    assert 0 < h <= math.log(tt.min_cut(part).value)


@pytest.mark.parametrize("bad", [[], [[1.0]], [-1.0, 2.0], [np.nan], [0.0, 0.0]])
def test_bad_spectra(bad: list) -> None:
    with pytest.raises(ValueError, match="s:"):
        dt.entanglement_entropy(bad)
