"""The claims end-to-end-dynamics and end-to-end-optimizer (reduced runs + verdict rules)."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from dltheory.claims import get

SMALL = {"datasets": "linnerud", "depths": "2"}


def test_dynamics_reduced_run_and_rule(run_claim, tmp_path) -> None:
    claim, params, results = run_claim("end-to-end-dynamics", SMALL)
    # balanced at lr / 2^k for k = 0..3, unbalanced at lr and lr / 8
    assert sorted((r["balanced"], r["halving"]) for r in results) == [
        (False, 0),
        (False, 3),
        (True, 0),
        (True, 1),
        (True, 2),
        (True, 3),
    ]
    by = {(r["balanced"], r["halving"]): r for r in results}
    assert all(r["lr"] * r["steps"] == pytest.approx(1.0) for r in results)  # one horizon
    assert by[True, 0]["balancedness_start"] < 1e-12 < 0.1 < by[False, 0]["balancedness_start"]
    for k in range(3):  # first order: halving lr halves the deviation
        ratio = by[True, k]["max_rel_deviation"] / by[True, k + 1]["max_rel_deviation"]
        assert 1.8 <= ratio <= 2.2
    v = claim.verdict(params, results)
    assert v.outcome == "reproduced", v.summary
    claim.figure(params, results, str(tmp_path / "fig.png"))
    assert (tmp_path / "fig.png").stat().st_size > 0

    def spoiled(balanced: bool, k: int, value: float) -> str:
        bad = copy.deepcopy(results)
        next(r for r in bad if (r["balanced"], r["halving"]) == (balanced, k))[
            "max_rel_deviation"
        ] = value
        return claim.verdict(params, bad).outcome

    d = {key: r["max_rel_deviation"] for key, r in by.items()}
    assert spoiled(True, 1, d[True, 0] / 1.5) == "not reproduced"  # ratio 1.5: not first order
    assert spoiled(True, 1, d[True, 0] / 2.5) == "not reproduced"  # ratio 2.5
    assert spoiled(True, 3, 1.5e-3) == "not reproduced"  # too large at the smallest rate
    assert spoiled(False, 3, 0.4 * d[False, 0]) == "not reproduced"  # the control vanishes
    assert spoiled(False, 3, 5 * d[True, 3]) == "not reproduced"  # not measurable
    assert spoiled(False, 0, 1.9 * d[False, 3]) == "reproduced"  # still within the persistence
    missing = [r for r in results if (r["balanced"], r["halving"]) != (True, 2)]
    assert claim.verdict(params, missing).outcome == "not reproduced"


def test_closed_form_gd_equals_autograd_sgd_and_literal_rule_equals_reference() -> None:
    import torch

    from dltheory.claims._deep_linear import gd_path, literal_rule, xy
    from dltheory.data import load_regression
    from dltheory.losses import lp_loss
    from dltheory.nets import DeepLinear
    from dltheory.optim import end_to_end_update_reference

    x, y = xy(load_regression("linnerud"))
    for depth in (2, 3):
        a = DeepLinear(3, 3, depth, hidden=5, init="near-zero", scale=0.5, seed=1)
        a = a.to(torch.float64)
        b = DeepLinear(3, 3, depth, hidden=5, init="near-zero", scale=0.5, seed=1)
        b = b.to(torch.float64)
        path, (l0, l1) = gd_path(a, x, y, 0.01, 25)
        opt = torch.optim.SGD(b.parameters(), lr=0.01)
        first = float(lp_loss(b(x), y, 2.0).detach())
        for _ in range(25):
            opt.zero_grad()
            lp_loss(b(x), y, 2.0).backward()
            opt.step()
        assert torch.allclose(path[-1], b.end_to_end, rtol=1e-12, atol=1e-14)
        assert l0 == pytest.approx(first, rel=1e-12) and l1 < l0
        for wa, wb in zip(a.weights, b.weights, strict=True):  # the net itself was updated
            assert torch.allclose(wa, wb, rtol=1e-12, atol=1e-14)
        w = torch.randn(3, 4, generator=torch.Generator().manual_seed(depth), dtype=torch.float64)
        g = torch.randn(3, 4, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
        ref = end_to_end_update_reference(w, g, depth)
        assert torch.allclose(literal_rule(w, g, depth), ref, rtol=1e-11, atol=1e-13)


def test_optimizer_reduced_run_and_rule(run_claim, tmp_path) -> None:
    claim, params, results = run_claim(
        "end-to-end-optimizer",
        {"datasets": "diabetes", "depths": "3", "widths": "64", "cost_cases": "linnerud,square"},
    )
    track = sorted((r for r in results if r["kind"] == "track"), key=lambda r: r["halving"])
    assert [r["halving"] for r in track] == [0, 1, 2, 3]
    assert all(r["vector_path"] for r in track)  # diabetes: one target, closed form for vectors
    assert max(r["max_rel_vs_rule"] for r in track) <= 1e-10
    for a, b in zip(track[:-1], track[1:], strict=True):  # first order in lr
        assert 1.8 <= a["max_rel_deviation"] / b["max_rel_deviation"] <= 2.2
    cost = {r["case"]: r for r in results if r["kind"] == "cost"}
    assert set(cost) == {"linnerud", "square"} and cost["square"]["shape"] == [64, 64]
    assert len(cost["linnerud"]["ratios"]) == params["blocks"]
    assert cost["linnerud"]["deep_step_s"] > 0 and cost["linnerud"]["end_to_end_step_s"] > 0
    v = claim.verdict(params, results)
    assert "literal rule" in v.summary and len(v.effects) == 2
    claim.figure(params, results, str(tmp_path / "fig.png"))

    def with_ratios(rs: list[dict], linnerud: float, square: float) -> list[dict]:
        out = copy.deepcopy(rs)
        for r in out:
            if r["kind"] == "cost":
                base = linnerud if r["case"] == "linnerud" else square
                r["ratios"] = [base * (1 + 0.01 * i) for i in range(len(r["ratios"]))]
        return out

    good = with_ratios(results, 1.5, 1.2)
    assert claim.verdict(params, good).outcome == "reproduced"
    assert claim.verdict(params, with_ratios(results, 1.5, 0.7)).outcome == "not reproduced"
    noisy = with_ratios(results, 1.5, 1.0)
    for r in noisy:
        if r["kind"] == "cost" and r["case"] == "square":
            r["ratios"] = [0.9, 1.1] * 5 + [1.0]  # straddles 1: timing cannot decide
    v = claim.verdict(params, noisy)
    assert v.outcome == "inconclusive" and "timing blocks" in v.decide_by
    bad = copy.deepcopy(good)
    track_bad = next(r for r in bad if r["kind"] == "track")
    track_bad["max_rel_vs_rule"] = 1e-6  # the optimizer is not the rule
    assert claim.verdict(params, bad).outcome == "not reproduced"
    bad = copy.deepcopy(good)
    next(r for r in bad if r["kind"] == "track" and r["halving"] == 3)["max_rel_deviation"] = 1.5e-3
    assert claim.verdict(params, bad).outcome == "not reproduced"


@pytest.mark.parametrize("claim_id", ["end-to-end-dynamics", "end-to-end-optimizer"])
def test_bad_dataset_is_refused_before_any_work(claim_id, tmp_path) -> None:
    claim = get(claim_id)
    with pytest.raises(ValueError, match="datasets.*nope"):
        claim.units(claim.resolve("quick", {"datasets": "nope"}), 0)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b,y\n1,2,3\n4,5\n")
    with pytest.raises(ValueError, match="row 3"):
        claim.units(claim.resolve("quick", {"datasets": str(ragged)}), 0)
    with pytest.raises(ValueError, match="steps"):
        claim.resolve("quick", {"steps": "999"})


def test_csv_dataset_and_edited_file(tmp_path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 4))
    y = x @ rng.normal(size=4) + 0.1 * rng.normal(size=30)
    path = tmp_path / "data.csv"
    np.savetxt(path, np.column_stack([x, y]), delimiter=",", header="a,b,c,d,y", comments="")
    claim = get("end-to-end-dynamics")
    units = claim.units(claim.resolve("quick", {"datasets": str(path), "depths": "2"}), 0)
    # the seed follows the data's fingerprint, not the file's (temporary) path
    copy_path = tmp_path / "elsewhere.csv"
    copy_path.write_bytes(path.read_bytes())
    again = claim.units(claim.resolve("quick", {"datasets": str(copy_path), "depths": "2"}), 0)
    assert [u.seed for u in units] == [u.seed for u in again]
    smallest = next(u for u in units if u.config["balanced"] and u.config["halving"] == 3)
    r = claim.run_unit(smallest.config, smallest.seed)
    assert r["shape"] == [1, 4] and r["max_rel_deviation"] <= 1e-3
    path.write_text(path.read_text().replace("\n", "\n", 1) + "1,2,3,4,5\n")
    with pytest.raises(ValueError, match="changed since"):
        claim.run_unit(units[0].config, units[0].seed)
