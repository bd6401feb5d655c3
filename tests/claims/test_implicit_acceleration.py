import json
import math
import time

import numpy as np
import pytest
import torch

from dltheory.claims import get
from dltheory.claims._implicit_acceleration_runs import (
    DEPTH,
    BatchedObjective,
    BatchedRuns,
    best_per_init,
    descend_batched,
    init_directions,
    lr_grid,
)
from dltheory.claims._util import derive_seed
from dltheory.claims.evidence import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, robustness_summary
from dltheory.claims.implicit_acceleration import METHODS, evaluate
from dltheory.data.regression import load_regression
from dltheory.losses import lp_loss, lp_regression_optimum

CLAIM = "implicit-acceleration"
OPTIM = {"adagrad": torch.optim.Adagrad, "adadelta": torch.optim.Adadelta, "adam": torch.optim.Adam}


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


# -- the batched runner ------------------------------------------------------------------


@pytest.mark.parametrize("p", [4, 2, 3])
def test_batched_gradient_matches_autograd(p) -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(30, 4, generator=g, dtype=torch.float64)
    y = torch.randn(30, generator=g, dtype=torch.float64)
    w = torch.randn(5, 4, generator=g, dtype=torch.float64)
    loss, grad = BatchedObjective(x, y, p)(w)
    assert loss.shape == (5,) and grad.shape == (5, 4)
    for r in range(5):  # each row is its own problem
        wr = w[r].clone().requires_grad_(True)
        ref = lp_loss(x @ wr, y, p)
        ref.backward()
        assert float(loss[r]) == pytest.approx(float(ref.detach()), rel=1e-13)
        assert wr.grad is not None
        assert torch.allclose(grad[r], wr.grad, rtol=1e-12, atol=1e-15)


def _reference(x, y, p, method, lr, direction, steps):
    """One torch.optim optimizer at one rate, gradients by autograd: w, L(0), L at ``steps``."""
    w1 = torch.tensor(0.1 * direction, dtype=torch.float64, requires_grad=True)
    omegas = [
        torch.tensor(0.1, dtype=torch.float64, requires_grad=True) for _ in range(DEPTH[method] - 1)
    ]
    opt = OPTIM.get(method, torch.optim.SGD)([w1, *omegas], lr=lr)

    def end_to_end():
        w = w1
        for o in omegas:
            w = w * o
        return w

    with torch.no_grad():
        loss0 = float(lp_loss(x @ end_to_end(), y, p))
    for _ in range(steps):
        opt.zero_grad()
        lp_loss(x @ end_to_end(), y, p).backward()
        opt.step()
    with torch.no_grad():
        w = end_to_end().detach()
        return w.numpy(), loss0, float(lp_loss(x @ w, y, p))


@pytest.mark.parametrize("p", [4, 2])
@pytest.mark.parametrize("method", METHODS)
def test_batched_rows_equal_per_rate_torch_optim(tiny, method, p) -> None:
    # Every row of the batch (2 inits x 4 rates) against its own torch.optim optimizer
    # driven by autograd, to 1e-10 relative on w after 200 steps -- while the rows of the
    # largest rate diverge early and leave the batch (compaction of parameters and state).
    data = load_regression(tiny)
    _, l_star = lp_regression_optimum(data.x, data.y, p)
    dirs = init_directions(3, data.num_features, 2)
    lrs = [1e-3, 0.02, 0.1, 1e3]
    steps = 200
    runs = descend_batched(
        data.x, data.y, p, method, lrs, dirs, init_scale=0.1, l_star=l_star,
        max_iters=steps, target=-1.0, early_stop=False,
    )  # fmt: skip
    status = runs.status_names()
    assert status.count("budget") >= 6
    if (method, p) != ("adadelta", 2):  # AdaDelta's step is bounded: it does not diverge at l2
        assert "diverged" in (status[3], status[7])
    for row, st in enumerate(status):
        k, j = divmod(row, len(lrs))
        w, loss0, loss = _reference(
            data.x, data.y, p, method, lrs[j], dirs[k], int(runs.final_t[row])
        )
        assert runs.loss0[row] == pytest.approx(loss0, rel=1e-12)
        if st == "diverged":
            assert not (loss <= 1e3 * loss0), (row, loss, loss0)  # the reference diverged there too
        elif j < 3:  # (at lr 1e3 a bounded step is chaotic: torch.optim itself is not reproducible)
            assert st == "budget" and runs.final_t[row] == steps
            assert np.max(np.abs(runs.w[row] - w)) <= 1e-10 * np.max(np.abs(w)), (row, lrs[j])


@pytest.mark.parametrize("depth", [2, 3])
def test_end_to_end_update_of_balanced_depth(tiny, depth) -> None:
    # Arora et al., Eq. 10: w <- w - lr ||w||^(2-2/N) (g + (N-1) P_w g) to first order in lr.
    data = load_regression(tiny)
    x, y = data.x, data.y
    u = init_directions(5, data.num_features, 1)
    eps, lr = 0.5, 1e-5
    w0 = eps**depth * u[0]
    _, l_star = lp_regression_optimum(x, y, 4)
    runs = descend_batched(
        x, y, 4, f"gd-depth{depth}", [lr], u, init_scale=eps, l_star=l_star,
        max_iters=1, target=0.0,
    )  # fmt: skip
    step = runs.w[0] - w0
    _, g_t = BatchedObjective(x, y, 4)(torch.from_numpy(w0[None, :]))
    g = g_t[0].numpy()
    norm = np.linalg.norm(w0)
    pg = (w0 @ g) / norm**2 * w0
    predicted = -lr * norm ** (2 - 2 / depth) * (g + (depth - 1) * pg)
    assert np.linalg.norm(step - predicted) <= 1e-3 * np.linalg.norm(predicted)
    plain = -lr * norm ** (2 - 2 / depth) * g  # ... which is not plain GD's step
    assert np.linalg.norm(step - plain) > 1e-2 * np.linalg.norm(predicted)


@pytest.mark.parametrize(("method", "p"), [("gd-depth2", 4), ("adagrad", 4), ("adadelta", 2)])
def test_early_stop_keeps_the_best_rate_and_count(tiny, method, p) -> None:
    data = load_regression(tiny)
    _, l_star = lp_regression_optimum(data.x, data.y, p)
    dirs = init_directions(11, data.num_features, 4)
    kw = dict(init_scale=0.1, l_star=l_star, max_iters=3000, target=1e-4)
    lrs = lr_grid(3)
    fast = descend_batched(data.x, data.y, p, method, lrs, dirs, early_stop=True, **kw)
    slow = descend_batched(data.x, data.y, p, method, lrs, dirs, early_stop=False, **kw)
    best = best_per_init(fast)
    assert best == best_per_init(slow)
    assert all(b["reached"] for b in best)
    assert len({b["iterations"] for b in best}) > 1  # the inits end at different times
    st_fast, st_slow = fast.status_names(), slow.status_names()
    stopped = [r for r, s in enumerate(st_fast) if s == "stopped"]
    assert stopped and "stopped" not in st_slow
    assert fast.loop_iterations < slow.loop_iterations
    for r in stopped:  # stopped at its init's best count; without the stop it ends later
        k = r // len(lrs)
        assert fast.final_t[r] == best[k]["iterations"] < slow.final_t[r]
    for r, s in enumerate(st_fast):
        if s != "stopped":
            assert (s, fast.final_t[r]) == (st_slow[r], slow.final_t[r])


def test_best_rate_ties_and_censoring() -> None:
    # init 0: two rates reach at 50, the smaller gap wins; init 1: equal count and gap,
    # the smaller rate wins; init 2: none reached -- censored, the smallest final gap
    # (a diverged row's nan gap is never it)
    lrs = [0.01, 0.1, 1.0]
    nan = math.nan
    runs = BatchedRuns(
        lrs=lrs,
        inits=3,
        status=np.array([0, 0, 3, 3, 0, 0, 2, 2, 1]),
        final_t=np.array([50, 50, 50, 40, 40, 40, 100, 100, 3]),
        final_gap=np.array([2e-5, 1e-5, 3e-3, 1e-5, 1e-5, 1e-5, 5e-2, 4e-2, nan]),
        loss0=np.ones(9),
        w=np.zeros((9, 2)),
    )
    best = best_per_init(runs)
    assert [(b["lr"], b["iterations"], b["reached"]) for b in best] == [
        (0.1, 50, True),
        (0.1, 40, True),
        (0.1, None, False),
    ]
    assert best[2]["final_gap"] == 4e-2 and best[0]["row"] == 1


def test_lr_grid_and_init_directions() -> None:
    grid = lr_grid(3)
    assert len(grid) == 16 and grid[0] == pytest.approx(1e-4) and grid[-1] == pytest.approx(10.0)
    assert grid[12] == 1.0 and grid[13] == pytest.approx(10 ** (1 / 3))
    with pytest.raises(ValueError, match="per_decade"):
        lr_grid(0)
    dirs = init_directions(7, 5, 3)
    for k in range(3):
        u = np.random.default_rng(derive_seed(7, "init", k)).standard_normal(5)
        np.testing.assert_allclose(dirs[k], u / np.linalg.norm(u), rtol=0, atol=1e-15)
    assert not np.allclose(dirs[0], dirs[1])
    np.testing.assert_array_equal(init_directions(7, 5, 2), dirs[:2])  # k-th is k-th


# -- the verdict rule on hand-made results ----------------------------------------------

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
PARAMS = {
    "dataset": "diabetes",
    "datasets": "linnerud:Weight",
    "inits": 6,
    "per_decade": 3,
    "max_iters": 2000,
    "target": 1e-4,
}


def _unit(key, p, m, counts, max_iters=2000):
    return {
        "dataset": key,
        "dataset_key": key,
        "p": p,
        "method": m,
        "L_star": 0.1 * p,
        "lrs": [0.1, 1.0],
        "max_iters": max_iters,
        "best": [
            {
                "init": k,
                "row": 2 * k,
                "lr": 0.1,
                "iterations": c,
                "reached": c is not None,
                "final_gap": 1e-6 if c is not None else 1e-3,
            }
            for k, c in enumerate(counts)
        ],  # fmt: skip
        "status_counts": {"reached": 1, "diverged": 1, "budget": 0, "stopped": 0},
        "curve": {"init": 0, "lr": 0.1, "t": [0, 1], "gap": [1.0, 0.5]},
        "wall_s": 0.5,
    }


def _results(table, key="diabetes", inits=6, noise=0.05, seed=0, **overrides):
    """Per (p, method) the count of ``table`` times per-init noise; ``overrides`` replace
    a (p, method)'s counts per init (``None``: censored)."""
    rng = np.random.default_rng(seed)
    out = []
    for (p, m), base in table.items():
        counts = [int(round(base * math.exp(noise * rng.standard_normal()))) for _ in range(inits)]
        counts = overrides.get(f"{m}_{p}", counts)
        out.append(_unit(key, p, m, counts))
    return out


def test_verdict_reproduced_on_hand_made_results() -> None:
    claim = get(CLAIM)
    res = _results(GOOD) + _results(GOOD, key="linnerud:Weight", seed=1)
    v = claim.verdict(PARAMS, res)
    assert v.outcome == REPRODUCED, v.summary
    a2, a3, b = v.effects
    assert a2.estimate == pytest.approx(5.0, rel=0.1)  # min(1000, 500, 800) / 100
    assert a3.estimate == pytest.approx(500 / 120, rel=0.1)
    assert b.estimate == pytest.approx((1000 / 100) / (100 / 90), rel=0.1)
    assert all(e.n == 6 and e.outcome == REPRODUCED for e in v.effects)
    assert v.decide_by == ""
    json.dumps(dict(v.numbers))
    assert v.numbers["diabetes l4 gd-depth2: median iterations"] == pytest.approx(100, rel=0.1)
    assert v.numbers["diabetes l4 adam: best lr"] == "0.1 x6"
    assert v.numbers["diabetes: diverged rows"] == 12
    assert v.numbers["sum_unit_wall_s"] == pytest.approx(0.5 * 24)
    assert [(r.setting, r.outcome, r.preregistered) for r in v.robustness] == [
        ("diabetes", REPRODUCED, True),
        ("linnerud:Weight", REPRODUCED, False),
    ]
    assert v.summary.endswith(robustness_summary(v.robustness))


def test_failing_a_is_not_reproduced_even_when_b_holds() -> None:
    claim = get(CLAIM)
    fast_adagrad = dict(GOOD)
    fast_adagrad[(4, "adagrad")] = 60  # AdaGrad beats depth 2 (100) and 3 (120) at p = 4
    v = claim.verdict({**PARAMS, "datasets": "none"}, _results(fast_adagrad))
    a2, a3, b = v.effects
    assert a2.outcome == a3.outcome == NOT_REPRODUCED
    assert b.outcome == REPRODUCED
    assert v.outcome == NOT_REPRODUCED and v.decide_by == ""
    # only depth 3 slower than the rivals: one failing effect is enough
    d3 = dict(GOOD)
    d3[(4, "gd-depth3")] = 700
    d3[(2, "gd-depth3")] = 700
    v = claim.verdict({**PARAMS, "datasets": "none"}, _results(d3))
    assert [e.outcome for e in v.effects] == [REPRODUCED, NOT_REPRODUCED, REPRODUCED]
    assert v.outcome == NOT_REPRODUCED


def test_failing_b_is_not_reproduced() -> None:
    flat = dict(GOOD)
    flat[(2, "gd-depth1")] = 2000 - 1  # speed-up 22x at p = 2 > 10x at p = 4
    v = get(CLAIM).verdict({**PARAMS, "datasets": "none"}, _results(flat))
    assert [e.outcome for e in v.effects] == [REPRODUCED, REPRODUCED, NOT_REPRODUCED]
    assert v.outcome == NOT_REPRODUCED


def test_noisy_effect_is_inconclusive_with_decide_by() -> None:
    close = dict(GOOD)
    close[(4, "gd-depth2")] = 480  # ~ the rival (AdaGrad 500), and noisy: interval meets 1
    v = get(CLAIM).verdict(
        {**PARAMS, "datasets": "none", "inits": 3}, _results(close, inits=3, noise=0.2)
    )
    a2 = v.effects[0]
    assert a2.low < 1.0 < a2.high and a2.outcome == INCONCLUSIVE
    assert v.effects[1].outcome == REPRODUCED
    assert v.outcome == INCONCLUSIVE
    assert "(a2)" in v.decide_by and "inits" in v.decide_by


def test_censoring_downgrades_to_inconclusive() -> None:
    claim = get(CLAIM)
    params = {**PARAMS, "datasets": "none"}
    # depth 1 at p = 4 censored for one init: (b) uses I4(gd-depth1) -> cannot decide, although
    # its interval lies above 1; (a2), (a3) use the rival minimum, exact (AdaGrad reached)
    counts = [1000, 980, None, 1010, 995, 1003]
    v = claim.verdict(params, _results(GOOD, **{"gd-depth1_4": counts}))
    a2, a3, b = v.effects
    assert a2.outcome == a3.outcome == REPRODUCED
    assert b.interval_outcome == REPRODUCED and b.outcome == INCONCLUSIVE and b.censored == 1
    assert v.outcome == INCONCLUSIVE
    assert "1 of 6 inits censored" in v.decide_by
    assert "a larger max_iters (the full profile) decides (b)" in v.decide_by
    assert "(b)" in v.decide_by and "(a2)" not in v.decide_by
    assert "censored" in v.robustness[0].detail
    assert v.numbers["diabetes l4 gd-depth1: censored inits"] == 1
    # a censored effect that would fail is inconclusive too, not 'not reproduced'
    v = claim.verdict(params, _results(GOOD, **{"gd-depth2_4": [None] * 6}))
    assert v.effects[0].interval_outcome == NOT_REPRODUCED and v.effects[0].censored == 6
    assert v.outcome == INCONCLUSIVE
    # the rival minimum is censored only when all three rivals are
    out = {f"{m}_4": [None, 900, 900, 900, 900, 900] for m in ("gd-depth1", "adagrad", "adadelta")}
    v = claim.verdict(params, _results(GOOD, **out))
    assert v.effects[0].censored == 1 and v.outcome == INCONCLUSIVE
    # ... but a decisive failure elsewhere still decides
    flat = dict(GOOD)
    flat[(2, "gd-depth1")] = 1999
    v = claim.verdict(params, _results(flat, **{"gd-depth1_4": counts}))
    assert v.outcome == INCONCLUSIVE  # (b) is the failing one and it is censored
    fast = dict(GOOD)
    fast[(4, "adagrad")] = 60
    v = claim.verdict(params, _results(fast, **{"gd-depth1_4": counts}))
    assert v.outcome == NOT_REPRODUCED  # (a2), (a3) fail uncensored


def test_robustness_rows_do_not_change_the_verdict() -> None:
    claim = get(CLAIM)
    params = {**PARAMS, "datasets": "linnerud:Weight,linnerud:Pulse"}
    bad = dict(GOOD)
    bad[(4, "adagrad")] = 60
    pre = _results(GOOD)
    good_rows = _results(GOOD, key="linnerud:Weight", seed=1) + _results(
        GOOD, key="linnerud:Pulse", seed=2
    )
    bad_rows = _results(bad, key="linnerud:Weight", seed=1) + _results(
        bad, key="linnerud:Pulse", seed=2
    )
    v_good = claim.verdict(params, pre + good_rows)
    v_bad = claim.verdict(params, pre + bad_rows)
    assert v_good.outcome == v_bad.outcome == REPRODUCED
    assert [e.to_json() for e in v_good.effects] == [e.to_json() for e in v_bad.effects]
    assert [r.outcome for r in v_bad.robustness] == [REPRODUCED, NOT_REPRODUCED, NOT_REPRODUCED]
    assert v_bad.summary.endswith("holds on 1 of 3 data sets")
    # and a failing pre-registered set is not rescued by holding robustness sets
    v = claim.verdict(params, _results(bad) + good_rows)
    assert v.outcome == NOT_REPRODUCED
    assert [r.outcome for r in v.robustness] == [NOT_REPRODUCED, REPRODUCED, REPRODUCED]


def test_missing_results_are_not_reproduced() -> None:
    claim = get(CLAIM)
    params = {**PARAMS, "datasets": "none"}
    assert claim.verdict(params, []).outcome == NOT_REPRODUCED
    res = [r for r in _results(GOOD) if r["method"] != "adadelta"]
    v = claim.verdict(params, res)
    assert v.outcome == NOT_REPRODUCED and "missing results" in v.summary


def test_evaluate_counts_a_censored_value_at_max_iters() -> None:
    units = {(r["p"], r["method"]): r for r in _results(GOOD, **{"gd-depth2_4": [None] * 6})}
    ev = evaluate(units, max_iters=2000, inits=6)
    vals, cens = ev.counts[(4, "gd-depth2")]
    assert vals == [2000.0] * 6 and all(cens)
    assert tuple(e.censored for e in ev.effects) == (6, 0, 0)


# -- end to end -------------------------------------------------------------------------


def test_quick_profile_end_to_end_on_tiny_csv(tiny, tmp_path) -> None:
    claim = get(CLAIM)
    other = _write_csv(tmp_path / "other.csv", seed=1, m=25)
    params = claim.resolve(
        "quick", {"dataset": tiny, "datasets": f"{other},{tiny}", "max_iters": "400", "inits": "2"}
    )
    units = claim.units(params, 0)
    assert len(units) == 2 * 2 * len(METHODS)  # the repeated tiny set is not run twice
    assert {u.seed for u in units} == {units[0].seed}  # paired inits across every unit
    t0 = time.perf_counter()
    results = [claim.run_unit(u.config, u.seed) for u in units]
    assert time.perf_counter() - t0 < 20
    results = json.loads(json.dumps(results))  # JSON-serializable metrics
    for r in results:
        assert len(r["best"]) == 2 and len(r["rows"]["status"]) == 2 * 16
        assert set(r["rows"]["status"]) <= {"reached", "diverged", "budget", "stopped"}
        assert sum(r["status_counts"].values()) == 32
        assert len(r["curve"]["t"]) <= 300 and r["curve"]["t"][0] == 0
        assert r["curve"]["t"][-1] == r["rows"]["final_t"][r["best"][0]["row"]]
        assert r["curve"]["lr"] == r["best"][0]["lr"]
    v = claim.verdict(params, results)
    json.dumps(dict(v.numbers))
    assert v.outcome in (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE)
    assert [r.setting for r in v.robustness] == ["tiny.csv", "other.csv"]
    assert v.robustness[0].preregistered and not v.robustness[1].preregistered
    path = tmp_path / "fig.png"
    claim.figure(params, results, str(path))
    assert path.stat().st_size > 10_000


def test_units_of_the_profiles() -> None:
    claim = get(CLAIM)
    quick, full = claim.resolve("quick"), claim.resolve("full")
    assert (quick["inits"], quick["per_decade"], quick["max_iters"]) == (3, 3, 20_000)
    assert (full["inits"], full["per_decade"], full["max_iters"]) == (10, 3, 200_000)
    units = claim.units(quick, 0)
    assert len(units) == 4 * 2 * len(METHODS)
    keys = [u.config["dataset"] for u in units[:: 2 * len(METHODS)]]
    assert keys == ["diabetes", "linnerud:Weight", "linnerud:Waist", "linnerud:Pulse"]
    prints = {u.config["dataset"]: u.config["fingerprint"] for u in units}
    assert len(set(prints.values())) == 4
    alone = claim.units(claim.resolve("full", {"datasets": "none"}), 0)
    assert len(alone) == 2 * len(METHODS) and alone[0].config["inits"] == 10
    same = claim.units(claim.resolve("quick", {"datasets": "linnerud:weight,linnerud:0"}), 0)
    assert len(same) == 2 * 2 * len(METHODS)  # one target, two spellings


def test_bad_inputs(tmp_path) -> None:
    claim = get(CLAIM)
    with pytest.raises(ValueError, match="neither"):
        claim.units(claim.resolve("quick", {"dataset": "nonexistent"}), 0)
    with pytest.raises(ValueError, match=r"--set dataset.*single target"):
        claim.units(claim.resolve("quick", {"dataset": "linnerud"}), 0)
    with pytest.raises(ValueError, match=r"--set datasets.*single target"):
        claim.units(claim.resolve("quick", {"datasets": "linnerud"}), 0)
    with pytest.raises(ValueError, match=r"--set datasets.*Weight, Waist, Pulse"):
        claim.units(claim.resolve("quick", {"datasets": "linnerud:height"}), 0)
    with pytest.raises(ValueError, match=r"--set datasets.*neither"):
        claim.units(claim.resolve("quick", {"datasets": "diabetes,nope.csv"}), 0)
    path = tmp_path / "data.csv"
    _write_csv(path, seed=0)
    units = claim.units(claim.resolve("quick", {"dataset": str(path), "datasets": "none"}), 0)
    _write_csv(path, seed=1)  # edited after the sweep was planned
    with pytest.raises(ValueError, match="changed"):
        claim.run_unit(units[0].config, units[0].seed)
    for name, value in (("per_decade", "0"), ("inits", "1"), ("max_iters", "0")):
        with pytest.raises(ValueError, match=f"--set {name}"):
            claim.resolve("quick", {name: value})
    for name, value in (("inits", "5000"), ("per_decade", "31"), ("max_iters", "100000000")):
        with pytest.raises(ValueError, match=rf"--set {name}: expected an integer in \["):
            claim.resolve("quick", {name: value})


def test_same_seed_same_numbers(tiny) -> None:
    claim = get(CLAIM)
    params = claim.resolve("quick", {"dataset": tiny, "datasets": "none", "max_iters": "500"})
    unit = next(u for u in claim.units(params, 7) if u.config["method"] == "gd-depth2")
    a = claim.run_unit(unit.config, unit.seed)
    b = claim.run_unit(unit.config, unit.seed)
    a.pop("wall_s")
    b.pop("wall_s")
    assert a == b
    assert json.loads(json.dumps(a)) == a
    other = next(u for u in claim.units(params, 8) if u.config["method"] == "gd-depth2")
    c = claim.run_unit(other.config, other.seed)
    assert c["rows"] != a["rows"]  # another base seed: other init directions
