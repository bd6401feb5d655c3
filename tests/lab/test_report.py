"""The report: every section rendered from a summary, pinned to golden files; bad summaries refused.

The golden files (``tests/lab/golden/``) are the report of two hand-made summaries
that use every field: a statistical claim with effects (a ratio and a difference,
one unbounded side), robustness rows, protocol history, numbers, parameters,
overrides and a data note; and an exact claim with none of them.  A change of the
report's text shows up as a diff against them; after an intended change,
regenerate with ``DLTHEORY_REGEN_GOLDEN=1 pytest tests/lab/test_report.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from dltheory.lab import report

GOLDEN = Path(__file__).parent / "golden"
#: A 1x1 PNG (the report embeds whatever bytes the figure file holds).
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d4944415478da63f8cfc0f01f0005000201a5f3e6d10000000049454e44ae426082"
)


def _docs() -> list[dict[str, Any]]:
    stat = {
        "id": "stat-claim",
        "verdict": "inconclusive",
        "title": "A statistical claim",
        "source": "Someone et al., 2017",
        "statement": "Depth helps.\nIt helps a lot.",
        "summary": "half of it holds",
        "rule": "paired ratio > 1 with a 95 % t interval",
        "decide_by": "--set seeds=8",
        "data_note": "diabetes (scikit-learn) | bundled",
        "profile": "quick",
        "claim_version": 3,
        "numbers": {"speed-up": 1.2345678, "ranks": [1, 2.5, None], "note": "a|b"},
        "params": {"seeds": 4, "lr": 0.001},
        "overrides": {"seeds": "4"},
        "effects": [
            {
                "name": "speed-up",
                "scale": "ratio",
                "estimate": 1.53,
                "low": 1.47,
                "high": None,
                "n": 24,
                "effect_size": 2.345,
                "threshold": 1.0,
                "direction": "greater",
                "outcome": "reproduced",
            },
            {
                "name": "gap",
                "scale": "difference",
                "estimate": -0.0123,
                "low": -0.05,
                "high": 0.0254,
                "n": 3,
                "effect_size": None,
                "threshold": 0,
                "direction": "less",
                "outcome": "inconclusive",
            },
        ],
        "robustness": [
            {
                "setting": "linnerud",
                "outcome": "not reproduced",
                "detail": "x0.9",
                "preregistered": True,
            },
            {"setting": "digits", "outcome": "reproduced"},
        ],
        "history": [
            {
                "version": 3,
                "date": "2026-11-30",
                "change": "more seeds",
                "why": "one seed cannot decide",
                "previous": [
                    {
                        "profile": "full",
                        "outcome": "reproduced",
                        "date": "2026-11-01",
                        "commit": "0123456789abcdef",
                    }
                ],
            },
            {"version": 2, "date": "2026-10-01", "change": "x", "why": "y", "previous": []},
        ],
        "seconds": 12.345,
        "units_run": 7,
        "units_reused": 2,
        "seed": 0,
    }
    exact = {"id": "exact-claim", "verdict": "reproduced", "seed": 5, "seconds": 0.25}
    broken = {"id": "z-claim", "verdict": "not reproduced", "profile": None, "title": "<b>&</b>"}
    return [exact, stat, broken]


def _write(out: Path, docs: list[dict[str, Any]]) -> None:
    (out / "claims").mkdir(parents=True)
    (out / "figures").mkdir()
    for d in docs:
        (out / "claims" / f"{d['id']}.json").write_text(json.dumps(d))
    (out / "figures" / "stat-claim.png").write_bytes(PNG)


@pytest.fixture
def frozen_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report.time, "strftime", lambda fmt: "2026-12-02 10:00:00")


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("DLTHEORY_REGEN_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"report changed: diff against {path}"


def test_markdown_matches_golden(tmp_path: Path, frozen_time: None) -> None:
    _write(tmp_path, _docs())
    docs = report.load_summaries(tmp_path)
    assert [d["id"] for d in docs] == ["exact-claim", "stat-claim", "z-claim"]
    _golden("report.md", report.render_markdown(docs, tmp_path))
    # without out_dir every claim's figure is linked
    assert "![exact-claim](figures/exact-claim.png)" in report.render_markdown(docs)
    assert "exact-claim.png" not in (GOLDEN / "report.md").read_text()


def test_html_matches_golden(tmp_path: Path, frozen_time: None) -> None:
    _write(tmp_path, _docs())
    _golden("report.html", report.render_html(report.load_summaries(tmp_path), tmp_path))


def test_write_report_writes_both(tmp_path: Path, frozen_time: None) -> None:
    _write(tmp_path, _docs())
    html_path, md_path = report.write_report(tmp_path)
    assert (html_path.name, md_path.name) == ("report.html", "REPORT.md")
    assert md_path.read_text() == (GOLDEN / "report.md").read_text()
    assert html_path.read_text() == (GOLDEN / "report.html").read_text()


def test_tally_counts_each_outcome() -> None:
    docs = [{"verdict": v} for v in ("reproduced", "reproduced", "not reproduced", "inconclusive")]
    text = report._tally(docs)  # type: ignore[arg-type]
    assert text == "2 reproduced, 1 not reproduced, 1 inconclusive, of 4 claims"


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([1, 2], "a JSON object is expected"),
        ({"verdict": "reproduced"}, "no 'id'"),
        ({"id": "x"}, "no 'verdict'"),
        ({"id": "x", "verdict": "maybe"}, "verdict 'maybe' is not one of"),
        (
            {"id": "x", "verdict": "reproduced", "seconds": True},
            "field 'seconds' should be int or float",
        ),
        (
            {"id": "x", "verdict": "reproduced", "seed": 1.5},
            "field 'seed' should be int, got float",
        ),
        (
            {"id": "x", "verdict": "reproduced", "profile": 3},
            "field 'profile' should be str or NoneType",
        ),
        (
            {"id": "x", "verdict": "reproduced", "effects": [1]},
            "field 'effects' should be a list of objects",
        ),
        (
            {"id": "x", "verdict": "reproduced", "robustness": ["a"]},
            "field 'robustness' should be a list",
        ),
        (
            {"id": "x", "verdict": "reproduced", "history": [None]},
            "field 'history' should be a list",
        ),
    ],
)
def test_bad_summaries_are_refused_naming_file_and_field(
    tmp_path: Path, doc: Any, message: str
) -> None:
    (tmp_path / "claims").mkdir()
    (tmp_path / "claims" / "x.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="x.json") as info:
        report.load_summaries(tmp_path)
    assert message in str(info.value)


def test_unreadable_summary_and_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no claims/ folder"):
        report.load_summaries(tmp_path)
    (tmp_path / "claims").mkdir()
    (tmp_path / "claims" / "x.json").write_bytes(b"\xff{")
    with pytest.raises(ValueError, match="is not a claim summary"):
        report.load_summaries(tmp_path)
    (tmp_path / "claims" / "x.json").write_text("{")
    with pytest.raises(ValueError, match="is not a claim summary"):
        report.load_summaries(tmp_path)
    (tmp_path / "claims" / "x.json").unlink()
    (tmp_path / "claims" / "note.txt").write_text("not a summary")  # only *.json files are read
    assert report.load_summaries(tmp_path) == []
