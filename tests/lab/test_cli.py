from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dltheory.cli import app, parse_sets
from dltheory.lab import Store

runner = CliRunner()


def _error_line(result: object) -> str:
    stderr = getattr(result, "stderr", "")
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_list_and_show() -> None:
    res = runner.invoke(app, ["list"])
    assert res.exit_code == 0, res.output
    assert "fast-toy" in res.stdout and "Slow toy claim" in res.stdout
    res = runner.invoke(app, ["show", "fast-toy"])
    assert res.exit_code == 0, res.output
    for text in ("uniform draws", "tests/lab/toy_claims.py", "draws", "1000", "tol"):
        assert text in res.stdout


def test_parse_sets() -> None:
    assert parse_sets(["a=1", " b = x,y "]) == {"a": "1", "b": "x,y"}
    with pytest.raises(ValueError, match="--set"):
        parse_sets(["novalue"])


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        (["show", "no-such-claim"], r"unknown claim id 'no-such-claim'"),
        (["run", "no-such-claim"], r"unknown claim id"),
        (["run", "fast-toy", "--set", "bogus=1"], r"--set bogus: unknown parameter"),
        (["run", "fast-toy", "--set", "n=many"], r"--set n: expected int"),
        (["run", "fast-toy", "--set", "n=0"], r"--set n: expected an integer in .*, got 0"),
        (["run", "fast-toy", "--set", "n"], r"--set: expected NAME=VALUE"),
        (["run", "fast-toy", "--profile", "huge"], r"--profile: expected one of"),
        (["run", "fast-toy", "--executor", "slurm"], r"--executor"),
        (["reproduce", "--only", "nope"], r"unknown claim id 'nope'"),
        (["report", "{tmp}/empty"], r"holds no claim results"),
        (["run", "implicit-acceleration", "--set", "dataset=nope"], r"neither a bundled"),
        (["run", "implicit-acceleration", "--set", "dataset=linnerud"], r"single target"),
        (["run", "implicit-acceleration", "--set", "dataset={tmp}/bad.csv"], r"row 3, column 2"),
        (["run", "end-to-end-dynamics", "--set", "datasets={tmp}/ragged.csv"], r"row 3: 2 cells"),
        (["run", "fast-toy", "--seed", "abc"], r"Invalid value for '--seed'"),
        (["run", "fast-toy", "--workers", "abc"], r"Invalid value for '--workers'"),
        (["run"], r"Missing argument 'claim_id'"),
        (["run", "fast-toy", "--bogus"], r"No such option: --bogus"),
        (["--bogus"], r"No such option: --bogus"),
        (["run", "fast-toy", "--set", "tol=nan"], r"--set tol: expected a finite number"),
        (["run", "fast-toy", "--set", "n=1000000000"], r"--set n: expected an integer in \["),
        (["report", ""], r"report: expected a directory, got an empty string"),
    ],
)
def test_bad_input_one_line_exit_2(tmp_path: Path, args: list[str], pattern: str) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad.csv").write_text("a,b,y\n1,2,3\n4,x,6\n")
    (tmp_path / "ragged.csv").write_text("a,b,y\n1,2,3\n4,5\n")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    res = runner.invoke(app, [*args, *(["--out", str(tmp_path / "o")] if args[0] == "run" else [])])
    assert res.exit_code == 2
    assert re.search(pattern, _error_line(res))
    assert not (tmp_path / "o" / "results.sqlite").exists()


def test_empty_out_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for cmd in (["run", "fast-toy"], ["reproduce", "--only", "fast-toy"]):
        res = runner.invoke(app, [*cmd, "--out", ""])
        assert res.exit_code == 2
        assert "--out: expected a directory, got an empty string" in _error_line(res)
    assert list(tmp_path.iterdir()) == []  # nothing written into the current directory


def test_unwritable_out(tmp_path: Path) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("keep me")
    for cmd in (["run", "fast-toy", "--out"], ["reproduce", "--out"]):
        res = runner.invoke(app, [*cmd, str(blocker / "sub")])
        assert res.exit_code == 2
        assert "--out: cannot write to" in _error_line(res)
    assert blocker.read_text() == "keep me"


@pytest.mark.parametrize("content", [b"garbage\x00" * 100, b"SQLite format 3\x00" + b"\x07" * 2000])
def test_corrupt_store_left_identical(tmp_path: Path, content: bytes) -> None:
    store = tmp_path / "results.sqlite"
    store.write_bytes(content)
    res = runner.invoke(app, ["run", "fast-toy", "--out", str(tmp_path)])
    assert res.exit_code == 2
    line = _error_line(res)
    assert "is not a dltheory results store" in line and str(store) in line
    assert store.read_bytes() == content


def test_reproduce_and_report(tmp_path: Path) -> None:
    out = tmp_path / "res"
    res = runner.invoke(app, ["reproduce", "--only", "fast-toy", "--out", str(out), "--seed", "3"])
    assert res.exit_code == 0, res.output
    assert "fast-toy" in res.stdout and "reproduced" in res.stdout
    html = (out / "report.html").read_text()
    assert "<img src='data:image/png;base64," in html or '<img src="data:image/png;base64,' in html
    md = (out / "REPORT.md").read_text()
    doc = json.loads((out / "claims" / "fast-toy.json").read_text())
    assert f"| [fast-toy](#fast-toy) | {doc['verdict']} |" in md
    assert "figures/fast-toy.png" in md
    with Store(out) as s:
        n = s.count()
    # a second `run` of the same claim and seed reuses every unit; `report` rewrites
    res = runner.invoke(app, ["run", "fast-toy", "--out", str(out), "--seed", "3"])
    assert res.exit_code == 0, res.output
    assert json.loads((out / "claims" / "fast-toy.json").read_text())["units_reused"] == n
    (out / "report.html").unlink()
    res = runner.invoke(app, ["report", str(out)])
    assert res.exit_code == 0, res.output
    assert (out / "report.html").is_file()


def test_show_with_out_prints_the_stored_units_and_leaves_the_store_alone(tmp_path: Path) -> None:
    out = tmp_path / "res"
    res = runner.invoke(app, ["run", "fast-toy", "--out", str(out), "--profile", "quick"])
    assert res.exit_code == 0, res.output
    with Store(out) as s:
        n = s.count("fast-toy")
        before = s.rows()
    res = runner.invoke(app, ["show", "fast-toy", "--out", str(out), "--workers", "4"])
    assert res.exit_code == 0, res.output
    assert re.search(rf"\b{n} stored units of fast-toy \(protocol v1\)", res.stdout), res.stdout
    with Store(out) as s:
        assert s.rows() == before
    # a directory without a store, a bad worker count: one line, exit 2, nothing created
    empty = tmp_path / "empty"
    empty.mkdir()
    res = runner.invoke(app, ["show", "fast-toy", "--out", str(empty)])
    assert res.exit_code == 2 and "--out: no results store" in _error_line(res)
    assert list(empty.iterdir()) == []
    res = runner.invoke(app, ["show", "fast-toy", "--out", str(out), "--workers", "0"])
    assert res.exit_code == 2 and "--workers" in _error_line(res)
