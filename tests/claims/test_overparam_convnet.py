import json
import math

import pytest
import torch

from dltheory.claims import get
from dltheory.claims.overparam_convnet import (
    build,
    collapse_into,
    count_params,
    iterations_to_target,
)


def test_overparam_net_is_the_same_function_when_collapsed() -> None:
    torch.manual_seed(1)
    over = build("overparam")
    orig = build("original")
    x = torch.rand(17, 1, 8, 8)
    with torch.no_grad():
        before = orig(x)
        out_over = over(x)
    assert not torch.allclose(before, out_over, atol=1e-3)  # different nets before collapsing
    collapse_into(over, orig)
    with torch.no_grad():
        out_orig = orig(x)
    assert torch.allclose(out_orig, out_over, atol=1e-5, rtol=0)
    # The factorization is pure overparameterization: inner width = min(in, out).
    assert over[7][0].weight.shape == (72, 256) and over[7][1].weight.shape == (72, 72)
    assert over[9][0].weight.shape == (10, 72) and over[9][1].weight.shape == (10, 10)
    assert over[7][0].bias is None and over[9][0].bias is None


def test_param_count_extra_fraction() -> None:
    n_orig, n_over = count_params(build("original")), count_params(build("overparam"))
    assert n_orig == 320 + 18496 + 18504 + 730
    extra = n_over / n_orig - 1
    assert 0.10 <= extra <= 0.20


def test_iterations_to_target() -> None:
    curve = [(0, 2.3), (10, 0.7), (20, 0.5), (30, 0.4)]
    assert iterations_to_target(curve, 0.5) == 20
    assert iterations_to_target(curve, 0.1) is None


def test_quick_runs_with_small_overrides(run_claim, tmp_path) -> None:
    claim, params, results = run_claim(
        "overparam-convnet", {"seeds": "1", "max_steps": "200", "target": "0.5"}
    )
    assert sorted(r["variant"] for r in results) == ["original", "overparam"]
    for r in results:
        assert r["iterations"] is None or 0 < r["iterations"] <= 200
        assert r["steps"] <= 200 and len(r["curve"]) <= 200
        assert r["curve"][0][0] == 0 and math.isfinite(r["final_loss"])
        if r["iterations"] is not None:  # the curve reaches the target where it says
            assert iterations_to_target([tuple(p) for p in r["curve"]], 0.5) == r["iterations"]
        # the loss decreases from the initial ~log(10)
        assert r["final_loss"] < r["curve"][0][1] - 0.5
    v = claim.verdict(params, results)
    json.dumps(dict(v.numbers))
    assert isinstance(v.reproduced, bool)
    assert v.numbers["target"] == 0.5
    assert 0.10 <= v.numbers["extra_param_fraction"] <= 0.20
    assert "median" in v.summary
    path = tmp_path / "fig.png"
    claim.figure(params, results, str(path))
    assert path.stat().st_size > 0


def _fake(pairs: list[tuple[int | None, int | None]]) -> list[dict]:
    out = []
    for s, (a, b) in enumerate(pairs):
        for variant, it in (("original", a), ("overparam", b)):
            curve = [[0, 2.3], [it if it is not None else 100, 0.04 if it else 0.2]]
            out.append({"variant": variant, "seed_index": s, "iterations": it, "curve": curve})
    return out


def test_verdict_rule(tmp_path) -> None:
    claim = get("overparam-convnet")
    params = claim.resolve("quick")
    faster = claim.verdict(params, _fake([(500, 400), (600, 450), (450, 500)]))
    assert faster.reproduced, faster.summary
    assert faster.numbers["median_iterations_original"] == 500
    assert faster.numbers["median_iterations_overparam"] == 450
    assert faster.numbers["seeds_overparam_faster"] == "2/3"
    assert faster.numbers["speedup_ratio"] == pytest.approx(500 / 450)
    slower = claim.verdict(params, _fake([(400, 500), (450, 600), (500, 450)]))
    assert not slower.reproduced
    equal = claim.verdict(params, _fake([(400, 400), (500, 500), (600, 600)]))
    assert not equal.reproduced
    never = claim.verdict(params, _fake([(None, None), (None, None), (1400, 1200)]))
    assert not never.reproduced  # overparam median is infinite
    assert never.numbers["median_iterations_overparam"] is None
    # original never reaches, overparam does on most seeds: reproduced
    only_over = claim.verdict(params, _fake([(None, 900), (None, 1000), (1400, None)]))
    assert only_over.reproduced
    claim.figure(params, _fake([(None, 900), (None, 1000), (1400, None)]), str(tmp_path / "f.png"))


def test_same_seed_same_numbers() -> None:
    claim = get("overparam-convnet")
    params = claim.resolve("quick", {"seeds": "1", "max_steps": "40"})
    units = claim.units(params, 0)
    assert units[0].seed == units[1].seed  # paired: same seed for both variants
    unit = next(u for u in units if u.config["variant"] == "overparam")
    a = claim.run_unit(unit.config, unit.seed)
    b = claim.run_unit(unit.config, unit.seed)
    assert a["curve"] == b["curve"] and a["final_loss"] == b["final_loss"]
    other = claim.units(params, 1)[1]
    c = claim.run_unit(other.config, other.seed)
    assert c["curve"] != a["curve"]
