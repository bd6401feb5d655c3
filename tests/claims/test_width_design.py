"""Claim width-design: profiles, the exact frontier, the design picks, both halves of the rule."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import torch

import dltheory as dt
from dltheory.claims import REGISTRY
from dltheory.claims._width_parts import (
    PARTITIONS,
    PROFILES,
    curve_unit,
    deep_share,
    design_unit,
    frontier,
    profile_widths,
    shared_count,
    tree,
    widths_of,
)
from dltheory.design import tree_min_cut

CLAIM = REGISTRY["width-design"]
SMALL = {"wide": 12, "narrow": 4}


@pytest.fixture(scope="module")
def exact() -> list[dict[str, Any]]:
    return [
        curve_unit({**SMALL, "draws": 1}, 5),
        design_unit({**SMALL, "max_candidates": 20_000}),
    ]


def _train(task: str, profile: str, s: int, acc: float) -> dict[str, Any]:
    return {
        "part": "train",
        "task": task,
        "profile": profile,
        "seed_index": s,
        "test_accuracy": acc,
        "num_params": 1,
    }


def _runs(local: list[tuple[float, float]], long: list[tuple[float, float]]) -> list[dict]:
    """Accuracies as (early-wide, deep-wide) per seed."""
    out = []
    for task, pairs in (("local", local), ("long", long)):
        for s, (e, d) in enumerate(pairs):
            out += [_train(task, "early-wide", s, e), _train(task, "deep-wide", s, d)]
    return out


@pytest.mark.parametrize("profile", PROFILES)
def test_counts_match_the_networks(profile: str) -> None:
    w = widths_of(profile, 40, 6)
    common = {"representation": "one-hot", "num_features": 2, "shared": True}
    convac = dt.ConvAC(tree(), 1, w, 2, **common)
    relu = dt.ConvAC(tree(), 1, w, 2, pooling="max", activation="relu", bias=True, **common)
    assert shared_count(w) == sum(p.numel() for p in convac.parameters())
    assert shared_count(w) + sum(w) == sum(p.numel() for p in relu.parameters())
    assert shared_count(w) == shared_count(widths_of("deep-wide", 40, 6))  # equal budgets


def test_profiles_and_shares() -> None:
    assert widths_of("early-wide", 9, 2) == [9, 9, 9, 2, 2, 2]
    assert widths_of("deep-wide", 9, 2) == [2, 2, 2, 9, 9, 9]
    assert profile_widths(3, 5) == [3, 3, 3, 5, 5, 5]
    # share: deep convolutions r3 r4 + r4 r5 + 2 r5 over all
    w = [1, 1, 1, 2, 3, 4]
    assert deep_share(w) == pytest.approx((6 + 12 + 8) / (2 + 1 + 1 + 2 + 6 + 12 + 8), abs=0)


def test_frontier_runs_between_the_two_profiles_at_the_budget() -> None:
    pts = frontier(12, 4)
    budget = shared_count(profile_widths(12, 4))
    assert pts[0] == (12, 4) and pts[-1] == (4, 12)
    assert [e for e, _ in pts] == list(range(12, 3, -1))
    for e, d in pts:
        assert shared_count(profile_widths(e, d)) <= budget
        assert shared_count(profile_widths(e, d + 1)) > budget  # d is the largest
    shares = [deep_share(profile_widths(e, d)) for e, d in pts]
    assert shares == sorted(shares)


def test_min_cuts_follow_the_levels_they_cross() -> None:
    t = tree()
    e, d = 20, 7
    w = profile_widths(e, d)

    def cut(name: str) -> int:
        return int(tree_min_cut(t, w, PARTITIONS[name], in_dim=2).value)

    assert cut("left/right") == d  # min(r5, r4, r3^2, ...)
    assert cut("block of 16") == d
    assert cut("block of 4") == min(e, 16)  # min(r1, r2, r0^2, M^4)
    assert cut("octet halves") == min(e, 16) ** 8


def test_exact_conditions_hold_on_the_computed_frontier(exact: list[dict]) -> None:
    conds = CLAIM.exact_conditions(exact)
    assert all(conds.values()), conds
    rows = exact[0]["rows"]
    assert all(k <= r["min_cut"][n] for r in rows for n, ks in r["ranks"].items() for k in ks)
    picks = exact[1]["picks"]
    assert picks["local"]["pick"] == "early-wide" and picks["long"]["pick"] == "deep-wide"
    d = exact[1]["designs"]
    assert d["long"]["deep_share"] > 0.5 > d["short"]["deep_share"]


def test_a_rank_above_its_min_cut_fails_the_exact_part(exact: list[dict]) -> None:
    bad = copy.deepcopy(exact)
    row = bad[0]["rows"][3]
    row["ranks"]["block of 4"][0] = row["min_cut"]["block of 4"] + 1
    assert not CLAIM.exact_conditions(bad)["every rank <= its min cut"]


def test_a_reversed_trend_fails_the_exact_part(exact: list[dict]) -> None:
    bad = copy.deepcopy(exact)
    for row in bad[0]["rows"]:
        row["deep_share"] = 1.0 - row["deep_share"]
    conds = CLAIM.exact_conditions(bad)
    assert not conds["long-range partitions grow with the deep share"]
    assert not conds["short-range partitions shrink with the deep share"]


def test_a_wrong_design_pick_fails(exact: list[dict]) -> None:
    bad = copy.deepcopy(exact)
    bad[1]["picks"]["long"]["pick"] = "early-wide"
    assert not CLAIM.exact_conditions(bad)["each task's partition picks the task's own profile"]
    bad = copy.deepcopy(exact)
    bad[1]["designs"]["long"]["deep_share"] = 0.0
    assert not CLAIM.exact_conditions(bad)["the long-range design has the larger deep share"]


def test_verdict_reproduced_when_each_profile_wins_its_task(exact: list[dict]) -> None:
    reference = [_train("local", "reference (uniform wide)", 0, 0.1)]  # not part of the rule
    runs = reference + _runs(
        local=[(0.9, 0.7), (0.92, 0.71), (0.91, 0.69), (0.9, 0.72)],
        long=[(0.6, 0.95), (0.58, 0.97), (0.61, 0.96), (0.6, 0.94)],
    )
    v = CLAIM.verdict(CLAIM.defaults("quick"), exact + runs)
    assert v.outcome == "reproduced", v.summary
    assert "early-wide +20" in v.summary and "deep-wide +35" in v.summary


def test_verdict_not_reproduced_when_a_task_prefers_the_other_profile(exact: list[dict]) -> None:
    runs = _runs(
        local=[(0.7, 0.9), (0.71, 0.92), (0.69, 0.91), (0.72, 0.9)],  # deep-wide wins locally
        long=[(0.6, 0.95), (0.58, 0.97), (0.61, 0.96), (0.6, 0.94)],
    )
    assert CLAIM.verdict(CLAIM.defaults("quick"), exact + runs).outcome == "not reproduced"


def test_verdict_inconclusive_on_noise_and_on_missing_runs(exact: list[dict]) -> None:
    runs = _runs(
        local=[(0.9, 0.7), (0.7, 0.9), (0.8, 0.79)],
        long=[(0.6, 0.95), (0.58, 0.97), (0.61, 0.96)],
    )
    v = CLAIM.verdict(CLAIM.defaults("quick"), exact + runs)
    assert v.outcome == "inconclusive" and "--set seeds=6" in v.decide_by
    only_local = [r for r in runs if r["task"] == "local"]
    v = CLAIM.verdict(CLAIM.defaults("quick"), exact + only_local)
    assert v.outcome == "inconclusive" and "long" in v.summary


def test_failed_exact_part_overrides_winning_training(exact: list[dict]) -> None:
    bad = copy.deepcopy(exact)
    bad[1]["picks"]["local"]["pick"] = "tie"
    runs = _runs(
        local=[(0.9, 0.7), (0.92, 0.71), (0.91, 0.69), (0.9, 0.72)],
        long=[(0.6, 0.95), (0.58, 0.97), (0.61, 0.96), (0.6, 0.94)],
    )
    assert CLAIM.verdict(CLAIM.defaults("quick"), bad + runs).outcome == "not reproduced"


def test_units_pair_the_profiles_and_parameters_are_checked() -> None:
    params = CLAIM.resolve("quick", {"seeds": "2"})
    units = CLAIM.units(params, 0)
    train = [u for u in units if u.config["part"] == "train"]
    ref = [u for u in train if u.config["profile"] not in PROFILES]
    assert len(train) == 2 * 2 * len(PROFILES) + 2 and len(ref) == 2
    assert all(u.config["seed_index"] == 0 for u in ref)
    train = [u for u in train if u.config["profile"] in PROFILES]
    by: dict[tuple[str, int], set[int]] = {}
    for u in train:
        by.setdefault((u.config["task"], u.config["seed_index"]), set()).add(u.seed)
    assert all(len(s) == 1 for s in by.values())  # both profiles: one seed (same batches)
    assert len({next(iter(s)) for s in by.values()}) == len(by)
    with pytest.raises(ValueError, match="--set narrow"):
        CLAIM.resolve("quick", {"narrow": "40"})
    with pytest.raises(ValueError, match="--set num_train"):
        CLAIM.resolve("quick", {"num_train": "101"})


def test_a_training_unit_runs_and_counts_its_parameters() -> None:
    config = {
        "part": "train",
        "task": "long",
        "profile": "deep-wide",
        "wide": 6,
        "narrow": 3,
        "seed_index": 0,
        "iterations": 5,
        "step_at": 4,
        "num_train": 128,
        "num_test": 64,
        "data_seed": 0,
    }
    out = CLAIM.run_unit(config, 11)
    assert out["num_params"] == shared_count([3, 3, 3, 6, 6, 6]) + 27
    assert 0.0 <= out["test_accuracy"] <= 1.0 and out["widths"] == [3, 3, 3, 6, 6, 6]
    assert CLAIM.run_unit(config, 11)["test_accuracy"] == out["test_accuracy"]  # same seed
    ref = CLAIM.run_unit({**config, "profile": "reference (uniform wide)"}, 11)
    assert ref["widths"] == [6] * 6 and ref["num_params"] == shared_count([6] * 6) + 36
    torch.set_num_threads(torch.get_num_threads())
