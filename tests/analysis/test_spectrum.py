"""Structured spectra and ranks against brute force on dense tensors."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dltheory as dt
from dltheory.analysis import Spectrum, cores, dense_schmidt_values, matricize, odd_even
from tests.strategies import exact_rank, mode_trees, tensors_and_partitions


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
    assert _compare(tt.schmidt_values(part, normalized=False), dense) <= 1e-10


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
        s = tt.schmidt_values(odd_even(16), normalized=False)
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
        small = dt.TreeTensor.random(dt.ModeTree.grid((4, 4)), 2, [2, 2], seed=seed, integer=True)
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
    too_big = r"normalized: .*exp\(6\d{3}\.\d\d\) \(log scale 6.*schmidt_spectrum"
    with pytest.raises(ValueError, match=too_big):
        big.schmidt_values(lr, normalized=False)
    assert big.schmidt_spectrum(lr).log_scale > 1000
    s = big.schmidt_values(lr)  # the default: representable at any scale
    assert abs(np.linalg.norm(s) - 1) < 1e-12 and len(s) == 8


def test_too_wide_partition_points_to_min_cut() -> None:
    tt = dt.TreeTensor.random(dt.ModeTree.grid((32, 32)), 2, 8, seed=0)
    with pytest.raises(ValueError, match="max_entries: .*min cut"):
        tt.schmidt_values(dt.analysis.interleaved_2d((32, 32)))


def test_multi_output_and_tolerance() -> None:
    tt = dt.TreeTensor.random(dt.ModeTree.balanced(4), 2, 2, seed=0, out_dim=3)
    with pytest.raises(ValueError, match="y: the tensor has 3 outputs"):
        tt.schmidt_values([0])
    s = tt.schmidt_values([0, 2], y=1, normalized=False)
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
        (lambda t: t.schmidt_values([0], normalized="yes"), TypeError, "normalized: expected"),
        (lambda t: t.schmidt_values([0], normalized=None), TypeError, "normalized: expected"),
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


# ---------------------------------------------------------------- the Gram route

ORTHOGONAL = 2**62  # a gram_min_width that keeps every group on the orthogonal route


def _route(
    tt: dt.TreeTensor, part: tuple[int, ...], least: int
) -> tuple[np.ndarray, float, cores.CoreStats]:
    stats = cores.CoreStats()
    with cores.kernel_threads(cores.core_plan(tt, frozenset(part))[2], tt.tree.num_nodes):
        core, log = cores.float_core(tt, frozenset(part), stats=stats, gram_min_width=least)
        return cores.root_values(core, stats), log, stats


@st.composite
def wide_nets(draw: Any) -> tuple[dt.TreeTensor, tuple[int, ...]]:
    """Trees of up to 12 leaves with widths up to 9: groups taller than twice their width."""
    tree = draw(mode_trees(max_leaves=10))
    n = tree.num_leaves
    m = draw(st.integers(2, 3)) if n <= 7 else 2
    widths = {v: draw(st.integers(1, 9)) for v in tree.internal_nodes}
    tt = dt.TreeTensor.random(tree, m, widths, seed=draw(st.integers(0, 2**16)))
    part = draw(st.sets(st.integers(0, n - 1), min_size=1, max_size=n - 1))
    return tt, tuple(sorted(part))


@settings(max_examples=150, deadline=None)
@given(wide_nets())
def test_gram_route_matches_dense_and_orthogonal_route(
    case: tuple[dt.TreeTensor, tuple[int, ...]],
) -> None:
    tt, part = case
    fast, log_fast, _ = _route(tt, part, 1)  # the Gram route wherever a group qualifies
    slow, log_slow, plain = _route(tt, part, ORTHOGONAL)
    assert plain.gram_groups == 0
    dense = dense_schmidt_values(tt.to_dense(), part)
    assert _compare(fast * math.exp(log_fast), dense) <= 1e-10
    assert len(fast) == len(slow)
    assert _compare(fast * math.exp(log_fast - log_slow), slow) <= 1e-10


def test_gram_route_is_taken_on_random_nets_and_is_exact() -> None:
    """Fixed draws where every qualifying group is well conditioned: no fallback, dense agrees."""
    taken = 0
    for seed in range(8):
        tt = dt.TreeTensor.random(dt.ModeTree.from_nested([[0, 1, 2], [3, 4, 5]]), 3, 5, seed=seed)
        for part in ((0, 1, 2), (0, 3), (1,)):
            fast, log, stats = _route(tt, part, 1)
            assert stats.fallbacks == 0
            taken += stats.gram_groups
            dense = dense_schmidt_values(tt.to_dense(), part)
            assert _compare(fast * math.exp(log), dense) <= 1e-12
    # per draw: both pure nodes for (0, 1, 2), the pure node (3, 4, 5) for (1,); none for
    # (0, 3), whose two-leaf groups are no taller than twice their width (3 * 3 <= 2 * 5)
    assert taken == 8 * 3


@pytest.mark.parametrize("name", ["top/bottom", "left/right", "corner", "random"])
def test_wide_grid_fast_route_agrees_with_orthogonal(name: str) -> None:
    """32x32 grid at breadth 16 (8x8 for the partitions that cut deep): the default route
    takes the Gram route for every same-side group, at a fraction of the orthogonal flops."""
    shape = (32, 32) if name in ("top/bottom", "left/right") else (8, 8)
    tt = dt.TreeTensor.random(dt.ModeTree.grid(shape), 2, 16, seed=3)
    n = shape[0] * shape[1]
    part = {
        "top/bottom": tuple(range(n // 2)),
        "left/right": dt.analysis.left_right(shape),
        "corner": dt.analysis.block(shape, (0, 0), (4, 4)),
        "random": dt.analysis.random_partition(n, seed=1, size=3),
    }[name]
    fast, log_fast, stats = _route(tt, part, cores.GRAM_MIN_WIDTH)
    slow, log_slow, plain = _route(tt, part, ORTHOGONAL)
    assert stats.gram_groups > 0 and stats.fallbacks == 0
    assert abs(log_fast - log_slow) <= 1e-12 * abs(log_slow) + 1e-12
    assert _compare(fast * math.exp(log_fast - log_slow), slow) <= 1e-12
    if shape == (32, 32):
        assert stats.gram_groups == 86  # 64 + 16 + 4 pure nodes and the root's two groups
        assert stats.flops < plain.flops / 5
        assert stats.gram_error < 1e-11
    spec = tt.schmidt_spectrum(part)  # the public route is this one (on one BLAS thread)
    np.testing.assert_allclose(spec.values, fast, rtol=1e-13, atol=1e-15)
    assert spec.log_scale == pytest.approx(log_fast, rel=1e-14)


def _difference_channel_net(delta: float, seed: int) -> dt.TreeTensor:
    """Leaves whose channels 0 and 1 differ by ``delta``, and nodes that output exactly that
    difference: the pooled groups have correlation matrices with lambda_min ~ delta^2."""
    tree = dt.ModeTree.from_nested([[0, 1, 2, 3], [4, 5, 6, 7]])
    rng = np.random.default_rng(seed)
    r = 6
    leaves = []
    for _ in range(8):
        a = rng.standard_normal((2, r))
        a[:, 1] = a[:, 0] + delta * rng.standard_normal(2)
        leaves.append(a)
    nodes = {}
    for v in tree.internal_nodes:
        w = rng.standard_normal((r, r))
        if delta > 0.0:  # (for delta = 0 the difference vanishes: keep W generic)
            w *= delta**2
            w[:, 0] = 0.0
            w[0, 0], w[1, 0] = 1.0, -1.0
        nodes[v] = w
    nodes[tree.root] = rng.standard_normal((r, 1))
    return dt.TreeTensor(tree, leaves, nodes)


@pytest.mark.parametrize("delta", [1e-4, 0.0])
def test_ill_conditioned_groups_fall_back_to_the_orthogonal_route(delta: float) -> None:
    """Squaring the condition number here would cost ~3e-8 of the largest value (measured);
    the condition estimate sends these groups down the orthogonal route instead."""
    for seed in range(4):
        tt = _difference_channel_net(delta, seed)
        part = (0, 1, 2, 3)
        fast, log, stats = _route(tt, part, 1)
        assert stats.fallbacks == 2 and stats.gram_groups == 0
        dense = dense_schmidt_values(tt.to_dense(), part)
        assert _compare(fast * math.exp(log), dense) <= 1e-10


def test_dead_channel_falls_back() -> None:
    tt = dt.TreeTensor.random(dt.ModeTree.from_nested([[0, 1, 2], [3, 4, 5]]), 3, 5, seed=0)
    leaves = [a.copy() for a in tt.leaf_weights]
    leaves[0][:, 2] = 0.0  # channel 2 of the first group is identically zero
    dead = dt.TreeTensor(tt.tree, leaves, tt.node_weights)
    fast, log, stats = _route(dead, (0, 1, 2), 1)
    assert stats.fallbacks == 1 and stats.gram_groups == 1
    assert _compare(fast * math.exp(log), dense_schmidt_values(dead.to_dense(), (0, 1, 2))) < 1e-12


def test_products_of_hundreds_of_factors_keep_their_scale() -> None:
    """A flat tree (CP) over 1200 positions: the root's two groups each multiply 600 Grams
    (Gram route) or 600 leaf factors (orthogonal route), whose entries would fall below
    1e-300 without rescaling as they grow."""
    tt = dt.TreeTensor.random(dt.ModeTree.flat(1200), 2, 16, seed=0)
    part = tuple(range(0, 1200, 2))
    fast, log_fast, stats = _route(tt, part, cores.GRAM_MIN_WIDTH)
    slow, log_slow, _ = _route(tt, part, ORTHOGONAL)
    assert stats.gram_groups == 2
    assert abs(np.linalg.norm(fast) - 1) < 1e-12 and abs(np.linalg.norm(slow) - 1) < 1e-12
    assert abs(log_fast - log_slow) <= 1e-12 * abs(log_slow)
    assert _compare(fast, slow) <= 1e-12


def test_plan_and_fallback_sizes() -> None:
    """The plan counts the Gram route's r x r matrices (the modular route keeps the orthogonal
    plan); a fallback checks its own, larger, size before allocating it."""
    tree = dt.ModeTree.balanced(16)
    tt = dt.TreeTensor.random(tree, 2, 16, seed=0, integer=True)
    lr = frozenset(range(8))
    assert cores.core_plan(tt, lr)[2] == 16 * 16  # the Grams (and 16 x 16 products below)
    assert cores.core_plan(tt, lr, gram=False)[2] == 256 * 16  # the 256 x 16 Khatri-Rao
    assert tt.matricization_rank(lr, max_entries=256) == 16
    with pytest.raises(ValueError, match="max_entries: .*min cut 16"):
        tt.matricization_rank(lr, method="modular", max_entries=4095)
    assert tt.matricization_rank(lr, method="modular", max_entries=4096) == 16
    # duplicate channels in the level-2 weights: singular Grams, so the fallback is needed
    nodes = {v: w.astype(float) for v, w in tt.node_weights.items()}
    for v in tree.internal_nodes:
        if tree.height(v) == 2:
            nodes[v][:, 1] = nodes[v][:, 0]
    twin = dt.TreeTensor(tree, tt.leaf_weights, nodes)
    with pytest.raises(ValueError, match="max_entries: this needs about 4.1e\\+03 entries"):
        twin.schmidt_spectrum(lr, max_entries=4095)
    s = twin.schmidt_values(lr, normalized=False, max_entries=4096)
    assert _compare(s, dense_schmidt_values(twin.to_dense(), lr)) <= 1e-10


# ---------------------------------------------------------------- scale and the API


def test_schmidt_values_default_is_normalized() -> None:
    tt = dt.TreeTensor.random(dt.ModeTree.balanced(8), 2, 3, seed=0)
    absolute = tt.schmidt_values([0, 1, 2, 3], normalized=False)
    np.testing.assert_allclose(absolute, dense_schmidt_values(tt.to_dense(), [0, 1, 2, 3])[:3])
    default = tt.schmidt_values([0, 1, 2, 3])
    np.testing.assert_allclose(default, absolute / np.linalg.norm(absolute), rtol=1e-14)
    np.testing.assert_array_equal(default, dt.schmidt_values(tt, [0, 1, 2, 3], normalized=True))


def test_underflowing_values_refused_with_the_scale() -> None:
    shape = (32, 32)
    unit = dt.TreeTensor.random(dt.ModeTree.grid(shape), 2, 2, seed=0, scale="fan-in")
    tiny = dt.TreeTensor(unit.tree, [a * 0.01 for a in unit.leaf_weights], unit.node_weights)
    spec = tiny.schmidt_spectrum(dt.analysis.left_right(shape))
    assert spec.log_largest() == pytest.approx(
        unit.schmidt_spectrum(dt.analysis.left_right(shape)).log_largest() + 1024 * math.log(0.01)
    )  # ~ exp(-4973): far below the smallest normal float
    with pytest.raises(ValueError, match=r"normalized: .*exp\(-\d+\.\d\d\).*normalized=True"):
        tiny.schmidt_values(dt.analysis.left_right(shape), normalized=False)
    with pytest.raises(ValueError, match="log_scale: .*outside float64"):
        spec.absolute()
    assert abs(np.linalg.norm(spec.normalized()) - 1) < 1e-12


def test_spectrum_absolute_at_the_edges_of_float64() -> None:
    near = Spectrum(values=np.array([0.5, 0.25]), log_scale=709.9)  # exp(709.9) alone overflows
    expected = np.array([0.5, 0.25]) * math.exp(709.0) * math.exp(0.9)
    assert np.isfinite(expected).all()
    np.testing.assert_allclose(near.absolute(), expected, rtol=1e-13)
    with pytest.raises(ValueError, match="log_scale"):
        Spectrum(values=np.array([1.0]), log_scale=710.0).absolute()
    low = Spectrum(values=np.array([1.0, 1e-10]), log_scale=-700.0)
    np.testing.assert_allclose(low.absolute(), [math.exp(-700.0), math.exp(-700.0) * 1e-10])
    zero = Spectrum(values=np.zeros(3), log_scale=5000.0)
    np.testing.assert_array_equal(zero.absolute(), np.zeros(3))
    assert zero.log_largest() == -math.inf


def test_kernel_threads_serializes_small_recursions_only() -> None:
    from threadpoolctl import threadpool_info

    def blas_threads() -> list[int]:  # the BLAS of numpy and scipy, which the recursion calls
        libs = [i for i in threadpool_info() if i["user_api"] == "blas"]
        return [
            i["num_threads"] for i in libs if "numpy" in i["filepath"] or "scipy" in i["filepath"]
        ]

    before = blas_threads()
    if not before:
        pytest.skip("threadpoolctl sees no BLAS")
    with cores.kernel_threads(cores.SERIAL_ENTRIES, 1):
        assert set(blas_threads()) == {1}
    assert blas_threads() == before
    with cores.kernel_threads(256, 256):  # the 32x32 grid at breadth 16: 2047 nodes
        assert set(blas_threads()) == {1}
    for big, nodes in ((cores.SERIAL_ENTRIES + 1, 1), (256, 255)):  # huge or tiny
        with cores.kernel_threads(big, nodes):
            assert blas_threads() == before


def test_extreme_weight_scales() -> None:
    """Leaves at 1e-200 and 1e+200: their squared norms under- and overflow, the spectrum not."""
    tt = dt.TreeTensor.random(dt.ModeTree.balanced(8), 2, 3, seed=0)
    leaves = [a.copy() for a in tt.leaf_weights]
    leaves[0] *= 1e-200
    leaves[5] *= 1e200
    wild = dt.TreeTensor(tt.tree, leaves, tt.node_weights)
    for part in ((0, 1, 2, 3), (0, 5), (1, 2)):
        s = wild.schmidt_values(part, normalized=False)
        assert _compare(s, dense_schmidt_values(wild.to_dense(), part)) <= 1e-12
        assert _compare(s, tt.schmidt_values(part, normalized=False)) <= 1e-12
