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


def test_values_for_accepts_both_ends_of_float64() -> None:
    low = Spectrum(values=np.array([1.0, 0.5]), log_scale=sp._LOG_TINY).values_for(False)
    assert low[0] == pytest.approx(2.2250738585072014e-308)
    high = Spectrum(values=np.array([1.0]), log_scale=sp._LOG_MAX).values_for(False)
    assert high[0] == pytest.approx(1.7976931348623157e308)
    with pytest.raises(ValueError, match="normalized: with normalized=False"):
        Spectrum(values=np.array([1.0]), log_scale=sp._LOG_MAX + 1e-9).values_for(False)


def test_the_size_limit_is_exact_and_its_message_names_the_way_out() -> None:
    # 4x4 grid, width 16: the top row's Gram route needs 256 entries, the QR route 4096
    tt, part = dt.TreeTensor.random(dt.ModeTree.grid((4, 4)), 2, 16, seed=4), tuple(range(8))
    need = sp._prepare(tt, part, None, 2**40).biggest  # the Gram plan schmidt_spectrum uses
    assert need != sp._prepare(tt, part, None, 2**40, gram=False).biggest
    assert sp.schmidt_spectrum(tt, part, max_entries=need).values.size > 0  # at the limit: runs
    with pytest.raises(ValueError) as info:
        sp.schmidt_spectrum(tt, part, max_entries=need - 1)
    text = str(info.value)
    assert text.startswith("max_entries: this needs about")
    assert "for the intermediate cores of this partition's exact spectrum" in text
    assert text.endswith(
        "(dltheory.min_cut); raise max_entries if memory allows, or bound the rank with min_cut"
    )
    with pytest.raises(ValueError, match="max_entries") as info:
        sp.schmidt_spectrum(tt, part, max_entries=0)
    assert ">= 1" in str(info.value)
    with pytest.raises(ValueError, match="this needs about"):  # 1 is allowed, only too small
        sp.schmidt_spectrum(tt, part, max_entries=1)
    with pytest.raises(TypeError, match="got int$"):
        sp.schmidt_spectrum(3, part)  # type: ignore[arg-type]


def test_modular_rank_counts_rows_and_stays_in_int64() -> None:
    tree = dt.ModeTree.balanced(4)
    tt = dt.TreeTensor.random(tree, 3, 2, seed=1, integer=True)
    core = sp._modular_core(tt, frozenset({0, 1}), 2_147_483_647)
    assert core.dtype == np.int64
    leaves = list(tt.leaf_weights)
    leaves[0] = np.array([[1, 2], [2, 4], [3, 6]], dtype=np.int64)  # rank 1
    low = dt.TreeTensor(tree, leaves, dict(tt.node_weights))
    r = dt.matricization_rank(low, (0, 2), method="modular")
    assert r == np.linalg.matrix_rank(dt.analysis.matricize(low.to_dense(), (0, 2)))


def test_modular_rank_is_exact_with_residues_near_the_prime() -> None:
    """Products of residues near p = 2^31 - 1 reach 2^62: exact only in int64, not in float64.

    The side {0, 1} has 4 states but a pooling width of 8, so its reduced core keeps
    general residues; its weight matrix has rank 1, so the exact rank is 1.
    """
    tree = dt.ModeTree.balanced(4)
    rng = np.random.default_rng(0)
    tt = dt.TreeTensor.random(tree, 2, [8, 2], seed=2, integer=True)
    big = 2**31 - 2
    leaves = [rng.integers(2**30, big, size=w.shape, dtype=np.int64) for w in tt.leaf_weights]
    nodes = {v: rng.integers(2**30, big, size=w.shape) for v, w in tt.node_weights.items()}
    inner = tree.parent(0)
    u, v = rng.integers(2**14, 2**15, size=8), rng.integers(2**14, 2**15, size=2)
    nodes[inner] = np.outer(u, v).astype(np.int64)
    low = dt.TreeTensor(tree, leaves, nodes)
    assert dt.matricization_rank(low, (0, 1), method="modular") == 1


def test_core_rank_rules() -> None:
    eps = np.finfo(np.float64).eps
    assert sp.core_rank(np.array([]), 0.0, (0, 0), None) == 0
    s = np.array([1.0, 10 * eps, 2 * eps, 0.0])
    assert sp.core_rank(s, 0.0, (4, 3), None) == 2  # above s_max * max(shape) * eps = 4 eps
    assert sp.core_rank(s, 0.0, (3, 20), None) == 1  # above 20 eps
    assert sp.core_rank(s, 0.0, (1, 1), None) == 3  # above eps
    assert sp.core_rank(s, 0.0, (4, 3), 0.0) == 3  # tol 0: every nonzero value
    # values are s * exp(log): with log = 50, 10 eps * e^50 ~ 1.2e7 > 1e7 > 2 eps * e^50
    assert sp.core_rank(s, 50.0, (4, 3), 1e7) == 2
