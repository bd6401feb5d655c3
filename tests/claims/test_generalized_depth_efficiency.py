"""Claim generalized-depth-efficiency: the rule's both halves, the evaluator, the certificates."""

from __future__ import annotations

import copy
import itertools
import math
from typing import Any

import numpy as np
import pytest
import torch

from dltheory import ConvAC, ModeTree, TreeTensor
from dltheory.analysis import matricize, odd_even
from dltheory.claims import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, get
from dltheory.claims._generalized import (
    CONVAC_PRIME,
    certified_rank,
    draw_weights,
    grid_tensor_exact,
    grid_tensor_float,
    grid_tensor_mod,
    quantization_bits,
    rank_mod,
)

CLAIM = "generalized-depth-efficiency"
#: A small scale at which every part of the rule can decide (seed 0 of the quick profile).
SMALL = {
    "deep": "16:2",
    "draws": "12",
    "inits": "normal,uniform",
    "shallow": "4:2",
    "shallow_widths": "1,2,8",
    "shallow_draws": "1",
    "span": "4:2",
    "span_widths": "4,16,64",
}


@pytest.fixture(scope="module")
def small() -> tuple[Any, dict[str, Any], list[dict[str, Any]]]:
    import json

    claim = get(CLAIM)
    params = claim.resolve("quick", SMALL)
    results = [claim.run_unit(u.config, u.seed) for u in claim.units(params, 0)]
    json.dumps(results)  # units return JSON-serializable metrics
    return claim, params, results


def _deep(results: list[dict[str, Any]], init: str) -> list[dict[str, Any]]:
    return [d for r in results if r["part"] == "deep" and r["init"] == init for d in r["draws"]]


def test_small_scale_reproduces_and_draws_a_figure(small: Any, tmp_path: Any) -> None:
    claim, params, results = small
    v = claim.verdict(params, results)
    assert v.outcome == REPRODUCED, v.summary
    assert all(e.outcome == REPRODUCED for e in v.effects)
    path = tmp_path / "fig.png"
    claim.figure(params, results, str(path))
    assert path.stat().st_size > 0


def _verdict(claim: Any, params: dict[str, Any], results: list[dict[str, Any]]) -> str:
    return str(claim.verdict(params, results).outcome)


def test_fabricated_results_fail(small: Any) -> None:
    claim, params, results = small
    deep = next(r for r in results if r["part"] == "deep")
    t = int(math.floor(deep["generic"] ** float(params["low_exponent"]) + 1e-9))

    def changed(edit: Any) -> str:
        bad = copy.deepcopy(results)
        edit(bad)
        return _verdict(claim, params, bad)

    def deep_draw(bad: list[dict[str, Any]]) -> dict[str, Any]:
        return next(r for r in bad if r["part"] == "deep")["draws"][0]

    # (a) a ConvAC far below the generic rank, or above its min cut
    assert changed(lambda b: deep_draw(b)["product"].update(rank=t)) == NOT_REPRODUCED
    assert changed(lambda b: deep_draw(b)["product"].update(rank=257)) == NOT_REPRODUCED
    # (d) a deep ReLU/avg rank above 2 M^(N/4)
    assert changed(lambda b: deep_draw(b)["average"].update(rank=33)) == NOT_REPRODUCED

    def shallow(b: list[dict[str, Any]], k: int) -> dict[str, Any]:
        return next(r for r in b if r["part"] == "shallow" and r["K"] == k)

    # (e) a shallow ReLU/max rank above K M N/2; the widest short of M^(N/2); ReLU/avg rank 3
    assert changed(lambda b: shallow(b, 1)["draws"][0]["max"].update(rank=5)) == NOT_REPRODUCED
    assert changed(lambda b: shallow(b, 8)["draws"][0]["max"].update(rank=3)) == NOT_REPRODUCED
    assert (
        changed(lambda b: shallow(b, 2)["draws"][0]["average"].update(rank=3, upper=3))
        == NOT_REPRODUCED
    )

    def span(b: list[dict[str, Any]], k: int) -> dict[str, Any]:
        return next(r for r in b if r["part"] == "span" and r["K"] == k)

    # (f) the widest ReLU/max span short of M^N, a poor fit, a ReLU/avg span above 1+N(M-1)
    assert changed(lambda b: span(b, 64)["max"].update(rank=15)) == NOT_REPRODUCED
    assert changed(lambda b: span(b, 64)["max"].update(residual=1e-3)) == NOT_REPRODUCED
    assert changed(lambda b: span(b, 4)["average"].update(rank=6, upper=6)) == NOT_REPRODUCED
    # (g) the evaluator off the library
    lib = next(i for i, r in enumerate(results) if r["part"] == "library")
    assert changed(lambda b: b[lib]["rel_diff"].update(max=1e-6)) == NOT_REPRODUCED


def test_no_low_draw_is_inconclusive_and_other_inits_stay_outside(small: Any) -> None:
    claim, params, results = small
    bad = copy.deepcopy(results)
    for d in _deep(bad, "uniform"):
        d["max"].update(rank=100, exact=False)  # no ReLU/max draw far below: (b) undecided
    v = claim.verdict(params, bad)
    assert v.outcome == INCONCLUSIVE and "more draws" in v.decide_by
    # the same family as the orthogonal init: a robustness row, never the verdict
    for r in bad:
        if r["part"] == "deep" and r["init"] == "uniform":
            r["init"] = "orthogonal"
    v = claim.verdict(params, bad)
    assert v.outcome == REPRODUCED, v.summary
    assert [row.outcome for row in v.robustness] == [INCONCLUSIVE]
    # a low draw that is not certified does not count
    bad = copy.deepcopy(results)
    for d in _deep(bad, "normal"):
        if d["max"]["rank"] <= 16:
            d["max"]["exact"] = False
    assert _verdict(claim, params, bad) == INCONCLUSIVE


# ------------------------------------------------------------------ the evaluator


def _direct(tt: TreeTensor, pooling: str, x: np.ndarray) -> np.ndarray:
    """The network on one input ``x`` (N x s), node by node, as the paper's layers read."""
    tree = tt.tree

    def out(v: int) -> np.ndarray:
        if tree.is_leaf(v):
            u = x[v] @ tt.leaf_weights[v]
            return np.maximum(u, 0) if pooling != "product" else u
        kids = np.stack([out(c) for c in tree.children(v)])
        pooled = {"max": kids.max(0), "average": kids.mean(0), "product": kids.prod(0)}[pooling]
        u = pooled @ tt.node_weights[v]
        return np.maximum(u, 0) if pooling != "product" and v != tree.root else u

    return out(tree.root)


TREES = [ModeTree.balanced(4), ModeTree.flat(3), ModeTree.from_nested([[0, 2], [[1, 4], 3]])]


@pytest.mark.parametrize("tree", TREES, ids=["balanced4", "flat3", "nested"])
@pytest.mark.parametrize("pooling", ["max", "average", "product"])
def test_grid_tensor_is_the_network_on_every_template_tuple(tree: ModeTree, pooling: str) -> None:
    tt = TreeTensor.random(tree, 3, 2, seed=4)
    templates = np.random.default_rng(1).standard_normal((2, 3))
    grid = grid_tensor_float(tt, pooling, templates)
    n = tree.num_leaves
    for d in itertools.product(range(2), repeat=n):
        want = _direct(tt, pooling, templates[list(d)])[0]
        assert abs(grid[d] - want) <= 1e-12 * max(1.0, abs(want)), (d, pooling)
    onehot = grid_tensor_float(tt, pooling)
    assert onehot.shape == (3,) * n
    if pooling == "product":  # one-hot templates: the grid tensor is the coefficient tensor
        np.testing.assert_allclose(onehot, tt.to_dense(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("pooling", ["max", "average", "product"])
def test_grid_tensor_matches_the_library_convac(pooling: str) -> None:
    tree = ModeTree.balanced(8)
    ref = ConvAC(tree, in_dim=3, ranks=2, pooling="product", dtype=torch.float64, seed=2)
    net = ConvAC(tree, in_dim=3, ranks=2, pooling=pooling, dtype=torch.float64, seed=2)
    net.load_state_dict(ref.state_dict())  # the same weights, in the library's layout
    templates = np.random.default_rng(0).standard_normal((3, 3))
    ours = grid_tensor_float(ref.coefficient_tensor(0), pooling, templates)
    lib = net.grid_tensor(templates)
    assert np.abs(lib - ours).max() <= 1e-12 * np.abs(ours).max()


def test_integer_grid_tensors_are_exact() -> None:
    tree = ModeTree.balanced(8)
    bits = quantization_bits(tree, tree.resolve_ranks(3))
    tt = draw_weights(tree, 3, 3, "normal", 7, bits)
    assert all(a.dtype == np.int64 for a in tt.leaf_weights)
    top = max(int(np.abs(a).max()) for a in tt.leaf_weights)
    assert top == 2**bits  # the largest leaf weight is +-2^bits
    g, scale = grid_tensor_exact(tt, "max")
    assert scale == 1 and g.dtype == np.int64
    assert np.array_equal(g.astype(np.float64), grid_tensor_float(tt, "max"))
    g, scale = grid_tensor_exact(tt, "average")
    assert scale == 2**3  # three levels of size-2 average pooling
    np.testing.assert_allclose(g / scale, grid_tensor_float(tt, "average"), rtol=1e-13)
    assert np.abs(g).max() < 2**62
    # the ConvAC modulo a prime is the coefficient tensor modulo that prime
    small = TreeTensor.random(ModeTree.balanced(4), 3, 2, seed=1, integer=True)
    dense = np.asarray(small.to_dense(exact=True), dtype=object)
    assert np.array_equal(
        np.mod(dense, CONVAC_PRIME).astype(np.int64), grid_tensor_mod(small, CONVAC_PRIME)
    )
    assert rank_mod(matricize(grid_tensor_mod(tt, CONVAC_PRIME), odd_even(8)), CONVAC_PRIME) == (
        tt.matricization_rank(odd_even(8), method="modular")
    )


def test_exact_grid_tensor_refuses_what_it_cannot_do() -> None:
    tree = ModeTree.balanced(4)
    big = TreeTensor.random(tree, 2, 2, seed=0, integer=True, int_range=2**30)
    with pytest.raises(ValueError, match="overflow"):
        grid_tensor_exact(big, "average")
    with pytest.raises(ValueError, match="product"):
        grid_tensor_exact(TreeTensor.random(tree, 2, 2, seed=0, integer=True), "product")
    with pytest.raises(ValueError, match="integer"):
        grid_tensor_exact(TreeTensor.random(tree, 2, 2, seed=0), "max")
    with pytest.raises(ValueError, match="levelled"):
        grid_tensor_exact(
            TreeTensor.random(ModeTree.chain(4), 2, 2, seed=0, integer=True), "average"
        )


def test_level_scale_does_not_change_ranks_but_a_node_scale_does() -> None:
    """Positive homogeneity per level: why He, LeCun and unit Gaussians are one family."""
    tree = ModeTree.balanced(8)
    tt = draw_weights(tree, 2, 2, "normal", 3, 8)
    level0 = [v for v in tree.internal_nodes if tree.level(v) == 0]
    scaled = {v: w * (3 if v in level0 else 1) for v, w in tt.node_weights.items()}
    g0, _ = grid_tensor_exact(tt, "max")
    g1, _ = grid_tensor_exact(TreeTensor(tree, tt.leaf_weights, scaled), "max")
    assert np.array_equal(g1, 3 * g0)
    one = dict(tt.node_weights)
    one[level0[0]] = one[level0[0]] * 5  # one node only: siblings are compared unevenly
    g2, _ = grid_tensor_exact(TreeTensor(tree, tt.leaf_weights, one), "max")
    assert not np.array_equal(g2, 5 * g0) and not np.array_equal(g2, g0)


# ------------------------------------------------------------------ certified ranks


def test_certified_rank_is_the_rational_rank() -> None:
    import sympy

    rng = np.random.default_rng(0)
    for _ in range(25):
        n = int(rng.integers(2, 10))
        r = int(rng.integers(0, n + 1))
        a = rng.integers(-1000, 1000, (n, r)) @ rng.integers(-1000, 1000, (r, n))
        cert = certified_rank(np.asarray(a, dtype=np.int64), cap=n)
        assert cert.exact and cert.lower == sympy.Matrix(a.tolist()).rank()
    p = 2**31 - 1  # rank 1 modulo the first prime, 2 over the rationals
    cert = certified_rank(np.array([[p, 0], [0, 1]], dtype=np.int64), cap=2)
    assert cert.exact and cert.lower == 2
    # above the cap only bounds: the lower one from the prime, the upper from distinct rows
    a = rng.integers(-5, 5, (6, 6))
    a[3] = a[0]
    cert = certified_rank(a, cap=1)
    assert cert.lower == 5 and cert.upper == 5 and cert.distinct == (5, 6)


def test_low_rank_certificates_need_enough_primes() -> None:
    """A rank-2 matrix with 60-bit entries: the certificate uses several primes, and the
    claim's rank-1 shortcut (one prime) would not be a proof."""
    rng = np.random.default_rng(3)
    u = rng.integers(-(2**29), 2**29, (40, 2))
    v = rng.integers(-(2**29), 2**29, (2, 40))
    cert = certified_rank(u @ v, cap=8)
    assert cert.exact and cert.lower == 2 and cert.primes > 3


def test_bad_parameters_are_refused_before_any_work() -> None:
    claim = get(CLAIM)
    for key, value in [
        ("deep", "12:2"),
        ("deep", "16:3"),
        ("deep", "8"),
        ("inits", "he"),
        ("inits", "orthogonal"),
        ("shallow", "8:4,4:2"),
        ("span", "12:4"),
        ("shallow_widths", "600"),
        ("width", "9"),
    ]:
        with pytest.raises(ValueError, match=f"--set {key}"):
            claim.resolve("quick", {key: value})
