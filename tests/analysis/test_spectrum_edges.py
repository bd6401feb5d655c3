"""Spectrum records and schmidt_values at their edges (surviving mutants of make mutate)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import dltheory as dt
from dltheory.analysis import spectrum as sp
from dltheory.analysis.spectrum import Spectrum


def test_empty_and_zero_spectra_have_no_largest_value() -> None:
    assert Spectrum(values=np.array([]), log_scale=3.0).log_largest() == -math.inf
    assert Spectrum(values=np.zeros(2), log_scale=3.0).log_largest() == -math.inf
    assert Spectrum(values=np.array([0.5]), log_scale=3.0).log_largest() == math.log(0.5) + 3.0


def test_absolute_at_both_ends_of_float64() -> None:
    low = Spectrum(values=np.array([1.0, 0.5]), log_scale=sp._LOG_TINY).absolute()
    np.testing.assert_allclose(low, [2.2250738585072014e-308, 1.1125369292536007e-308])
    high = Spectrum(values=np.array([1.0]), log_scale=sp._LOG_MAX).absolute()
    assert high.dtype == np.float64 and high[0] == pytest.approx(1.7976931348623157e308)
    with pytest.raises(ValueError) as info:
        Spectrum(values=np.array([1.0]), log_scale=sp._LOG_TINY - 1e-9).absolute()
    assert str(info.value).endswith("; use values with log_scale, or normalized()")
    assert str(info.value).startswith("log_scale: the largest singular value is exp(-708.40)")


def test_short_numbers_switch_to_powers_of_ten_at_10_12() -> None:
    assert sp._short(10**12 - 1) == "999999999999"
    assert sp._short(10**12) == "~10^12.0"
    assert sp._short(3 * 10**15) == "~10^15.5"


def test_schmidt_values_default_and_zero_tensors() -> None:
    tt = dt.TreeTensor.random(dt.ModeTree.balanced(4), 2, 2, seed=1)
    default = dt.schmidt_values(tt, [0, 1])
    assert abs(float(np.linalg.norm(default)) - 1.0) < 1e-14
    np.testing.assert_array_equal(default, dt.schmidt_values(tt, [0, 1], normalized=True))
    assert not np.allclose(default, dt.schmidt_values(tt, [0, 1], normalized=False))
    zero = dt.TreeTensor(tt.tree, [0 * a for a in tt.leaf_weights], tt.node_weights)
    np.testing.assert_array_equal(dt.schmidt_values(zero, [0, 1], normalized=False), [0.0, 0.0])
    np.testing.assert_array_equal(dt.schmidt_values(zero, [0, 1]), [0.0, 0.0])
