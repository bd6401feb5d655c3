import json
import math

import pytest
import torch

from dltheory.claims import get
from dltheory.claims.overparam_convnet import (
    L2_WEIGHT,
    SPEEDUP,
    build,
    collapse_into,
    count_params,
    iterations_to_target,
    learning_rate,
)

CLAIM = "overparam-convnet"


def test_overparam_net_is_the_same_function_when_collapsed() -> None:
    over = build("overparam", 1)
    orig = build("original", 2)
    x = torch.rand(17, 1, 8, 8) - 0.5
    mask = (torch.rand(17, 512) < 0.5).float() / 0.5
    with torch.no_grad():
        before = orig(x)
        out_over, out_over_masked = over(x), over(x, mask)
    assert not torch.allclose(before, out_over, atol=1e-3)  # different nets before collapsing
    collapse_into(over, orig)
    with torch.no_grad():
        assert torch.allclose(orig(x), out_over, atol=1e-5, rtol=0)
        assert torch.allclose(orig(x, mask), out_over_masked, atol=1e-5, rtol=0)
        # the L2 term is on the end-to-end matrix: the same objective in function space
        assert float(orig.l2()) == pytest.approx(float(over.l2()), rel=1e-5)
        w2w1 = over.fc1.factors[1] @ over.fc1.factors[0]
        expected = L2_WEIGHT * (
            (w2w1.square().sum() + over.fc1.bias.square().sum()) / 2 + over.fc2.l2()
        )
        assert float(over.l2()) == pytest.approx(float(expected), rel=1e-6)
    # the paper's rule: inner width min(in, out), so the product has no rank constraint
    assert [tuple(f.shape) for f in over.fc1.factors] == [(256, 256), (512, 256)]
    assert [tuple(f.shape) for f in over.fc2.factors] == [(10, 512), (10, 10)]
    assert [tuple(f.shape) for f in orig.fc1.factors] == [(512, 256)]


def test_initialization_is_the_tutorials() -> None:
    net = build("overparam", 3)
    for w in (net.conv1.weight, net.conv2.weight, *net.fc1.factors, *net.fc2.factors):
        w = w.detach()
        assert float(w.abs().max()) <= 0.2 + 1e-7  # truncated at two standard deviations
        assert float(w.std()) == pytest.approx(0.088, abs=0.01)  # std 0.1 before truncation
    assert torch.all(net.conv1.bias == 0) and torch.all(net.conv2.bias == 0.1)
    assert torch.all(net.fc1.bias == 0.1) and torch.all(net.fc2.bias == 0.1)
    # paired: the layers that are not overparameterized start identical in both variants
    orig = build("original", 3)
    assert torch.equal(orig.conv1.weight, net.conv1.weight)
    assert torch.equal(orig.conv2.weight, net.conv2.weight)
    assert not torch.equal(build("original", 4).conv1.weight, orig.conv1.weight)


def test_param_counts() -> None:
    n_orig, n_over = count_params(build("original")), count_params(build("overparam"))
    assert n_orig == (25 * 32 + 32) + (25 * 32 * 64 + 64) + (256 * 512 + 512) + (512 * 10 + 10)
    assert n_over - n_orig == 256 * 256 + 10 * 10
    assert n_over / n_orig - 1 == pytest.approx(0.348, abs=1e-3)


def test_iterations_to_target_and_schedule() -> None:
    curve = [[0, 2.3, 2.0], [25, 0.7, 0.4], [50, 0.5, 0.2], [75, 0.4, 0.1]]
    assert iterations_to_target(curve, 0.5) == 50
    assert iterations_to_target(curve, 0.1) is None
    # 0.01 * 0.95 ** floor(64 * step / 55000): first decay after 55000 examples
    assert learning_rate(0) == learning_rate(859) == pytest.approx(0.01)
    assert learning_rate(860) == pytest.approx(0.0095)
    assert learning_rate(2 * 860) == pytest.approx(0.01 * 0.95**2)


def _fake(pairs: list[tuple[int | None, int | None]]) -> list[dict]:
    out = []
    for s, (a, b) in enumerate(pairs):
        for variant, it in (("original", a), ("overparam", b)):
            end = 2000 if it is None else it
            curve = [[0, 2.6, 2.3], [end, 0.25 if it else 0.4, 0.01]]
            out.append({"variant": variant, "seed_index": s, "iterations": it, "curve": curve})
    return out


def test_verdict_reproduced_not_reproduced_inconclusive() -> None:
    claim = get(CLAIM)
    params = claim.resolve("quick")
    faster = claim.verdict(params, _fake([(600, 300), (650, 330), (700, 340), (620, 320)]))
    assert faster.outcome == "reproduced", faster.summary
    (effect,) = faster.effects
    assert effect.name == SPEEDUP and effect.threshold == 1.0 and effect.n == 4
    ratios = [600 / 300, 650 / 330, 700 / 340, 620 / 320]
    assert effect.estimate == pytest.approx(math.prod(ratios) ** 0.25)
    assert effect.low > 1.0
    assert faster.numbers["speedup"] == pytest.approx(effect.estimate)
    assert faster.numbers["seeds_overparam_faster"] == "4/4"
    assert faster.numbers["median_iterations_original"] == pytest.approx(635)
    assert "speed-up x" in faster.summary and "95% CI" in faster.summary
    json.dumps(dict(faster.numbers))

    slower = claim.verdict(params, _fake([(300, 600), (330, 650), (340, 700), (320, 620)]))
    assert slower.outcome == "not reproduced", slower.summary
    # equal counts: a speed-up of exactly 1 lies "at or below 1"
    equal = claim.verdict(params, _fake([(400, 400), (500, 500), (600, 600), (450, 450)]))
    assert equal.outcome == "not reproduced"

    mixed = claim.verdict(params, _fake([(600, 300), (300, 620), (500, 480), (420, 500)]))
    assert mixed.outcome == "inconclusive"
    assert "seeds" in mixed.decide_by and mixed.effects[0].low < 1 < mixed.effects[0].high


def test_censored_counts_make_the_verdict_inconclusive(tmp_path) -> None:
    claim = get(CLAIM)
    params = claim.resolve("quick")
    max_steps = params["max_steps"]
    # decisive on the interval (overparam faster everywhere), but one run never reached the target
    results = _fake([(None, 300), (650, 330), (700, 340), (620, 320)])
    v = claim.verdict(params, results)
    assert v.outcome == "inconclusive"
    assert "1 of 4 seeds censored" in v.decide_by and "a larger budget decides it" in v.decide_by
    assert f"--set max_steps={2 * max_steps}" in v.decide_by
    (effect,) = v.effects
    assert effect.interval_outcome == "reproduced" and effect.censored == 1
    assert effect.samples[0] == pytest.approx(max_steps / 300)  # censored at max_steps
    assert v.numbers["censored_runs"] == {"original": 1, "overparam": 0}
    assert v.numbers["per_seed_original_vs_overparam"]["0"] == [None, 300]
    json.dumps(dict(v.numbers))
    path = tmp_path / "fig.png"
    claim.figure(params, results, str(path))
    assert path.stat().st_size > 0


def test_reduced_quick_run_is_paired_and_serializable(run_claim, tmp_path) -> None:
    claim, params, results = run_claim(
        CLAIM, {"seeds": "2", "max_steps": "60", "target": "0", "eval_every": "20"}
    )
    assert sorted((r["seed_index"], r["variant"]) for r in results) == [
        (0, "original"),
        (0, "overparam"),
        (1, "original"),
        (1, "overparam"),
    ]
    by = {(r["seed_index"], r["variant"]): r for r in results}
    for s in (0, 1):
        a, b = by[(s, "original")], by[(s, "overparam")]
        # identical conv layers and biases at the start, identical batches and dropout masks
        assert a["init_digest"] == b["init_digest"]
        assert a["stream_digest"] == b["stream_digest"]
        assert a["curve"] != b["curve"]  # yet different networks
    assert by[(0, "original")]["init_digest"] != by[(1, "original")]["init_digest"]
    assert by[(0, "original")]["stream_digest"] != by[(1, "original")]["stream_digest"]
    for r in results:
        assert r["iterations"] is None and r["censored"] and r["steps"] == 60
        assert [p[0] for p in r["curve"]] == [0, 20, 40, 60]
        assert r["curve"][-1][1] < r["curve"][0][1]  # the objective decreases
        assert r["final_objective"] == r["curve"][-1][1]
        assert r["num_params"] == {"original": 188810, "overparam": 254446}[r["variant"]]
    v = claim.verdict(params, results)
    assert v.outcome == "inconclusive" and "a larger budget decides it" in v.decide_by
    json.dumps(dict(v.numbers))
    path = tmp_path / "fig.png"
    claim.figure(params, results, str(path))
    assert path.stat().st_size > 0


def test_target_reached_is_where_the_curve_says_and_stops_early() -> None:
    claim = get(CLAIM)
    params = claim.resolve("quick", {"seeds": "1", "max_steps": "200", "target": "1.5"})
    unit = claim.units(params, 0)[0]
    r = claim.run_unit(unit.config, unit.seed)
    assert r["iterations"] is not None and not r["censored"]
    assert iterations_to_target(r["curve"], 1.5) == r["iterations"]
    assert r["steps"] == r["iterations"] + max(25, math.ceil(0.1 * r["iterations"])) < 200


def test_same_seed_same_numbers() -> None:
    claim = get(CLAIM)
    params = claim.resolve("quick", {"seeds": "1", "max_steps": "30", "eval_every": "10"})
    units = claim.units(params, 0)
    assert units[0].seed == units[1].seed  # paired: same seed for both variants
    unit = next(u for u in units if u.config["variant"] == "overparam")
    a = claim.run_unit(unit.config, unit.seed)
    b = claim.run_unit(unit.config, unit.seed)
    assert a["curve"] == b["curve"] and a["stream_digest"] == b["stream_digest"]
    other = next(u for u in claim.units(params, 1) if u.config["variant"] == "overparam")
    c = claim.run_unit(other.config, other.seed)
    assert c["curve"] != a["curve"]
