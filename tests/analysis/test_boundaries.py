"""Exact boundaries and messages of the small analysis helpers (partitions, measures, matricize).

Each test sits on an edge a plausible one-line change would move: an off-by-one in a
bound, ``<`` for ``<=``, a sign, a changed default, a truncated message.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import dltheory as dt
from dltheory.analysis import (
    block,
    dense_schmidt_values,
    interleaved_2d,
    left_right,
    random_partition,
)
from dltheory.analysis.measures import entanglement_entropy, geometric_measure


# ---------------------------------------------------------------- partitions
def test_partition_sizes_at_their_edges() -> None:
    assert dt.analysis.odd_even(2) == (1,) and dt.analysis.odd_even(5) == (1, 3)
    assert left_right(2) == (0,) and left_right(7) == (0, 1, 2)
    with pytest.raises(ValueError, match=r"^n: .*>= 2"):
        left_right(1)
    with pytest.raises(ValueError, match=r"^n: .*>= 2"):
        dt.analysis.odd_even(1)
    assert left_right((1, 2)) == (0,) and left_right((2, 3)) == (0, 3)
    with pytest.raises(ValueError, match=r"^n: a left/right split needs a width >= 2"):
        left_right((4, 1))


def test_interleaved_2d_edges() -> None:
    assert interleaved_2d((1, 2)) == (0,)  # two positions: the smallest bipartition
    assert interleaved_2d((3, 3)) == (0, 2, 6, 8)
    assert interleaved_2d((2, 4)) == (0, 2)
    with pytest.raises(ValueError, match=r"^shape: a bipartition needs >= 2 positions"):
        interleaved_2d((1, 1))
    with pytest.raises(ValueError, match="^shape: a 2048x2049 grid has more positions"):
        interleaved_2d((2048, 2049))
    with pytest.raises(ValueError, match="^shape"):
        interleaved_2d((0, 4))


def test_block_fits_exactly_at_the_corner_and_not_one_further() -> None:
    assert block((4, 5), (2, 3), (2, 2)) == (13, 14, 18, 19)  # touches the bottom-right corner
    assert block((4, 5), (0, 0), (4, 5)) == tuple(range(20))
    assert block((3, 3), (1, 0), (1, 3)) == (3, 4, 5)
    for top_left, size in (((3, 3), (2, 2)), ((2, 4), (2, 2)), ((0, 0), (5, 5)), ((0, 0), (4, 6))):
        with pytest.raises(ValueError, match=r"^top_left, size: block .* does not fit"):
            block((4, 5), top_left, size)
    with pytest.raises(ValueError, match="^top_left"):
        block((4, 5), (-1, 0), (1, 1))
    with pytest.raises(ValueError, match="^size"):
        block((4, 5), (0, 0), (0, 1))


def test_random_partition_default_size_and_range() -> None:
    for n in (2, 3, 9, 10):
        p = random_partition(n, seed=1)
        assert len(p) == n // 2 and len(set(p)) == len(p) and all(0 <= i < n for i in p)
        assert list(p) == sorted(p)
    assert len(random_partition(10, seed=1, size=9)) == 9
    assert random_partition(10, seed=4) == random_partition(10, seed=4)
    assert {random_partition(10, seed=s) for s in range(6)} != {random_partition(10, seed=0)}
    for bad in (0, 10):
        with pytest.raises(ValueError, match="^size"):
            random_partition(10, size=bad)
    # seed=None draws fresh entropy but still a valid partition
    assert len(random_partition(6, seed=None)) == 3


# ---------------------------------------------------------------- measures
def test_measures_on_known_spectra() -> None:
    flat = np.ones(4)
    assert entanglement_entropy(flat) == pytest.approx(math.log(4), abs=1e-15)
    assert geometric_measure(flat) == pytest.approx(0.75, abs=1e-15)
    product = np.array([3.0, 0.0, 0.0])
    assert entanglement_entropy(product) == 0.0 and geometric_measure(product) == 0.0
    s = np.array([2.0, 1.0])  # p = (0.8, 0.2): squares, not the values themselves
    assert geometric_measure(s) == pytest.approx(0.2, abs=1e-15)
    assert entanglement_entropy(s) == pytest.approx(
        -(0.8 * math.log(0.8) + 0.2 * math.log(0.2)), abs=1e-15
    )
    # scale-free: a spectrum near float64's limits gives the same numbers
    assert geometric_measure(s * 1e300) == pytest.approx(0.2, abs=1e-15)
    assert geometric_measure(s * 1e-300) == pytest.approx(0.2, abs=1e-15)
    assert entanglement_entropy([1, 1]) == pytest.approx(math.log(2))  # integers accepted


@pytest.mark.parametrize(
    ("s", "exc", "match"),
    [
        ([], ValueError, r"^s: expected a non-empty 1D spectrum, got shape \(0,\)"),
        ([[1.0, 2.0]], ValueError, r"^s: expected a non-empty 1D spectrum, got shape \(1, 2\)"),
        ([1.0, math.nan], ValueError, "^s: spectrum contains NaN or infinite values"),
        ([1.0, -1e-300], ValueError, "^s: singular values must be non-negative"),
        ([0.0, 0.0], ValueError, r"^s: the spectrum is all zeros \(the tensor is zero\)$"),
        ([1j], TypeError, "^s: expected real singular values, got complex"),
        (["a"], TypeError, "^s: expected numbers, got dtype"),
    ],
)
def test_measures_refuse_bad_spectra(s: object, exc: type, match: str) -> None:
    for f in (entanglement_entropy, geometric_measure, dt.schmidt_number):
        with pytest.raises(exc, match=match):
            f(s)  # type: ignore[operator]


def test_schmidt_number_threshold_is_strict_and_defaults_to_the_matrix_rank_rule() -> None:
    s = np.array([1.0, 0.5, 0.25, 0.0])
    assert dt.schmidt_number(s) == 3
    assert dt.schmidt_number(s, tol=0.5) == 1  # strictly greater than tol
    assert dt.schmidt_number(s, tol=0.25) == 2
    assert dt.schmidt_number(s, tol=0.0) == 3 and dt.schmidt_number(s, tol=1.0) == 0
    eps = float(np.finfo(np.float64).eps)
    default = 2.0 * 3 * eps  # max(s) * len(s) * eps
    assert dt.schmidt_number([2.0, default * 1.01, default]) == 2
    assert dt.schmidt_number([2.0, default * 0.99, default * 0.5]) == 1
    with pytest.raises(ValueError, match="^tol"):
        dt.schmidt_number(s, tol=-1e-12)


# ---------------------------------------------------------------- matricize
def test_matricize_modes_and_messages() -> None:
    a = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    m = dt.matricize(a, [3, 1])
    assert m.shape == (15, 8)
    assert m[2 * 5 + 4, 1 * 4 + 3] == a[1, 2, 3, 4]  # rows (1, 3) sorted, columns (0, 2)
    np.testing.assert_array_equal(dt.matricize(a, []), a.reshape(1, -1))
    np.testing.assert_array_equal(dt.matricize(a, range(4)), a.reshape(-1, 1))
    with pytest.raises(ValueError, match=r"^I: modes \[4, 5, 6, 7, 8\] are outside 0\.\.3$"):
        dt.matricize(a, [4, 5, 6, 7, 8, 9])
    with pytest.raises(ValueError, match=r"^I: modes \[-1\] are outside 0\.\.3$"):
        dt.matricize(a, [-1])
    with pytest.raises(ValueError, match="^I: a mode is listed twice"):
        dt.matricize(a, [1, 1])
    with pytest.raises(TypeError, match="^I: expected a collection"):
        dt.matricize(a, "01")
    with pytest.raises(ValueError, match=r"^dense: expected a non-empty tensor .* shape \(3,\)"):
        dt.matricize(np.ones(3), [0])
    with pytest.raises(ValueError, match="^dense: expected a non-empty"):
        dt.matricize(np.ones((2, 0)), [0])
    with pytest.raises(TypeError, match="^dense: expected a numeric tensor"):
        dt.matricize(np.array([["a", "b"]]), [0])
    assert dt.matricize(np.ones((2, 2), dtype=complex), [0]).dtype.kind == "c"


def test_dense_schmidt_values_against_numpy() -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2, 3, 2))
    s = dense_schmidt_values(a, [1])
    np.testing.assert_allclose(s, np.linalg.svd(a.transpose(1, 0, 2).reshape(3, 4))[1])
    assert s.dtype == np.float64 and list(s) == sorted(s, reverse=True)
    assert dense_schmidt_values(np.arange(4).reshape(2, 2), [0]).dtype == np.float64
    with pytest.raises(TypeError, match="^dense: expected a real tensor, got complex"):
        dense_schmidt_values(a * 1j, [0])
    b = a.copy()
    b[0, 0, 0] = np.inf
    with pytest.raises(ValueError, match="^dense: has NaN or infinite values"):
        dense_schmidt_values(b, [0])
