"""pooling-geometry: the exact half, the training half's paired rule (both directions), the nets."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import torch

from dltheory.claims._pooling_training import OPTIMIZER, _optimizer, build_net
from dltheory.claims.pooling_geometry import PoolingGeometry, own_geometry, root_split
from dltheory.trees import ModeTree

CLAIM = "pooling-geometry"
_CLAIM = PoolingGeometry()  # not registered until its first full verdict is recorded


def get(claim_id: str) -> PoolingGeometry:
    assert claim_id == CLAIM
    return _CLAIM


def test_root_split_is_the_partition_the_root_separates() -> None:
    square = ModeTree.grid((4, 4))
    assert root_split(square) == (0, 1, 2, 3, 4, 5, 6, 7)  # top half: square's coarse cut
    mirror = ModeTree.grid((8, 8), geometry="mirror")
    rows = {x // 8 for x in root_split(mirror)}
    assert rows == {0, 3, 4, 7}  # a period-4 row interleave (rows = 0 or 3 mod 4)
    assert own_geometry("closedness") == "square" and own_geometry("symmetry") == "mirror"


def test_nets_are_paired_across_geometries_and_follow_the_authors_init() -> None:
    sq = build_net("convac", "square", 4, seed=5)
    mi = build_net("convac", "mirror", 4, seed=5)
    for a, b in zip(sq.weights, mi.weights, strict=True):
        assert torch.equal(a, b)  # same initial log-weights: the comparison is paired
        assert float(a.detach().min()) >= -1.0 and float(a.detach().max()) <= 1.0  # U(-1, 1)
    assert not torch.equal(build_net("convac", "square", 4, seed=6).weights[0], sq.weights[0])
    x = torch.randint(0, 2, (3, 1, 32, 32)).float()
    assert not torch.allclose(sq(x), mi(x))  # same weights, different pooling windows
    opt = _optimizer(sq, "convac")
    assert opt.defaults["betas"] == (0.9, 0.9) and opt.defaults["eps"] == 1e-16
    relu = build_net("relu-max", "mirror", 4, seed=5)
    groups = _optimizer(relu, "relu-max").param_groups
    assert groups[0]["weight_decay"] == OPTIMIZER["relu"]["weight_decay"] > 0
    assert groups[1]["weight_decay"] == 0.0 and all(
        torch.all(p == 0) for p in groups[1]["params"]
    )  # zero-initialized biases without weight decay
    shallow = build_net("convac", "square", 8, seed=1, depth="shallow")
    assert shallow.net.tree.depth == 1 and shallow(x).shape == (3, 2)


def _fake(results: list[dict[str, Any]], family: str, task: str, gap: float) -> None:
    """Paired deep runs where the own geometry is ``gap`` better, with some spread."""
    own = own_geometry(task)
    for i, (b, s) in enumerate([(8, 0), (16, 0), (32, 0), (8, 1), (16, 1), (32, 1)]):
        base = 0.7 + 0.01 * i
        for g in ("square", "mirror"):
            acc = base + (gap + 0.004 * (i % 3 - 1) if g == own else 0.0)
            results.append(
                {
                    "part": "deep",
                    "family": family,
                    "task": task,
                    "geometry": g,
                    "width": b,
                    "seed_index": s,
                    "test_accuracy": acc,
                    "train_seconds": 1.0,
                    "seconds_per_iteration": 0.01,
                }
            )


@pytest.fixture(scope="module")
def exact_results() -> list[dict[str, Any]]:
    claim = get(CLAIM)
    params = claim.resolve("quick", {"families": "convac"})
    units = [u for u in claim.units(params, 0) if u.config["part"] in ("exact", "cuts")]
    out = [claim.run_unit(u.config, u.seed) for u in units]
    json.dumps(out)
    return out


def test_exact_part_square_favours_interleaved_and_mirror_left_right(
    exact_results: list[dict[str, Any]],
) -> None:
    claim = get(CLAIM)
    conds = claim.exact_conditions(exact_results)  # type: ignore[attr-defined]
    assert all(conds.values()), conds
    by = {(r["geometry"], tuple(r["shape"])): r for r in exact_results if r["part"] == "exact"}
    sq, mi = by[("square", (4, 8))], by[("mirror", (4, 8))]
    assert max(d["interleaved"] for d in sq["draws"]) == 256  # 2^(N/4)
    assert max(d["left/right"] for d in sq["draws"]) <= 3  # the root's width
    assert max(d["left/right"] for d in mi["draws"]) == 256
    assert max(d["root split"] for d in mi["draws"]) <= 3
    cuts = [c for r in exact_results if r["part"] == "cuts" for c in r["rows"]]
    lr = {
        (c["geometry"], c["breadth"]): c["log2_min_cut"]
        for c in cuts
        if c["partition"] == "left/right"
    }
    assert lr[("square", 8)] == pytest.approx(3.0) and lr[("mirror", 8)] == pytest.approx(512.0)
    # a fabricated draw above its min cut, or a witness below the bound, fails the exact half
    broken = copy.deepcopy(exact_results)
    ex = next(r for r in broken if r["part"] == "exact")
    ex["draws"][0]["left/right"] = ex["min_cuts"]["left/right"] + 1
    assert not all(claim.exact_conditions(broken).values())  # type: ignore[attr-defined]
    broken = copy.deepcopy(exact_results)
    ex = next(r for r in broken if r["part"] == "exact" and r["geometry"] == "mirror")
    ex["witness"]["best"] = ex["favoured_bound"] - 1
    assert not all(claim.exact_conditions(broken).values())  # type: ignore[attr-defined]
    broken = [r for r in exact_results if r.get("geometry") != "mirror"]
    assert not claim.exact_conditions(broken)["exact results present"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("gap", "outcome"),
    [(0.03, "reproduced"), (-0.03, "not reproduced"), (0.0005, "inconclusive")],
)
def test_training_rule_both_halves(
    exact_results: list[dict[str, Any]], gap: float, outcome: str
) -> None:
    claim = get(CLAIM)
    params = claim.resolve("quick")
    results = list(exact_results)
    for task in ("closedness", "symmetry"):
        _fake(results, "convac", task, gap)
        _fake(results, "relu-avg", task, -gap)  # the ReLU rows do not decide the verdict
    v = claim.verdict(params, results)
    assert v.outcome == outcome, v.summary
    assert [r.outcome for r in v.robustness] == [
        {"reproduced": "not reproduced", "not reproduced": "reproduced"}.get(outcome, outcome)
    ] * 2
    if outcome == "inconclusive":
        assert v.decide_by


def test_one_task_failing_fails_the_claim(exact_results: list[dict[str, Any]]) -> None:
    claim = get(CLAIM)
    results = list(exact_results)
    _fake(results, "convac", "closedness", 0.03)
    _fake(results, "convac", "symmetry", -0.03)
    assert claim.verdict(claim.resolve("quick"), results).outcome == "not reproduced"
    # a failed exact half fails the claim even when training holds
    broken = copy.deepcopy(results)
    ex = next(r for r in broken if r["part"] == "exact")
    ex["draws"][0]["root split"] = 99
    _fake(broken, "convac", "symmetry", 0.06)  # now symmetry pairs are duplicated: still > 0
    assert claim.verdict(claim.resolve("quick"), broken).outcome == "not reproduced"


def test_missing_convac_runs_are_inconclusive_not_a_verdict(
    exact_results: list[dict[str, Any]],
) -> None:
    claim = get(CLAIM)
    v = claim.verdict(claim.resolve("quick"), list(exact_results))
    assert v.outcome == "inconclusive" and "convac" in v.decide_by


def test_a_tiny_training_unit_runs_and_projects() -> None:
    claim = get(CLAIM)
    params = claim.resolve(
        "quick",
        {
            "families": "convac",
            "breadths": "2",
            "iterations": "10",
            "num_train": "200",
            "num_test": "100",
            "shallow_widths": "2",
        },
    )
    units = [u for u in claim.units(params, 0) if u.config["part"] in ("deep", "shallow")]
    assert len(units) == 2 * (2 + 1)  # per task: two geometries and one shallow width
    res = [claim.run_unit(u.config, u.seed) for u in units[:3]]
    json.dumps(res)
    deep = [r for r in res if r["part"] == "deep"]
    assert {r["geometry"] for r in deep} == {"square", "mirror"}
    for r in res:
        assert 0.0 <= r["test_accuracy"] <= 1.0 and r["iterations"] == 10
        assert r["num_train_kept"] == 160 and r["num_test_kept"] == 80
    assert "left/right" in deep[0]["trained_spectra"]
    lines = claim.projection(claim.resolve("full"), res, 8)  # type: ignore[attr-defined]
    assert any(line.startswith("measured: convac deep width 2") for line in lines)
    assert any("on 8 workers" in line for line in lines)


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("families", "convac,resnet", "--set families"),
        ("grids", "8x8", "--set grids"),
        ("grids", "3x4", "--set grids"),
        ("breadths", "0", "--set breadths"),
        ("iterations", "5", "--set iterations"),
    ],
)
def test_bad_parameters_are_refused_before_any_work(key: str, value: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        get(CLAIM).resolve("quick", {key: value})


def test_train_unit_refuses_a_diverged_run_and_drops_the_flag(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dltheory.claims import _pooling_training as pt

    runs = iter(
        [
            {"diverged": True, "stopped_at": 7, "curve": [], "train_seconds": 0.1},
            {"diverged": False, "test_accuracy": 0.5, "num_params": 3},
        ]
    )
    monkeypatch.setattr(pt, "train_net", lambda *args: next(runs))
    settings = pt.TrainSettings(10, 8)
    with pytest.raises(ValueError, match=r"non-finite loss at iteration 7\) for my net"):
        pt.train_unit(None, "convac", None, settings, 0, "my net")  # type: ignore[arg-type]
    out = pt.train_unit(None, "convac", None, settings, 0, "my net")  # type: ignore[arg-type]
    assert out == {"test_accuracy": 0.5, "num_params": 3}
