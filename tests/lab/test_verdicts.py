"""Outcomes through the lab: --strict, the contradiction check, recording, the report's sections."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dltheory.claims import recorded
from dltheory.cli import app
from dltheory.lab.report import load_summaries, render_markdown

runner = CliRunner()


def _run(tmp_path: Path, *args: str) -> object:
    return runner.invoke(app, [*args, "--out", str(tmp_path)])


def test_strict_exit_codes(tmp_path: Path) -> None:
    assert _run(tmp_path / "a", "run", "fast-toy").exit_code == 0
    assert _run(tmp_path / "a", "run", "fast-toy", "--strict").exit_code == 0
    # tol = 0: the mean is never exactly 1/2, so the claim is not reproduced
    res = _run(tmp_path / "b", "run", "fast-toy", "--set", "tol=0")
    assert res.exit_code == 0 and "not reproduced" in res.stdout
    res = _run(tmp_path / "b", "run", "fast-toy", "--set", "tol=0", "--strict")
    assert res.exit_code == 1 and "not reproduced: fast-toy" in res.stderr
    res = _run(tmp_path / "c", "reproduce", "--only", "fast-toy", "--strict")
    assert res.exit_code == 0
    # inconclusive is not a failure under --strict: one unit gives no interval
    res = _run(tmp_path / "d", "run", "stat-toy", "--set", "n=1", "--strict")
    assert res.exit_code == 0 and "inconclusive" in res.stdout


def test_summary_records_profile_outcome_effects_history(tmp_path: Path) -> None:
    res = _run(tmp_path, "run", "stat-toy", "--profile", "full")
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "claims" / "stat-toy.json").read_text())
    assert doc["profile"] == "full" and doc["overrides"] == {} and doc["claim_version"] == 2
    assert doc["verdict"] == "reproduced" and doc["effects"][0]["outcome"] == "reproduced"
    assert doc["effects"][0]["n"] == 12 and doc["robustness"][0]["preregistered"]
    assert doc["history"][0]["version"] == 2 and doc["history"][0]["why"] == "seeds vary"
    assert doc["version"].endswith("+v2")  # units are keyed by the protocol version
    text = render_markdown(load_summaries(tmp_path))
    for part in ("### Effects", "### Robustness", "### Protocol history", "| v1 -> v2 |"):
        assert part in text
    assert "| mean | 0." in text and "| 12 |" in text  # estimate and seeds in the effects table
    res = _run(tmp_path / "one", "run", "stat-toy", "--set", "n=1")
    doc = json.loads((tmp_path / "one" / "claims" / "stat-toy.json").read_text())
    assert doc["verdict"] == "inconclusive" and "at least 2 seeds" in doc["decide_by"]
    assert doc["overrides"] == {"n": "1"}
    text = render_markdown(load_summaries(tmp_path / "one"))
    assert "*What would decide it*: mean: at least 2 seeds" in text


def _records(claim: str, outcome: str, version: int = 1) -> list[recorded.Record]:
    return [
        recorded.Record(claim, version, "full", outcome, "2026-12-01", "abc123", "s", {}),
    ]


def test_check_against_records(tmp_path: Path) -> None:
    docs = [
        {"id": "x", "verdict": "reproduced", "profile": "quick", "claim_version": 1},
        {"id": "y", "verdict": "inconclusive", "profile": "quick", "claim_version": 1},
        {"id": "z", "verdict": "not reproduced", "profile": "quick", "claim_version": 1},
        {"id": "w", "verdict": "reproduced", "profile": "quick", "claim_version": 2},
        {"id": "v", "verdict": "reproduced", "profile": "quick", "overrides": {"n": "1"}},
    ]
    recs = (
        _records("x", "reproduced")
        + _records("y", "reproduced")
        + _records("z", "reproduced")
        + _records("w", "not reproduced", version=1)  # another protocol version
        + _records("v", "not reproduced")
    )
    status = {c.claim: c.status for c in recorded.check(docs, recs)}
    assert status == {
        "x": "agrees",
        "y": "weaker",
        "z": "contradicts",
        "w": "unrecorded",
        "v": "skipped",
    }


def test_verdicts_command_and_recording(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    book = tmp_path / "recorded.json"
    monkeypatch.setattr(recorded, "RECORDED_PATH", book)
    out = tmp_path / "full"
    assert _run(out, "run", "fast-toy", "--profile", "full").exit_code == 0
    res = runner.invoke(app, ["verdicts", str(out), "--record"])
    assert res.exit_code == 0, res.output
    recs = recorded.load_records(book)
    assert [(r.claim, r.version, r.profile, r.outcome) for r in recs] == [
        ("fast-toy", 1, "full", "reproduced")
    ]
    assert recs[0].date and recs[0].commit
    # a quick run agrees; a quick run that says the opposite is a contradiction (exit 1)
    quick = tmp_path / "quick"
    assert _run(quick, "run", "fast-toy").exit_code == 0
    res = runner.invoke(app, ["verdicts", str(quick)])
    assert res.exit_code == 0 and "agrees" in res.stdout
    doc_path = quick / "claims" / "fast-toy.json"
    doc = json.loads(doc_path.read_text())
    doc["verdict"] = "not reproduced"
    doc_path.write_text(json.dumps(doc))
    res = runner.invoke(app, ["verdicts", str(quick)])
    assert res.exit_code == 1 and "fast-toy: quick says 'not reproduced'" in res.stderr
    # only full-profile runs are recorded; the book is left as it was
    before = book.read_text()
    res = runner.invoke(app, ["verdicts", str(quick), "--record"])
    assert res.exit_code == 2 and "only full-profile runs are recorded" in res.stderr
    assert book.read_text() == before
    # a full run whose overrides change the protocol (fewer draws per unit) is refused too
    other = tmp_path / "other"
    assert _run(other, "run", "fast-toy", "--profile", "full", "--set", "draws=10").exit_code == 0
    res = runner.invoke(app, ["verdicts", str(other), "--record"])
    assert res.exit_code == 2 and "runs 20 units the plain full profile does not" in res.stderr
    assert book.read_text() == before
    # a full run on a subset of the full profile's units is recorded, saying what it rests on
    part = tmp_path / "part"
    assert _run(part, "run", "fast-toy", "--profile", "full", "--set", "n=5").exit_code == 0
    res = runner.invoke(app, ["verdicts", str(part), "--record"])
    assert res.exit_code == 0, res.output
    assert "5 of the full profile's 20 units (--set n=5)" in " ".join(res.stdout.split())
    (rec,) = recorded.load_records(book)
    assert rec.overrides == {"n": "5"} and rec.units == (5, 20)
    assert rec.rests_on == "5 of the full profile's 20 units (--set n=5)"
    (c,) = recorded.check(load_summaries(quick), [rec])  # the check names it too
    assert c.status == "contradicts" and "on 5 of the full profile's 20 units" in c.detail
    res = runner.invoke(app, ["verdicts", str(tmp_path / "nope")])
    assert res.exit_code == 2


def test_report_refuses_a_hand_edited_summary(tmp_path: Path) -> None:
    assert _run(tmp_path, "run", "fast-toy").exit_code == 0
    path = tmp_path / "claims" / "fast-toy.json"
    doc = json.loads(path.read_text())
    for field, value in (("numbers", 3), ("verdict", "great"), ("effects", [1]), ("seed", "x")):
        bad = {**doc, field: value}
        path.write_text(json.dumps(bad))
        res = runner.invoke(app, ["report", str(tmp_path)])
        assert res.exit_code == 2, field
        assert field in res.stderr and "Traceback" not in res.stderr


def test_summaries_print_verbatim(tmp_path: Path) -> None:
    # rich would read "[0.9, 1.1]" as markup and drop it; summaries are escaped
    res = _run(tmp_path, "run", "stat-toy", "--set", "n=1")
    assert res.exit_code == 0
    doc = json.loads((tmp_path / "claims" / "stat-toy.json").read_text())
    assert doc["summary"].startswith("[-inf, inf] mean")
    assert "stat-toy inconclusive: [-inf, inf] mean" in " ".join(res.stdout.split())
