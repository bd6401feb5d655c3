import json
import math

import numpy as np
import pytest
import torch

from dltheory.claims import get
from dltheory.claims.implicit_acceleration import (
    METHODS,
    descend,
    init_direction,
    loss_and_grad,
    speedup_bounds,
)
from dltheory.data.regression import load_regression
from dltheory.losses import lp_loss, lp_regression_optimum

CLAIM = "implicit-acceleration"


def _write_csv(path, seed: int = 0, m: int = 40, d: int = 3) -> str:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((m, d))
    y = x @ rng.standard_normal(d) + 0.5 * rng.standard_normal(m)
    rows = ["a,b,c,target"] + [
        ",".join(f"{v:.6f}" for v in (*xi, yi)) for xi, yi in zip(x, y, strict=True)
    ]
    path.write_text("\n".join(rows) + "\n")
    return str(path)


@pytest.fixture
def tiny(tmp_path):
    return _write_csv(tmp_path / "tiny.csv")


@pytest.mark.parametrize("p", [4, 2, 3])
def test_closed_form_gradient_matches_autograd(p) -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(30, 4, generator=g, dtype=torch.float64)
    y = torch.randn(30, generator=g, dtype=torch.float64)
    w = torch.randn(4, generator=g, dtype=torch.float64, requires_grad=True)
    ref = lp_loss(x @ w, y, p)
    ref.backward()
    loss, grad = loss_and_grad(x, y, w.detach(), p)
    assert loss == pytest.approx(float(ref.detach()), rel=1e-13)
    assert w.grad is not None
    assert torch.allclose(grad, w.grad, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("p", [4, 2])
@pytest.mark.parametrize("method", METHODS)
def test_closed_form_run_equals_autograd_loop(tiny, method, p) -> None:
    # descend() feeds hand-written chain-rule gradients to torch.optim; a plain
    # autograd loop over lp_loss with the same optimizer must give the same numbers.
    data = load_regression(tiny)
    _, l_star = lp_regression_optimum(data.x, data.y, p)
    direction = init_direction(3, data.num_features)
    a = descend(
        data.x,
        data.y,
        p,
        method,
        0.05,
        direction=direction,
        init_scale=0.1,
        l_star=l_star,
        max_iters=150,
        target=0.0,
    )
    depth = int(method[-1]) if method.startswith("gd-depth") else 1
    w1 = torch.tensor(0.1 * direction, dtype=torch.float64, requires_grad=True)
    omegas = [torch.tensor(0.1, dtype=torch.float64, requires_grad=True) for _ in range(depth - 1)]
    cls = {
        "adagrad": torch.optim.Adagrad,
        "adadelta": torch.optim.Adadelta,
        "adam": torch.optim.Adam,
    }.get(method, torch.optim.SGD)
    opt = cls([w1, *omegas], lr=0.05)
    for _ in range(150):
        opt.zero_grad()
        w = w1
        for o in omegas:
            w = w * o
        lp_loss(data.x @ w, data.y, p).backward()
        opt.step()
    w = w1.detach()
    for o in omegas:
        w = w * o.detach()
    assert a["final_t"] == 150
    assert np.allclose(a["w"], w.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("depth", [2, 3])
def test_end_to_end_update_of_balanced_depth(tiny, depth) -> None:
    # Arora et al., Theorem 1: w <- w - lr ||w||^(2-2/N) (g + (N-1) P_w g) to first order in lr.
    data = load_regression(tiny)
    x, y = data.x, data.y
    u = init_direction(5, data.num_features)
    eps, lr = 0.5, 1e-5
    w0 = eps**depth * u
    _, l_star = lp_regression_optimum(x, y, 4)
    out = descend(
        x,
        y,
        4,
        f"gd-depth{depth}",
        lr,
        direction=u,
        init_scale=eps,
        l_star=l_star,
        max_iters=1,
        target=0.0,
    )
    step = np.array(out["w"]) - w0
    _, g_t = loss_and_grad(x, y, torch.from_numpy(w0), 4)
    g = g_t.numpy()
    norm = np.linalg.norm(w0)
    pg = (w0 @ g) / norm**2 * w0
    predicted = -lr * norm ** (2 - 2 / depth) * (g + (depth - 1) * pg)
    assert np.linalg.norm(step - predicted) <= 1e-3 * np.linalg.norm(predicted)
    # ... which is not plain GD's step (the test can fail)
    plain = -lr * norm ** (2 - 2 / depth) * g
    assert np.linalg.norm(step - plain) > 1e-2 * np.linalg.norm(predicted)


def test_every_method_reduces_the_loss(tiny) -> None:
    claim = get(CLAIM)
    params = claim.resolve("quick", {"dataset": tiny, "max_iters": "200", "per_decade": "1"})
    units = [u for u in claim.units(params, 0) if u.config["lr"] == pytest.approx(0.01)]
    assert {(u.config["p"], u.config["method"]) for u in units} == {
        (p, m) for p in (4, 2) for m in METHODS
    }
    for u in units:
        r = claim.run_unit(u.config, u.seed)
        assert not r["diverged"]
        assert r["final_gap"] < r["loss0"] - r["L_star"], (r["p"], r["method"])
        assert r["curve_t"][0] == 0 and r["curve_t"][-1] == r["final_t"]


def test_reduced_sweep_runs_and_draws(run_claim, tmp_path) -> None:
    claim, params, results = run_claim(CLAIM, {"max_iters": "300", "per_decade": "1"})
    assert len(results) == 2 * len(METHODS) * 6
    assert all(len(r["curve_t"]) <= 300 for r in results)
    v = claim.verdict(params, results)
    json.dumps(dict(v.numbers))
    assert v.label in ("reproduced", "not reproduced")
    for key in ("L*_4", "L*_2", "S_4_lo", "S_2_hi", "condition_a", "condition_b"):
        assert key in v.numbers
    assert v.numbers["L*_2"] == pytest.approx(
        lp_regression_optimum(*load_regression("diabetes").numpy(), 2)[1]
    )
    path = tmp_path / "fig.png"
    claim.figure(params, results, str(path))
    assert path.stat().st_size > 0


def _results(counts: dict[tuple[int, str], int | None]) -> list[dict]:
    """Hand-made results: per (p, method) the given count at lr 0.1, plus worse rates."""
    out = []
    for (p, m), it in counts.items():
        out.append(
            {
                "p": p,
                "method": m,
                "lr": 0.1,
                "iterations": it,
                "final_gap": 1e-6 if it is not None else 1e-3,
                "L_star": 0.1 * p,
            }
        )
        out.append(
            {
                "p": p,
                "method": m,
                "lr": 0.01,
                "iterations": None,
                "final_gap": 1e-2,
                "L_star": 0.1 * p,
            }
        )
        out.append(
            {
                "p": p,
                "method": m,
                "lr": 1.0,
                "iterations": None,
                "final_gap": None,
                "diverged": True,
                "L_star": 0.1 * p,
            }
        )
    return out


GOOD = {
    (4, "gd-depth1"): 1000,
    (4, "gd-depth2"): 100,
    (4, "gd-depth3"): 120,
    (4, "adagrad"): 500,
    (4, "adadelta"): 800,
    (4, "adam"): 50,
    (2, "gd-depth1"): 100,
    (2, "gd-depth2"): 90,
    (2, "gd-depth3"): 95,
    (2, "adagrad"): 60,
    (2, "adadelta"): 300,
    (2, "adam"): 20,
}
PARAMS = {"max_iters": 2000, "target": 1e-4, "dataset": "diabetes"}


def test_verdict_rule_on_hand_made_results() -> None:
    claim = get(CLAIM)
    v = claim.verdict(PARAMS, _results(GOOD))
    assert v.reproduced, v.summary
    assert v.numbers["S_4_lo"] == v.numbers["S_4_hi"] == pytest.approx(10.0)
    assert v.numbers["S_2_lo"] == pytest.approx(100 / 90)
    assert v.numbers["I(p=4, adam)"] == 50 and v.numbers["lr(p=4, adam)"] == 0.1

    slow = dict(GOOD)
    slow[(4, "adagrad")] = 90  # depth 2 slower than AdaGrad at p = 4
    v = claim.verdict(PARAMS, _results(slow))
    assert not v.reproduced and not v.numbers["condition_a"] and v.numbers["condition_b"]

    slow = dict(GOOD)
    slow[(4, "gd-depth3")] = None  # depth 3 must reach the target too
    assert not claim.verdict(PARAMS, _results(slow)).numbers["condition_a"]

    flat = dict(GOOD)
    flat[(2, "gd-depth1")] = 2000  # speed-up 22x at p = 2 > 10x at p = 4
    v = claim.verdict(PARAMS, _results(flat))
    assert not v.reproduced and v.numbers["condition_a"] and not v.numbers["condition_b"]

    assert not claim.verdict(PARAMS, []).reproduced
    missing = [r for r in _results(GOOD) if r["method"] != "adadelta"]
    assert not claim.verdict(PARAMS, missing).reproduced


def test_verdict_unreached_counts_give_bounds() -> None:
    claim = get(CLAIM)
    c = dict(GOOD)
    c[(4, "gd-depth1")] = None  # depth 1 unreached at p = 4: S_4 > 2000 / 100
    v = claim.verdict(PARAMS, _results(c))
    assert v.numbers["S_4_lo"] == pytest.approx(20.0) and math.isinf(v.numbers["S_4_hi"])
    assert v.reproduced, v.summary
    c[(2, "gd-depth1")] = 1900  # S_2 = 1900 / 90 = 21.1 > 20: no longer certain
    assert not claim.verdict(PARAMS, _results(c)).reproduced
    c[(2, "gd-depth1")] = 1700
    c[(2, "gd-depth2")] = c[(2, "gd-depth3")] = None  # S_2 < 1700 / 2000
    v = claim.verdict(PARAMS, _results(c))
    assert v.numbers["S_2_lo"] == 0.0 and v.numbers["S_2_hi"] == pytest.approx(0.85)
    assert v.reproduced, v.summary
    c[(2, "gd-depth1")] = None  # S_2 in [0, inf]: (b) cannot hold
    assert not claim.verdict(PARAMS, _results(c)).reproduced


def test_speedup_bounds() -> None:
    assert speedup_bounds(100, 10, 1000) == (10.0, 10.0)
    assert speedup_bounds(math.inf, 10, 1000) == (100.0, math.inf)
    assert speedup_bounds(100, math.inf, 1000) == (0.0, 0.1)
    assert speedup_bounds(math.inf, math.inf, 1000) == (0.0, math.inf)


def test_best_rate_when_nothing_reached() -> None:
    claim = get(CLAIM)
    c = dict(GOOD)
    c[(4, "gd-depth1")] = None
    res = _results(c)
    v = claim.verdict(PARAMS, res)
    assert v.numbers["I(p=4, gd-depth1)"] is None
    assert v.numbers["lr(p=4, gd-depth1)"] == 0.1  # smallest final gap 1e-3, not the diverged
    assert v.numbers["final_gap(p=4, gd-depth1)"] == 1e-3


def test_bad_inputs(tmp_path) -> None:
    claim = get(CLAIM)
    with pytest.raises(ValueError, match="neither"):
        claim.units(claim.resolve("quick", {"dataset": "nonexistent"}), 0)
    with pytest.raises(ValueError, match=r"--set dataset.*single target"):
        claim.units(claim.resolve("quick", {"dataset": "linnerud"}), 0)
    path = tmp_path / "data.csv"
    _write_csv(path, seed=0)
    units = claim.units(claim.resolve("quick", {"dataset": str(path)}), 0)
    _write_csv(path, seed=1)  # edited after the sweep was planned
    with pytest.raises(ValueError, match="changed"):
        claim.run_unit(units[0].config, units[0].seed)
    with pytest.raises(ValueError, match="per_decade"):
        claim.resolve("quick", {"per_decade": "0"})


def test_same_seed_same_numbers(tiny) -> None:
    claim = get(CLAIM)
    params = claim.resolve("quick", {"dataset": tiny, "max_iters": "500"})
    unit = next(
        u
        for u in claim.units(params, 7)
        if u.config["method"] == "gd-depth2" and u.config["lr"] == pytest.approx(0.1)
    )
    a = claim.run_unit(unit.config, unit.seed)
    b = claim.run_unit(unit.config, unit.seed)
    a.pop("wall_s")
    b.pop("wall_s")
    assert a == b
    assert json.loads(json.dumps(a)) == a
