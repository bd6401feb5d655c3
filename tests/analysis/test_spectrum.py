"""Structured spectra and ranks against brute force on dense tensors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

import dltheory as dt
from dltheory.analysis import dense_schmidt_values, matricize, odd_even
from tests.strategies import exact_rank, tensors_and_partitions


def _compare(structured: np.ndarray, dense: np.ndarray) -> float:
    k = max(len(structured), len(dense))
    a = np.pad(structured, (0, k - len(structured)))
    b = np.pad(dense, (0, k - len(dense)))
    return float(np.abs(a - b).max() / max(dense[0], 1e-300))


@settings(max_examples=150, deadline=None)
@given(tensors_and_partitions())
def test_schmidt_values_match_dense_svd(case: tuple[dt.TreeTensor, tuple[int, ...]]) -> None:
    tt, part = case
    dense = dense_schmidt_values(tt.to_dense(), part)
    assert _compare(tt.schmidt_values(part), dense) <= 1e-10


@settings(max_examples=100, deadline=None)
@given(tensors_and_partitions(integer=True, max_dense=2**10))
def test_modular_rank_is_exact_rank_and_below_min_cut(
    case: tuple[dt.TreeTensor, tuple[int, ...]],
) -> None:
    tt, part = case
    modular = tt.matricization_rank(part, method="modular")
    mat = matricize(tt.to_dense(exact=True), part)
    assert modular == exact_rank(mat.tolist())
    assert modular <= tt.min_cut(part).value
    # float rank agrees wherever the spectrum has a clear gap
    s = tt.schmidt_values(part)
    lo = s[modular] if modular < len(s) else 0.0
    hi = s[modular - 1] if modular > 0 else np.inf
    if s.size and hi > 1e-6 * s[0] and lo < 1e-13 * s[0]:
        assert tt.matricization_rank(part) == modular


def test_float_rank_equals_modular_with_clear_gap() -> None:
    # balanced N = 8, M = 3, r = 2: odd/even rank 2^... = min(r,M)^(N/2) = 16; left/right <= 2
    tree = dt.ModeTree.balanced(8)
    checked = 0
    for seed in range(5):
        tt = dt.TreeTensor.random(tree, 3, 2, seed=seed, integer=True)
        for part in (odd_even(8), tuple(range(4))):
            assert tt.matricization_rank(part) == tt.matricization_rank(part, method="modular")
            checked += 1
    assert checked == 10


def test_deep_spectrum_n16_matches_dense_for_many_seeds() -> None:
    """Gaussian weights, N = 16, M = r = 2: spectra spanning ~14 orders of magnitude."""
    tree = dt.ModeTree.balanced(16)
    smallest = []
    for seed in range(20):
        tt = dt.TreeTensor.random(tree, 2, 2, seed=seed)
        dense = dense_schmidt_values(tt.to_dense(), odd_even(16))
        s = tt.schmidt_values(odd_even(16))
        assert len(s) == 256
        assert _compare(s, dense) <= 1e-10
        smallest.append(s[-1] / s[0])
    assert min(smallest) < 1e-8  # the spectra really are that wide


def test_depth_efficiency_certified() -> None:
    """COLT'16 Thm 1 at N = 16, M = r = 2: rank 2^8 for every seed, proven by the min cut."""
    tree = dt.ModeTree.balanced(16)
    part = odd_even(16)
    cut = dt.min_cut(tree, 2, part, in_dim=2)
    assert cut.value == 256
    for seed in range(20):
        tt = dt.TreeTensor.random(tree, 2, 2, seed=seed, integer=True)
        assert tt.matricization_rank(part, method="modular") == 256


def test_shallow_rank_at_most_width() -> None:
    rng = np.random.default_rng(0)
    for k in (1, 3, 5):
        tt = dt.TreeTensor.random(dt.ModeTree.flat(8), 3, k, seed=k, integer=True)
        for _ in range(6):
            part = tuple(sorted(rng.choice(8, size=int(rng.integers(1, 8)), replace=False)))
            r = tt.matricization_rank(part, method="modular")
            assert r <= k
            assert r == min(k, 3 ** len(part), 3 ** (8 - len(part)))  # generic weights


def test_square_grid_left_right_rank_at_most_top_width() -> None:
    shape = (8, 8)
    sq = dt.ModeTree.grid(shape, window=(2, 2))
    lr = dt.analysis.left_right(shape)
    inter = dt.analysis.interleaved_2d(shape)
    for seed in range(3):
        tt = dt.TreeTensor.random(sq, 2, [4, 4, 3], seed=seed, integer=True)
        assert tt.matricization_rank(lr, method="modular") <= 3
        assert tt.matricization_rank(lr) <= 3
        # interleaved partition: >= min(r0, M)^(N/4) (Cohen & Shashua ICLR'17)
        small = dt.TreeTensor.random(
            dt.ModeTree.grid((4, 4)), 2, [2, 2], seed=seed, integer=True
        )
        assert small.matricization_rank(dt.analysis.interleaved_2d((4, 4)), "modular") >= 2**4 // 4
    assert dt.min_cut(sq, [4, 4, 3], lr, in_dim=2).value == 3
    assert dt.min_cut(sq, [4, 4, 3], inter, in_dim=2).value > 3


def test_scale_1024_positions() -> None:
    shape = (32, 32)
    tree = dt.ModeTree.grid(shape, window=(2, 2))
    tt = dt.TreeTensor.random(tree, 2, 8, seed=0)
    lr = dt.analysis.left_right(shape)
    spec = tt.schmidt_spectrum(lr)
    assert np.isfinite(spec.values).all() and np.isfinite(spec.log_scale)
    assert tt.matricization_rank(lr) == 8 == tt.min_cut(lr).value
    corner = dt.analysis.block(shape, (0, 0), (4, 4))
    s = tt.schmidt_values(corner, normalized=True)
    assert abs(np.linalg.norm(s) - 1) < 1e-12
    assert tt.matricization_rank(corner) == 8 == tt.min_cut(corner).value
    big = dt.TreeTensor.random(tree, 2, 8, seed=0, integer=True)  # scale ~ e^6000
    with pytest.raises(OverflowError, match="normalized=True"):
        big.schmidt_values(lr)
    assert big.schmidt_spectrum(lr).log_scale > 1000


def test_too_wide_partition_points_to_min_cut() -> None:
    tt = dt.TreeTensor.random(dt.ModeTree.grid((32, 32)), 2, 8, seed=0)
    with pytest.raises(ValueError, match="max_entries: .*min cut"):
        tt.schmidt_values(dt.analysis.interleaved_2d((32, 32)))


def test_multi_output_and_tolerance() -> None:
    tt = dt.TreeTensor.random(dt.ModeTree.balanced(4), 2, 2, seed=0, out_dim=3)
    with pytest.raises(ValueError, match="y: the tensor has 3 outputs"):
        tt.schmidt_values([0])
    s = tt.schmidt_values([0, 2], y=1)
    np.testing.assert_allclose(s, dense_schmidt_values(tt.output(1).to_dense(), [0, 2])[: len(s)])
    assert tt.matricization_rank([0, 2], y=1, tol=s[0] * 2) == 0
    assert tt.matricization_rank([0, 2], y=1, tol=0.0) == np.count_nonzero(s > 0)


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda t: t.schmidt_values([0, 8]), ValueError, "I: positions \\[8\\]"),
        (lambda t: t.schmidt_values([]), ValueError, "I: a bipartition"),
        (lambda t: t.schmidt_values(range(8)), ValueError, "I: a bipartition"),
        (lambda t: t.matricization_rank([0], method="qr"), ValueError, "method"),
        (lambda t: t.matricization_rank([0], method="modular"), ValueError, "integer=True"),
        (lambda t: t.matricization_rank([0], tol=-1.0), ValueError, "tol"),
        (lambda t: t.schmidt_values(5), TypeError, "I: expected a collection"),
        (lambda t: dt.schmidt_values(np.ones(4), [0]), TypeError, "tensor"),
    ],
)
def test_bad_input(call, exc, match) -> None:  # type: ignore[no-untyped-def]
    tt = dt.TreeTensor.random(dt.ModeTree.balanced(8), 2, 2, seed=0)
    with pytest.raises(exc, match=match):
        call(tt)


def test_bad_prime() -> None:
    tt = dt.TreeTensor.random(dt.ModeTree.balanced(4), 2, 2, seed=0, integer=True)
    for composite in (9, 25, 49, 91, 3 * 5 * 7 * 11, 46337**2):  # odd; squares of primes too
        with pytest.raises(ValueError, match=f"prime: {composite} is not prime"):
            tt.matricization_rank([0], method="modular", prime=composite)
    for p in (3, 5, 101, 46337, 2**31 - 1):  # 46337: the largest prime below sqrt(2^31)
        assert tt.matricization_rank([0], method="modular", prime=p) <= 2
    with pytest.raises(ValueError, match="prime"):
        tt.matricization_rank([0], method="modular", prime=2**31 + 11)  # above the exact range


def test_wide_representation_network_is_analysable() -> None:
    """M = 32 descriptors, width 64: the Khatri-Rao products are compressed as they grow and
    same-side children are combined first, so no intermediate exceeds (r k) x r per side."""
    shape = (8, 8)
    tt = dt.TreeTensor.random(dt.ModeTree.grid(shape), 32, 64, seed=0, out_dim=3)
    lr = dt.analysis.left_right(shape)
    assert dt.analysis.spectrum.core_plan(tt.output(0), frozenset(lr))[2] < 2**22
    assert tt.matricization_rank(lr, y=2) == 64 == tt.min_cut(lr).value
    corner = dt.analysis.block(shape, (0, 0), (2, 2))
    assert tt.matricization_rank(corner, y=0) == 64
