"""The claims end-to-end-dynamics and end-to-end-optimizer (reduced runs + verdict rules)."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from dltheory.claims import get

SMALL = {"datasets": "linnerud", "depths": "2"}


def test_dynamics_reduced_run_and_rule(run_claim, tmp_path) -> None:
    claim, params, results = run_claim("end-to-end-dynamics", SMALL)
    assert len(results) == 3  # balanced, unbalanced, balanced at lr / 2
    v = claim.verdict(params, results)
    bal = next(r for r in results if r["balanced"] and r["lr_divisor"] == 1)
    unb = next(r for r in results if not r["balanced"])
    half = next(r for r in results if r["lr_divisor"] == 2)
    assert bal["balancedness_start"] < 1e-12 and unb["balancedness_start"] > 0.1
    assert bal["max_rel_deviation"] <= 1e-3 < unb["max_rel_deviation"]
    # the deviation is first order in lr: halving lr (same horizon) about halves it
    assert 1.6 < bal["max_rel_deviation"] / half["max_rel_deviation"] < 2.5
    assert v.reproduced, v.summary
    claim.figure(params, results, str(tmp_path / "fig.png"))
    assert (tmp_path / "fig.png").stat().st_size > 0

    bad = copy.deepcopy(results)
    next(r for r in bad if r["balanced"] and r["lr_divisor"] == 1)["max_rel_deviation"] = 2e-3
    assert not claim.verdict(params, bad).reproduced
    bad = copy.deepcopy(results)
    next(r for r in bad if not r["balanced"])["max_rel_deviation"] = 2 * bal["max_rel_deviation"]
    assert not claim.verdict(params, bad).reproduced


def test_optimizer_reduced_run_and_rule(run_claim, tmp_path) -> None:
    claim, params, results = run_claim(
        "end-to-end-optimizer", {"datasets": "diabetes", "depths": "3", "widths": "256"}
    )
    track = next(r for r in results if r["kind"] == "track")
    assert track["vector_path"]  # diabetes: one target, closed form for vectors
    assert track["max_rel_vs_rule"] <= 1e-10
    assert track["max_rel_deviation"] <= 1e-3
    cost = next(r for r in results if r["kind"] == "cost")
    assert cost["deep_step_s"] > 0 and cost["end_to_end_step_s"] > 0
    v = claim.verdict(params, results)
    assert "literal rule" in v.summary
    claim.figure(params, results, str(tmp_path / "fig.png"))

    good = copy.deepcopy(results)
    next(r for r in good if r["kind"] == "cost")["ratio"] = 3.0
    assert claim.verdict(params, good).reproduced
    bad = copy.deepcopy(good)
    next(r for r in bad if r["kind"] == "cost")["ratio"] = 0.9
    assert not claim.verdict(params, bad).reproduced
    bad = copy.deepcopy(good)
    next(r for r in bad if r["kind"] == "track")["max_rel_vs_rule"] = 1e-6
    assert not claim.verdict(params, bad).reproduced
    bad = copy.deepcopy(good)
    next(r for r in bad if r["kind"] == "track")["max_rel_deviation"] = 1.5e-3
    assert not claim.verdict(params, bad).reproduced


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
    r = claim.run_unit(units[0].config, units[0].seed)
    assert r["shape"] == [1, 4] and r["max_rel_deviation"] <= 1e-3
    path.write_text(path.read_text().replace("\n", "\n", 1) + "1,2,3,4,5\n")
    with pytest.raises(ValueError, match="changed since"):
        claim.run_unit(units[0].config, units[0].seed)
