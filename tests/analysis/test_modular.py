"""Exact linear algebra over Z/pZ: the prime check, row reduction, rank, the pooled product."""

from __future__ import annotations

import numpy as np
import pytest

from dltheory.analysis.modular import check_prime, mod_pool_last, rank_mod_p, rref_rows

P = 2**31 - 1  # the largest prime the exact route takes (products stay below 2^62)


def test_check_prime_refuses_even_and_out_of_range() -> None:
    for even in (4, 6, 2**30):
        with pytest.raises(ValueError, match=f"^prime: {even} is not prime"):
            check_prime(even)
    assert check_prime(3) == 3 and check_prime(P) == P and check_prime(7, "p") == 7
    with pytest.raises(ValueError) as info:
        check_prime(2**31 + 1)  # composite (3 * 715827883) but refused first by its range
    assert str(info.value) == (
        "prime: expected an integer in [3, 2147483647], got 2147483649; a prime below 2**31"
    )
    with pytest.raises(ValueError, match=r"^p: 9 is not prime"):
        check_prime(9, "p")


def test_rank_mod_p_against_exact_ranks() -> None:
    rng = np.random.default_rng(0)
    for rows, cols, k in ((5, 7, 3), (7, 5, 2), (4, 4, 4), (6, 2, 2), (1, 5, 1)):
        m = rng.integers(-9, 10, (rows, k)) @ rng.integers(-9, 10, (k, cols))
        assert rank_mod_p(m, P) == np.linalg.matrix_rank(m.astype(float)) == k
    assert rank_mod_p(np.zeros((3, 4), dtype=np.int64), 5) == 0
    # over Z/3Z, diag(2, 3) has rank 1; over the rationals 2
    assert rank_mod_p(np.array([[2, 0], [0, 3]]), 3) == 1
    assert rank_mod_p(np.array([[2, 0], [0, 3]]), 5) == 2
    # a wide matrix of rank 2: the rank counts rows of the echelon form, not columns
    assert rank_mod_p(np.array([[1, 0, 0, 0, 0], [0, 1, 0, 0, 0]]), 7) == 2


def test_rank_mod_p_refuses_floats_and_non_matrices() -> None:
    with pytest.raises(TypeError, match=r"^mat: expected an integer matrix, got dtype float64$"):
        rank_mod_p(np.ones((2, 2)), 5)
    with pytest.raises(ValueError, match=r"^mat: expected a matrix, got shape \(3,\)$"):
        rank_mod_p(np.ones(3, dtype=np.int64), 5)
    with pytest.raises(ValueError, match=r"^p: 15 is not prime"):
        rank_mod_p(np.ones((2, 2), dtype=np.int64), 15)


def test_rref_rows_reduces_int32_input_exactly() -> None:
    big = np.array([[2**30, 3], [5, 2**30 - 7], [2**30 + 5, 2**30 - 4]], dtype=np.int64)
    ref = rref_rows(big, P)
    assert ref.dtype == np.int64 and ref.shape == (2, 2)
    small = np.array([[40000, 3], [5, 40000]], dtype=np.int32)  # products overflow int32
    assert rref_rows(small, P).shape == (2, 2)
    np.testing.assert_array_equal(rref_rows(small, P), rref_rows(small.astype(np.int64), P))


def test_mod_pool_last_is_the_exact_pooled_product() -> None:
    rng = np.random.default_rng(1)
    head = rng.integers(0, P, (2, 3, 4), dtype=np.int64)
    last = rng.integers(0, P, (3, 2, 4), dtype=np.int64)
    w = rng.integers(0, P, (4, 5), dtype=np.int64)
    out = mod_pool_last(head, last, w, P)
    assert out.dtype == np.int64 and out.shape == (6, 6, 5)
    exact = np.einsum(
        "abr,cdr,rg->acbdg", head.astype(object), last.astype(object), w.astype(object)
    )
    np.testing.assert_array_equal(out, (exact % P).reshape(6, 6, 5).astype(np.int64))
