"""Claim mixed-dilated: the witness partition, the exact unit and its conditions, both halves of
the verdict rule, the units' pairing, parameter checks, a short training unit and the padding."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest
import torch

import dltheory as dt
from dltheory.claims import REGISTRY
from dltheory.claims._mixed_parts import (
    blocks,
    cuts_unit,
    equal_param_width,
    exact_unit,
    expected_count,
    mixed_count,
    pad_signals,
    padded_mnist1d,
    single_bound,
    trees,
    witness_partition,
)
from dltheory.claims._pooling_training import _optimizer
from dltheory.claims.mixed_dilated import K, needed_widths
from dltheory.data import load_mnist1d
from dltheory.design import tree_min_cut
from dltheory.nets import MixedDilatedNet

CLAIM = REGISTRY["mixed-dilated"]
QUICK = CLAIM.defaults("quick")
ONLY_8 = {**QUICK, "exact_ns": (8,)}
NEEDS = "N=8: a single tree needs width >= M^2 for the full rank M^(N/2)"
BOUNDED = "N=8: every rank <= its min cut and the single-tree bound"
MIXED = "N=8: mixed (r = M) reaches M^(N/2) on a witness"
SIDE = "N=8: side by side (r = M) stays below M^(N/2) on every draw"


@pytest.fixture(scope="module")
def exact8() -> list[dict[str, Any]]:
    return [exact_unit({"N": 8}, 3)]


def _row(ex: dict[str, Any], tree: str, width: int) -> dict[str, Any]:
    return next(r for r in ex["single"] if r["tree"] == tree and r["width"] == width)


def _train(net: str, sizing: str, s: int, acc: float) -> dict[str, Any]:
    return {
        "part": "train",
        "net": net,
        "sizing": sizing,
        "width": 16,
        "seed_index": s,
        "test_accuracy": acc,
        "num_params": 1,
        "train_seconds": 1.0,
        "seconds_per_iteration": 0.002,
    }


def _runs(top: list[float], base: list[float], sa: list[float], sb: list[float]) -> list[dict]:
    """Per seed: mixed-K (equal width and equal params), mixed-0, the singles; mixed-1..K-1
    in between."""
    out = []
    for s, (t, b, a, c) in enumerate(zip(top, base, sa, sb, strict=True)):
        out += [_train("mixed-0", "width", s, b), _train("single-a", "width", s, a)]
        out.append(_train("single-b", "width", s, c))
        for k in range(1, K + 1):
            acc = b + (t - b) * k / K
            out += [_train(f"mixed-{k}", "width", s, acc), _train(f"mixed-{k}", "params", s, acc)]
    return out


GOOD = _runs([0.80, 0.82, 0.81, 0.83], [0.70, 0.71, 0.69, 0.72], [0.6, 0.62, 0.61, 0.6], [0.65] * 4)


# ------------------------------------------------------------------------- structure


def test_witness_partition_is_the_docstrings_and_generalizes_per_block() -> None:
    assert witness_partition(8) == (0, 1, 4, 6)
    assert witness_partition(16) == (0, 1, 4, 6, 8, 9, 12, 14)
    part = set(witness_partition(64))
    assert len(part) == 32
    for k in range(16):
        want = {4 * k, 4 * k + 1} if k % 2 == 0 else {4 * k, 4 * k + 2}
        assert part & set(range(4 * k, 4 * k + 4)) == want


def test_trees_share_the_blocks_and_k_counts_the_shared_levels() -> None:
    ta, tb = trees(16)
    assert [sorted(s) for s in blocks(ta, tb)] == [list(range(4 * k, 4 * k + 4)) for k in range(4)]
    assert sorted(ta.leaves(ta.parent(0))) == [0, 1]  # T pairs neighbours
    assert K == 4  # blocks of 4, 8, 16, 32 at N = 64
    assert sorted(tb.leaves(tb.parent(0))) == [0, 2]  # T̄ pairs at dilation 2


@pytest.mark.parametrize("n", [8, 16])
def test_single_bound_is_the_min_cut_of_both_trees(n: int) -> None:
    for tree in trees(n):
        for width in range(1, 6):
            cut = tree_min_cut(tree, width, witness_partition(n), in_dim=2).value
            assert cut == single_bound(n, width, 2)
    assert single_bound(16, 3, 2) == 3**2 * 2**4 and single_bound(32, 5, 3) == 5**4 * 3**8


# ------------------------------------------------------------------------- exact part


def test_exact_unit_at_8_satisfies_the_conditions(exact8: list[dict]) -> None:
    conds = CLAIM.exact_conditions(exact8, (8,))
    assert len(conds) == 4 and all(conds.values()), conds
    ex = exact8[0]
    assert ex["full_rank"] == 16 and needed_widths(ex) == {"T": 4, "Tbar": 4}
    assert ex["mixed"]["witness"]["best"] == 16 and max(ex["side_by_side"]["ranks"]) < 16
    assert _row(ex, "T", 2)["witness"]["best"] == 8  # min(2, 4) * min(2, 2)^2


def test_exact_unit_is_deterministic(exact8: list[dict]) -> None:
    again = exact_unit({"N": 8}, 3)
    drop = {"wall_s"}
    assert {k: v for k, v in again.items() if k not in drop} == {
        k: v for k, v in exact8[0].items() if k not in drop
    }


def test_a_rank_above_its_min_cut_fails_only_the_bound(exact8: list[dict]) -> None:
    bad = copy.deepcopy(exact8)
    row = _row(bad[0], "Tbar", 2)
    row["witness"]["ranks"][0] = row["min_cut"] + 1
    conds = CLAIM.exact_conditions(bad, (8,))
    assert not conds[BOUNDED] and conds[NEEDS] and conds[MIXED] and conds[SIDE]
    bad = copy.deepcopy(exact8)
    bad[0]["side_by_side"]["ranks"][1] = bad[0]["side_by_side"]["min_cut"] + 1
    assert not CLAIM.exact_conditions(bad, (8,))[BOUNDED]


def test_a_rank_above_the_bound_fails_even_below_the_stored_cut(exact8: list[dict]) -> None:
    bad = copy.deepcopy(exact8)
    row = _row(bad[0], "T", 3)  # bound 12: the rule recomputes it, not trusting the unit
    row["min_cut"], row["bound"] = 16, 16
    row["witness"]["ranks"][0] = 13
    assert not CLAIM.exact_conditions(bad, (8,))[BOUNDED]


def test_mixed_short_of_full_rank_fails_its_condition(exact8: list[dict]) -> None:
    bad = copy.deepcopy(exact8)
    bad[0]["mixed"]["witness"]["best"] = 15
    bad[0]["mixed"]["witness"]["ranks"] = [15]
    conds = CLAIM.exact_conditions(bad, (8,))
    assert not conds[MIXED] and conds[BOUNDED] and conds[NEEDS] and conds[SIDE]


def test_side_by_side_at_full_rank_fails_its_condition(exact8: list[dict]) -> None:
    bad = copy.deepcopy(exact8)
    bad[0]["side_by_side"]["ranks"][-1] = 16
    conds = CLAIM.exact_conditions(bad, (8,))
    assert not conds[SIDE] and conds[BOUNDED]


def test_a_single_tree_at_full_rank_below_m_squared_fails(exact8: list[dict]) -> None:
    bad = copy.deepcopy(exact8)
    _row(bad[0], "Tbar", 3)["witness"]["best"] = 16  # the best only: the bound still holds
    conds = CLAIM.exact_conditions(bad, (8,))
    assert not conds[NEEDS] and conds[BOUNDED]
    assert needed_widths(bad[0])["Tbar"] == 3
    bad = copy.deepcopy(exact8)
    bad[0]["single"] = [r for r in bad[0]["single"] if r["width"] != 5]  # incomplete widths
    assert not CLAIM.exact_conditions(bad, (8,))[NEEDS]


def test_cuts_unit_at_small_scale() -> None:
    out = cuts_unit({"ns": [16], "rs": [2, 3]})
    for row in out["rows"]:
        r = row["r"]
        assert row["M"] == r and row["log2_full_rank"] == pytest.approx(8 * math.log2(r))
        for t in ("T", "Tbar"):
            single = row["single"][t]
            assert single["log2_min_cut"] == pytest.approx(6 * math.log2(r))  # r^(3N/8)
            assert single["needed_width"] == r * r and single["needed_over_r2"] == 1.0


# ------------------------------------------------------------------------- verdict


def test_verdict_reproduced_when_mixing_wins(exact8: list[dict]) -> None:
    v = CLAIM.verdict(ONLY_8, exact8 + GOOD)
    assert v.outcome == "reproduced", v.summary
    assert "E1 +16.5 points" in v.summary and "E2 +11.0 points" in v.summary
    assert [r.outcome for r in v.robustness] == ["reproduced", "reproduced"]
    assert all("equal parameters" in r.setting for r in v.robustness)
    assert v.numbers["spearman_mean_accuracy_vs_k"]["equal width"] == pytest.approx(1.0)
    assert v.numbers["paper_timit"] == "the paper's TIMIT accuracies are not available offline"


def test_verdict_uses_the_better_single_net(exact8: list[dict]) -> None:
    runs = _runs(
        [0.80, 0.82, 0.81, 0.83], [0.70, 0.71, 0.69, 0.72], [0.5] * 4, [0.9, 0.91, 0.92, 0.9]
    )
    v = CLAIM.verdict(ONLY_8, exact8 + runs)
    assert v.outcome == "not reproduced"
    assert v.effects[0].estimate == pytest.approx(-0.0925) and v.effects[1].outcome == "reproduced"


def test_verdict_not_reproduced_when_interconnections_hurt(exact8: list[dict]) -> None:
    runs = _runs(
        [0.70, 0.71, 0.69, 0.72], [0.80, 0.82, 0.81, 0.83], [0.6] * 4, [0.6, 0.5, 0.6, 0.5]
    )
    v = CLAIM.verdict(ONLY_8, exact8 + runs)
    assert v.outcome == "not reproduced" and v.effects[1].outcome == "not reproduced"


def test_a_failed_exact_condition_overrides_winning_training(exact8: list[dict]) -> None:
    bad = copy.deepcopy(exact8)
    bad[0]["side_by_side"]["ranks"][0] = 16
    v = CLAIM.verdict(ONLY_8, bad + GOOD)
    assert v.outcome == "not reproduced" and v.numbers[f"condition: {SIDE}"] is False


def test_verdict_inconclusive_on_noise(exact8: list[dict]) -> None:
    runs = _runs([0.8, 0.7, 0.75], [0.7, 0.8, 0.74], [0.6] * 3, [0.6] * 3)
    v = CLAIM.verdict(ONLY_8, exact8 + runs)
    assert v.outcome == "inconclusive" and "--set seeds=4" in v.decide_by


def test_verdict_on_missing_runs(exact8: list[dict]) -> None:
    v = CLAIM.verdict(ONLY_8, exact8)  # no training
    assert v.outcome == "inconclusive" and "E1" in v.summary and "run the missing" in v.decide_by
    v = CLAIM.verdict(QUICK, exact8 + GOOD)  # N = 16 missing
    assert v.outcome == "inconclusive" and "exact N=16" in v.summary
    no_single = [r for r in GOOD if not r["net"].startswith("single")]
    assert "E1" in CLAIM.verdict(ONLY_8, exact8 + no_single).summary
    bad = copy.deepcopy(exact8)
    bad[0]["mixed"]["witness"]["best"] = 1
    assert CLAIM.verdict(QUICK, bad).outcome == "not reproduced"  # a failure decides anyway


# ------------------------------------------------------------------------- units and params


def test_units_pair_seeds_across_nets_and_size_equal_params() -> None:
    params = CLAIM.resolve("quick", {"seeds": "3"})
    train = [u for u in CLAIM.units(params, 0) if u.config["part"] == "train"]
    assert len(train) == 3 * (K + 3 + K)
    by: dict[int, set[int]] = {}
    for u in train:
        by.setdefault(u.config["seed_index"], set()).add(u.seed)
    assert all(len(s) == 1 for s in by.values()) and len({min(s) for s in by.values()}) == 3
    w = int(params["width"])
    for u in train:
        c = u.config
        if c["sizing"] == "params":
            k = int(c["net"].split("-")[1])
            assert mixed_count(k, c["width"]) <= mixed_count(0, w) < mixed_count(k, c["width"] + 1)
        else:
            assert c["width"] == w
    assert equal_param_width(K, 16) == 12 and c["step_at"] == 480
    parts = [u.config["part"] for u in CLAIM.units(params, 0)]
    assert parts.count("exact") == 2 and parts.count("cuts") == 1


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("exact_ns", "8,12"),
        ("exact_ns", "8,8"),
        ("exact_ns", "32"),
        ("num_samples", "2005"),
        ("width", "4096"),
        ("seeds", "1"),
    ],
)
def test_check_refuses_infeasible_values_naming_the_parameter(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=f"--set {name}"):
        CLAIM.resolve("quick", {name: value})


def test_padding_puts_the_signal_in_positions_12_to_51() -> None:
    x = torch.arange(2 * 40, dtype=torch.float32).reshape(2, 40, 1) + 1
    y = pad_signals(x)
    assert y.shape == (2, 64, 1) and torch.equal(y[:, 12:52], x)
    assert not y[:, :12].any() and not y[:, 52:].any()
    ds, raw = padded_mnist1d(0, 100), load_mnist1d(seed=0, num_samples=100)
    assert ds.input_shape == (64, 1) and torch.equal(ds.x_test[:, 12:52], raw.x_test)
    assert torch.equal(ds.y_train, raw.y_train) and not ds.x_train[:, 52:].any()
    with pytest.raises(ValueError, match="x: expected shape"):
        pad_signals(torch.zeros(2, 64, 1))


@pytest.mark.parametrize("name", ["mixed-4", "single-b"])
def test_a_short_training_unit_runs_deterministically(name: str) -> None:
    threads = torch.get_num_threads()
    config = {
        "part": "train",
        "net": name,
        "sizing": "width",
        "width": 3,
        "seed_index": 0,
        "iterations": 5,
        "step_at": 4,
        "num_samples": 200,
        "data_seed": 0,
        "nominal_width": 3,
    }
    try:
        out = CLAIM.run_unit(config, 11)
        again = CLAIM.run_unit(config, 11)
    finally:
        torch.set_num_threads(threads)
    assert out["num_params"] == expected_count(name, 3)
    if name.startswith("mixed"):
        assert out["num_params"] == MixedDilatedNet.count_parameters(
            64, 1, 3, 10, interconnections=K, representation="affine", num_features=8
        )
    assert out["curve"] == again["curve"] and out["test_accuracy"] == again["test_accuracy"]
    assert 0.0 <= out["test_accuracy"] <= 1.0 and out["net"] == name


def test_weight_decay_reaches_every_weight_of_the_mixed_net() -> None:
    net = MixedDilatedNet(
        64, 1, 2, 10, interconnections=K, pooling="max", representation="affine", num_features=8
    )
    decayed, free = _optimizer(net, "relu-max").param_groups
    names = {id(p): n for n, p in net.named_parameters()}
    assert decayed["weight_decay"] == 1e-4 and free["weight_decay"] == 0.0
    assert [names[id(p)] for p in free["params"]] == ["rep.linear.bias"]
    assert all(
        names[id(p)].startswith(("weights.", "rep.linear.weight")) for p in decayed["params"]
    )
    single = dt.ConvAC(
        trees(64)[0], 1, 2, 10, pooling="max", representation="affine", num_features=8, shared=True
    )
    assert sum(p.numel() for p in single.parameters()) == expected_count("single-a", 2)


def test_figure_and_projection(exact8: list[dict], tmp_path: Any) -> None:
    results = exact8 + GOOD + [cuts_unit({"ns": [16], "rs": [2]})]
    path = tmp_path / "fig.png"
    CLAIM.figure(ONLY_8, results, str(path))
    assert path.stat().st_size > 10_000
    lines = CLAIM.projection(CLAIM.defaults("full"), results, 2)
    assert any(line.startswith("measured: mixed width 16") for line in lines)
    assert any("projected" in line for line in lines)
