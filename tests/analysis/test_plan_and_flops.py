"""The recursion's plan (routes and sizes) and its flop model, kernel by kernel.

``CoreStats.flops`` feeds ``benchmarks/bench_schmidt.py``'s "fraction of the
matmul rate": each kernel must count the textbook operations of what it runs
(Golub & Van Loan, *Matrix Computations*, 4th ed.: Householder QR ``2mn^2 -
2n^3/3``, Cholesky ``n^3/3``, singular values ``4mn^2 - 4n^3/3``, a product
``2mnk``), so these tests state the counts independently, on shapes where each
branch is taken.  The plan's route decisions are pinned at their boundaries.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import dltheory as dt
from dltheory.analysis import cores, gram, plan

RNG = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _fresh_rng() -> None:
    """Every test draws the same numbers whichever tests ran before (mutmut runs subsets)."""
    global RNG
    RNG = np.random.default_rng(0)


def _stats() -> cores.CoreStats:
    return cores.CoreStats()


# ------------------------------------------------------------------ the plan


@pytest.mark.parametrize(
    ("ranks", "width", "least", "expected"),
    [
        ([8], 4, 1, False),  # one child: nothing to combine
        ([9], 4, 1, False),  # one child, even though 9 > 2 * 4
        ([3, 3], 4, 1, True),  # 9 > 2 * 4
        ([2, 4], 4, 1, False),  # 8 == 2 * 4: not taller than twice the width
        ([3, 3], 4, 4, True),  # width == least qualifies
        ([3, 3], 4, 5, False),  # width < least does not
        ([2, 2, 3], 5, 1, True),  # 12 > 10: three children multiply
        ([16, 16], 16, plan.GRAM_MIN_WIDTH, True),  # the default threshold
        ([16, 16], 15, plan.GRAM_MIN_WIDTH, False),
    ],
)
def test_gram_worthy_boundaries(ranks: list[int], width: int, least: int, expected: bool) -> None:
    assert plan.gram_worthy(ranks, width, least) is expected


def test_gram_worthy_default_threshold() -> None:
    assert plan.GRAM_MIN_WIDTH == 16
    assert plan.gram_worthy([16, 16], 16) and not plan.gram_worthy([15, 15], 15)


@pytest.mark.parametrize(
    ("a", "b", "r", "expected"),
    [(5, 2, 2, (4, 2)), (2, 5, 2, (2, 4)), (3, 3, 1, (3, 3)), (9, 1, 2, (2, 1)), (1, 9, 3, (1, 3))],
)
def test_compressed(a: int, b: int, r: int, expected: tuple[int, int]) -> None:
    assert plan.compressed(a, b, r) == expected


def test_node_sides_and_grouping() -> None:
    tree = dt.ModeTree.from_nested([[0, 1], [2, 3], [4, [5, 6]]])
    tt = dt.TreeTensor.random(tree, 2, 2, seed=0)
    sides = plan.node_sides(tt, frozenset({0, 1, 4}))
    assert sides[:7] == [plan.I_SIDE] * 2 + [plan.J_SIDE] * 2 + [plan.I_SIDE] + [plan.J_SIDE] * 2
    by_leaves = {tree.leaves(v): sides[v] for v in tree.internal_nodes}
    assert by_leaves[(0, 1)] == plan.I_SIDE and by_leaves[(2, 3)] == plan.J_SIDE
    assert by_leaves[(5, 6)] == plan.J_SIDE and by_leaves[(4, 5, 6)] == plan.MIXED
    assert by_leaves[tuple(range(7))] == plan.MIXED
    kids = [("i1", plan.I_SIDE), ("m1", plan.MIXED), ("j1", plan.J_SIDE), ("i2", plan.I_SIDE)]
    kids.append(("m2", plan.MIXED))
    assert plan.grouped(kids) == [
        (["i1", "i2"], plan.I_SIDE),
        (["m1"], plan.MIXED),
        (["m2"], plan.MIXED),
        (["j1"], plan.J_SIDE),
    ]
    assert plan.grouped([("j", plan.J_SIDE)]) == [(["j"], plan.J_SIDE)]
    assert plan.grouped([("i", plan.I_SIDE)]) == [(["i"], plan.I_SIDE)]


def test_links_read_out_widths() -> None:
    tree = dt.ModeTree.balanced(4)
    tt = dt.TreeTensor.random(tree, 3, {4: 2, 5: 5, 6: 7}, seed=0, out_dim=4)
    ln = plan.links(tt)
    assert ln.children == {v: tree.children(v) for v in tree.internal_nodes}
    assert ln.out == [2, 2, 5, 5, 7, 7, 4]


@pytest.mark.parametrize(
    ("n", "r", "part", "gram_on", "expected"),
    [
        # balanced(8), M = 2, r = 4 (< GRAM_MIN_WIDTH: orthogonal), left/right: the level-2
        # pure nodes form a 16 x 1 x 4 Khatri-Rao product, compressed to (4, 1); the root
        # joins (4, 1) and (1, 4)
        (8, 4, range(4), True, (4, 4, 64)),
        # odd/even: every node mixed, (2, 2) -> (4, 4) -> (16, 16): the root's 16 x 16 x 1
        (8, 4, range(0, 8, 2), True, (16, 16, 256)),
        # balanced(16), r = 16: groups of two 16-wide children qualify (256 > 32): Grams 16^2
        (16, 16, range(8), True, (16, 16, 256)),
        (16, 16, range(8), False, (16, 16, 4096)),
    ],
)
def test_core_plan_sizes(
    n: int, r: int, part: range, gram_on: bool, expected: tuple[int, int, int]
) -> None:
    tt = dt.TreeTensor.random(dt.ModeTree.balanced(n), 2, r, seed=0)
    assert plan.core_plan(tt, frozenset(part), gram=gram_on) == expected


@pytest.mark.parametrize(
    ("nested", "widths", "part", "least", "expected"),
    [
        # three mixed (2, 2) children under a root of width 8: the pair of the first two is the
        # largest intermediate, 4 * 4 * 8 = 128, compressed to (4, 4); the root is (8, 8)
        ([[0, 1], [2, 3], [4, 5]], {6: 2, 7: 2, 8: 2, 9: 8}, (0, 2, 4), 1, (8, 8, 128)),
        # flat(6), M = 3, r = 2: an I-group of four leaves on the Gram route is (2, 1); the J-pair
        # (1, 2) x (1, 2) = 1 * 4 * 2 = 8 entries, compressed to (1, 2)
        ("flat6", 2, (0, 1, 2, 3), 1, (2, 2, 8)),
        ("flat6", 2, (0, 1, 2, 3), 10**9, (2, 2, 8)),
        # one I leaf against a Gram J-group of five: (2, 1) and (1, 2), largest the 2 x 2 Gram
        ("flat6", 2, (0,), 1, (2, 2, 4)),
        ("flat6", 2, (0,), 10**9, (2, 2, 8)),
    ],
)
def test_core_plan_groups_inside_mixed_nodes(
    nested: object, widths: object, part: tuple[int, ...], least: int, expected: tuple
) -> None:
    tree = dt.ModeTree.flat(6) if nested == "flat6" else dt.ModeTree.from_nested(nested)
    tt = dt.TreeTensor.random(tree, 3 if nested == "flat6" else 2, widths, seed=0)  # type: ignore[arg-type]
    assert plan.core_plan(tt, frozenset(part), gram_min_width=least) == expected


def test_core_plan_gram_min_width_switches_route() -> None:
    tt = dt.TreeTensor.random(dt.ModeTree.balanced(16), 2, 16, seed=0)
    lr = frozenset(range(8))
    assert plan.core_plan(tt, lr, gram_min_width=16)[2] == 256
    assert plan.core_plan(tt, lr, gram_min_width=17)[2] == 4096
    assert plan.core_plan(tt, lr, gram_min_width=None) == plan.core_plan(tt, lr)


# ------------------------------------------------------------- the flop model


def test_qr_compress_counts_householder_on_each_tall_side() -> None:
    st = _stats()
    out = cores._qr_compress(RNG.standard_normal((12, 2, 3)), st)  # 12 > 2*3: QR of 12 x 6
    assert out.shape == (6, 2, 3)
    assert st.flops == 2.0 * 12 * 36 - 2.0 * 216 / 3
    st = _stats()
    out = cores._qr_compress(RNG.standard_normal((1, 7, 2)), st)  # b = 7 > 1*2: QR of 7 x 2
    assert out.shape == (1, 2, 2)
    assert st.flops == 2.0 * 7 * 4 - 2.0 * 8 / 3
    st = _stats()
    core = RNG.standard_normal((3, 2, 3))  # 3 <= 6 and 2 <= 9: untouched, free
    np.testing.assert_array_equal(cores._qr_compress(core, st), core)
    assert st.flops == 0.0
    st = _stats()
    assert cores._qr_compress(RNG.standard_normal((6, 2, 3)), st).shape == (6, 2, 3)  # 6 == 6
    assert st.flops == 0.0


def test_qr_compress_keeps_the_singular_values() -> None:
    core = RNG.standard_normal((12, 9, 2))
    out = cores._qr_compress(core, _stats())
    assert out.shape == (12, 9, 2)  # 12 <= 18, 9 <= 24: nothing to compress
    core = RNG.standard_normal((20, 3, 2))
    out = cores._qr_compress(core, _stats())
    assert out.shape == (6, 3, 2)
    for k in range(2):
        np.testing.assert_allclose(
            np.linalg.svd(out[:, :, k], compute_uv=False),
            np.linalg.svd(core[:, :, k], compute_uv=False),
            rtol=1e-12,
        )


def test_unit_counts_and_rescales() -> None:
    st = _stats()
    x = np.full((2, 3, 4), 2.0)
    y, log = cores._unit(x, st)
    assert st.flops == 2.0 * 24
    assert np.linalg.norm(y) == pytest.approx(1.0, abs=1e-15)
    assert log == pytest.approx(math.log(2.0 * math.sqrt(24)), abs=1e-15)
    tiny, log = cores._unit(np.full(4, 1e-200), _stats())  # squares underflow
    np.testing.assert_allclose(tiny, np.full(4, 0.5), rtol=1e-15)
    assert log == pytest.approx(math.log(2e-200), rel=1e-14)
    huge, log = cores._unit(np.full(4, 1e200), _stats())  # squares overflow
    np.testing.assert_allclose(huge, np.full(4, 0.5), rtol=1e-15)
    assert log == pytest.approx(math.log(2e200), rel=1e-14)
    zero = np.zeros(3)
    out, log = cores._unit(zero, _stats())
    assert log == 0.0 and not out.any()
    empty, log = cores._unit(np.zeros((0, 2)), _stats())
    assert empty.shape == (0, 2) and log == 0.0


def test_kr_pair_counts_the_product_then_compresses() -> None:
    st = _stats()
    p, q = RNG.standard_normal((2, 2, 3)), RNG.standard_normal((5, 1, 3))
    out = cores._kr_pair(p, q, st)  # (10, 2, 3): 10 > 2*3, so one QR of 10 x 6
    assert out.shape == (6, 2, 3)
    assert st.flops == 2 * 5 * 2 * 1 * 3 + (2.0 * 10 * 36 - 2.0 * 216 / 3)
    st2 = _stats()
    wide = cores._kr_pair(p, RNG.standard_normal((5, 3, 3)), st2)  # (10, 6, 3): not tall
    assert wide.shape == (10, 6, 3) and st2.flops == 2 * 5 * 2 * 3 * 3
    full = (p[:, None, :, None, :] * q[None, :, None, :, :]).reshape(10, 2, 3)
    np.testing.assert_allclose(
        np.linalg.svd(out.reshape(6, 6), compute_uv=False),
        np.linalg.svd(full.reshape(10, 6), compute_uv=False),
        rtol=1e-12,
    )


def test_contract_counts_and_matches_einsum() -> None:
    a, b, c = (RNG.standard_normal(s) for s in ((2, 1, 3), (1, 2, 3), (2, 2, 3)))
    w = RNG.standard_normal((3, 4))
    st = _stats()
    out, log = cores._contract([a, b], w, st)
    expected = np.einsum("ijr,klr,rg->ikjlg", a, b, w).reshape(2, 2, 4)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-14)
    assert log == 0.0
    assert st.flops == 2 * 1 * 3 * 4 + 2.0 * 2 * 1 * 4 * 3 * 1 * 2
    st = _stats()
    out, _ = cores._contract([a], w, st)  # one group: the head is all ones
    np.testing.assert_allclose(out, np.einsum("ijr,rg->ijg", a, w), rtol=1e-12)
    assert st.flops == 1 * 1 * 3 * 4 + 2.0 * 1 * 1 * 4 * 3 * 2 * 1
    st = _stats()
    out, _ = cores._contract([a, b, c], w, st)  # the middle group goes through _kr_pair
    full = np.einsum("ijr,klr,mnr,rg->ikmjlng", a, b, c, w).reshape(4, 4, 4)
    assert out.shape == (4, 4, 4)  # a (x) b is (2, 2, 3): not tall, so not compressed
    np.testing.assert_allclose(out, full, rtol=1e-12, atol=1e-14)


def test_contract_rescales_every_eighth_factor() -> None:
    groups = [np.full((1, 1, 2), 10.0) for _ in range(11)]
    w = np.ones((2, 1))
    out, log = cores._contract(groups, w, _stats())
    # 10^11 per channel, 2 channels: the value 2e11 = exp(log) * out, with out normalized once
    assert float(out.ravel()[0]) * math.exp(log) == pytest.approx(2e11, rel=1e-12)
    assert log > 0.0  # the product of 9 factors was rescaled (after the 8th)
    out, log = cores._contract(groups[:9], w, _stats())  # 7 middle factors: no rescaling
    assert log == 0.0 and float(out.ravel()[0]) == pytest.approx(2e9, rel=1e-12)


def test_pure_product_counts_and_rescales() -> None:
    c1, c2 = RNG.standard_normal((2, 1, 3)), RNG.standard_normal((4, 1, 3))
    st = _stats()
    p, log = cores._pure_product([c1, c2], st)  # 8 x 3 product, taller than 3: QR
    assert p.shape == (3, 3) and log == 0.0
    assert st.flops == 2 * 4 * 3 + (2.0 * 8 * 9 - 2.0 * 27 / 3)
    np.testing.assert_allclose(
        np.linalg.svd(p, compute_uv=False),
        np.linalg.svd((c1.reshape(2, 1, 3) * c2.reshape(1, 4, 3)).reshape(8, 3), compute_uv=False),
        rtol=1e-12,
    )
    st = _stats()
    p, _ = cores._pure_product([c1[:1], c2[:1]], st)  # 1 x 3: no QR
    assert p.shape == (1, 3) and st.flops == 3.0
    st = _stats()
    p, _ = cores._pure_product([c1[:1], c2[:3]], st)  # 3 x 3 = r rows: square, no QR
    assert p.shape == (3, 3) and st.flops == 9.0
    factors = [np.full((1, 1, 1), 10.0) for _ in range(10)]
    p, log = cores._pure_product(factors, _stats())
    assert float(p[0, 0]) * math.exp(log) == pytest.approx(1e10, rel=1e-12)
    assert log == pytest.approx(math.log(1e9), rel=1e-12)  # rescaled once, after 9 factors


def test_root_values_count_the_bidiagonalization() -> None:
    st = cores.CoreStats()
    core = RNG.standard_normal((5, 3))
    s = cores.root_values(core, st)
    np.testing.assert_allclose(s, np.linalg.svd(core, compute_uv=False), rtol=1e-14)
    assert st.flops == 4.0 * 5 * 9 - 4.0 * 27 / 3
    st = cores.CoreStats()
    cores.root_values(core.T, st)  # the same count either way round
    assert st.flops == 4.0 * 5 * 9 - 4.0 * 27 / 3
    st = cores.CoreStats()
    assert cores.root_values(np.zeros((0, 3)), st).shape == (0,) and st.flops == 0.0
    assert cores.root_values(core).shape == (3,)  # stats optional


def test_gram_factor_counts_and_is_the_group_factor() -> None:
    f1, f2 = RNG.standard_normal((5, 1, 3)), RNG.standard_normal((1, 4, 3))
    st = _stats()
    found = gram.gram_factor([f1, f2], [0.5, -0.25], st)
    assert found is not None
    chol, log = found
    g = (f1.reshape(5, 3).T @ f1.reshape(5, 3)) * (f2.reshape(4, 3).T @ f2.reshape(4, 3))
    np.testing.assert_allclose(chol.T @ chol * math.exp(2 * (log - 0.25)), g, rtol=1e-12)
    assert np.allclose(np.tril(chol, -1), 0.0)
    assert st.gram_groups == 1 and 0.0 < st.gram_error <= gram.GRAM_TOL
    syrk = 5 * 3 * 4 + 4 * 3 * 4 + 9  # two syrk's and one Hadamard product
    assert st.flops == syrk + 27 / 3.0 + 3.0 * 9
    # a dead channel (an all-zero column) or a dead child: no Gram route
    dead = f1.copy()
    dead[..., 1] = 0.0
    st = _stats()
    assert gram.gram_factor([dead, f2], [0.0, 0.0], st) is None
    assert st.gram_groups == 0 and st.gram_error == 0.0
    assert gram.gram_factor([np.zeros((2, 1, 3)), f2], [0.0, 0.0], _stats()) is None
    # twin channels: singular, refused
    twin = f1.copy()
    twin[..., 2] = twin[..., 0]
    assert gram.gram_factor([twin, twin], [0.0, 0.0], _stats()) is None


def _correlation(factors: list[np.ndarray]) -> np.ndarray:
    r = factors[0].shape[-1]
    h = np.ones((r, r))
    for f in factors:
        g = f.reshape(-1, r)
        h = h * (g.T @ g)
    d = np.sqrt(np.diagonal(h))
    return h / np.outer(d, d)


@pytest.mark.parametrize("r", [1, 2, 5, 12])
def test_gram_error_is_the_stated_bound(r: int) -> None:
    """``4 r eps / lam`` with ``lam = 1/est`` and ``est`` dpocon's estimate of ``||C^-1||_1``.

    For the symmetric ``C^-1``, ``1/lambda_min = ||C^-1||_2 <= ||C^-1||_1 <= sqrt(r) ||C^-1||_2``
    and the estimate is a lower bound on the norm, within a small factor (Hager-Higham; 3 is
    generous): so ``exact / 3 <= err <= sqrt(r) exact`` with ``exact = 4 r eps / lambda_min``."""
    rng = np.random.default_rng(r)
    factors = [rng.standard_normal((r + 3, 1, r)), rng.standard_normal((1, r + 2, r))]
    st = _stats()
    assert gram.gram_factor(factors, [0.0, 0.0], st) is not None
    lam_min = float(np.linalg.eigvalsh(_correlation(factors)).min())
    eps = float(np.finfo(float).eps)
    exact = 4.0 * r * eps / lam_min
    assert exact / 3 <= st.gram_error <= exact * math.sqrt(r) * (1 + 1e-9)
    if r == 1:
        assert st.gram_error == pytest.approx(4 * eps, rel=1e-12, abs=0)  # C = [1]
    # a second group adds its bound
    before = st.gram_error
    assert gram.gram_factor(factors[::-1], [0.0, 0.0], st) is not None
    assert st.gram_error == pytest.approx(2 * before, rel=1e-9, abs=0) and st.gram_groups == 2


def test_gram_factor_refuses_a_nearly_singular_group_at_the_tolerance() -> None:
    """Channels that differ by delta: lambda_min(C) ~ delta^2, so the bound 4 r eps / lambda_min
    (r = 3) crosses GRAM_TOL = 2^-40 where lambda_min ~ 3e-3: accepted at delta = 1, refused
    at delta = 1e-3 (the orthogonal route takes such groups)."""
    base = RNG.standard_normal((40, 1, 3))
    noise = RNG.standard_normal((40, 1))

    def twins(delta: float) -> list[np.ndarray]:
        f = base.copy()
        f[..., 1] = f[..., 0] + delta * noise
        return [f, np.ones((1, 1, 3))]

    accepted = gram.gram_factor(twins(1.0), [0.0, 0.0], _stats())
    assert accepted is not None
    st = _stats()
    assert gram.gram_factor(twins(1e-3), [0.0, 0.0], st) is None
    assert st.gram_groups == 0 and st.gram_error == 0.0


@pytest.mark.parametrize(
    ("nested", "part", "least", "flops", "grams"),
    [
        # balanced(4), M = 3, r = 2, left/right, orthogonal route. Leaves: 3 * 24 (norms) + 4 QRs of
        # 3 x 2 (24 - 16/3 each); each pure node: product 8, QR of 4 x 2 (32 - 16/3), @ W 16,
        # unit 8; the root: contraction 4 + 16, unit 8.  = 292
        ([[0, 1], [2, 3]], (0, 1), None, 292.0, 0),
        # two ternary pure nodes on the Gram route: leaves 108 + 6 QRs (144 - 32); per node three
        # syrks (12 each), two Hadamard products (4 each), Cholesky 8/3 + 12, trmm 8, unit 8;
        # the root 20 + 8.  = 392 + 16/3
        ([[0, 1, 2], [3, 4, 5]], (0, 1, 2), 1, 392.0 + 16 / 3, 2),
        # the same on the orthogonal route: per node two products (8) and QRs (32 - 16/3), @ W 16,
        # unit 8.  = 456 - 64/3
        ([[0, 1, 2], [3, 4, 5]], (0, 1, 2), 2**62, 456.0 - 64 / 3, 0),
    ],
)
def test_recursion_flops_add_up_by_hand(
    nested: list, part: tuple[int, ...], least: int | None, flops: float, grams: int
) -> None:
    tt = dt.TreeTensor.random(dt.ModeTree.from_nested(nested), 3, 2, seed=0)
    st = _stats()
    cores.float_core(tt, frozenset(part), stats=st, gram_min_width=least)
    assert st.flops == pytest.approx(flops, rel=1e-14, abs=0)
    assert st.gram_groups == grams and st.fallbacks == 0


def test_fallback_inside_a_mixed_node_is_counted_and_sized() -> None:
    """flat(6), I = {0, 1, 2}: the root is mixed, its I-group of three leaves has twin channels
    (singular Gram: falls back, and the fallback's size is checked first), its J-group not."""
    tt = dt.TreeTensor.random(dt.ModeTree.flat(6), 3, 2, seed=0)
    leaves = [a.copy() for a in tt.leaf_weights]
    for i in (0, 1, 2):
        leaves[i][:, 1] = leaves[i][:, 0]
    twin = dt.TreeTensor(tt.tree, leaves, tt.node_weights)
    sizes: list[int] = []
    st = _stats()
    cores.float_core(twin, frozenset({0, 1, 2}), stats=st, gram_min_width=1, refuse=sizes.append)
    assert st.fallbacks == 1 and st.gram_groups == 1
    # the fallback's largest product: each leaf core is (2, 1, 2) after its QR (M = 3 > r = 2);
    # (2, 1) x (2, 1) -> a 4 x 1 x 2 product (8 entries), compressed back to (2, 1), twice
    assert sizes == [8]
