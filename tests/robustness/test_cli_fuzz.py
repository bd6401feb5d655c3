"""Bad command lines: one line on stderr, exit 2, the results directory left byte for byte."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from dltheory.claims.catalogue import builtin_claims
from dltheory.cli import app

from .harness import TRIED

runner = CliRunner()
CLAIMS = builtin_claims()


def _snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A results directory holding a real run (a store, a summary, a figure, a report)."""
    out = tmp_path_factory.mktemp("results")
    res = runner.invoke(app, ["reproduce", "--only", "convac-equivalence", "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


def _bad_number(p: object) -> st.SearchStrategy[str]:
    lo, hi, kind = p.minimum, p.maximum, p.kind  # type: ignore[attr-defined]
    options = [
        st.sampled_from(["nan", "inf", "-inf", "abc", "", "1e400", "0x10", "1j", "true"]),
    ]
    if kind in ("int", "ints"):
        options.append(st.sampled_from(["2.5", "1e3", "3.0"]))
        if lo is not None:
            options.append(st.integers(max_value=int(lo) - 1, min_value=int(lo) - 10**6).map(str))
        if hi is not None:
            options.append(
                st.integers(min_value=int(hi) + 1, max_value=int(hi) * 10 + 10**6).map(str)
            )
            options.append(st.just(str(10**30)))
    if kind == "ints":
        options.append(st.just(",".join(["2"] * 100)))
        options.append(st.just("1,,x"))
    if kind == "float":
        if lo is not None:
            options.append(
                st.floats(max_value=float(lo), exclude_max=True, min_value=float(lo) - 1e6).map(
                    repr
                )
            )
        if hi is not None and math.isfinite(hi):
            options.append(
                st.floats(min_value=float(hi), exclude_min=True, max_value=float(hi) + 1e6).map(
                    repr
                )
            )
    return st.one_of(*options)


def _bad_set(claim: object) -> st.SearchStrategy[list[str]]:
    params = [p for p in claim.params if p.kind in ("int", "float", "ints")]  # type: ignore[attr-defined]
    strategies = [st.just(["--set", "no_such_parameter=1"]), st.just(["--set", "novalue"])]
    for p in params:
        strategies.append(_bad_number(p).map(lambda text, p=p: ["--set", f"{p.name}={text}"]))
    for p in claim.params:  # type: ignore[attr-defined]
        if p.choices:
            strategies.append(st.just(["--set", f"{p.name}=not-a-choice"]))
        if p.kind == "bool":
            strategies.append(st.just(["--set", f"{p.name}=maybe"]))
    return st.one_of(*strategies)


_BAD_OPTIONS = st.sampled_from(
    [
        ["--seed", "abc"],
        ["--seed", "1.5"],
        ["--seed", "-1"],
        ["--seed", str(2**64)],
        ["--workers", "abc"],
        ["--workers", "0"],
        ["--profile", "huge"],
        ["--executor", "slurm"],
        ["--address", "tcp://nowhere:1"],
        ["--bogus"],
        ["--set"],
    ]
)


@pytest.mark.parametrize("claim", CLAIMS, ids=[c.id for c in CLAIMS])
@given(data=st.data())
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_bad_command_lines(results: Path, claim: object, data: st.DataObject) -> None:
    before = _snapshot(results)
    bad = data.draw(st.one_of(_bad_set(claim), _BAD_OPTIONS))
    command = data.draw(st.sampled_from(["run", "reproduce"]))
    argv = (
        ["run", claim.id, *bad]  # type: ignore[attr-defined]
        if command == "run"
        else ["reproduce", "--only", claim.id, *bad]  # type: ignore[attr-defined]
    )
    if command == "reproduce" and bad[:1] == ["--set"]:
        argv = ["run", claim.id, *bad]  # type: ignore[attr-defined]  # reproduce has no --set
    TRIED[f"cli {argv[0]}"].add(" ".join(bad))
    res = runner.invoke(app, [*argv, "--out", str(results)])
    lines = [ln for ln in res.stderr.splitlines() if ln.strip() and "━" not in ln]
    assert res.exit_code == 2, (argv, res.output)
    assert len(lines) == 1 and lines[0].startswith("dltheory: error: "), (argv, res.stderr)
    assert "Traceback" not in res.output
    assert _snapshot(results) == before, argv


@given(
    argv=st.sampled_from(
        [
            ["run"],
            ["show"],
            ["show", "nope"],
            ["report"],
            ["report", ""],
            ["verdicts", "/no/such/dir"],
            ["list", "--bogus"],
            ["nope"],
            ["run", "nope"],
            ["reproduce", "--only", "nope"],
            ["run", "convac-equivalence", "--out", ""],
        ]
    )
)
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_bad_commands(results: Path, argv: list[str]) -> None:
    before = _snapshot(results)
    TRIED["cli commands"].add(" ".join(argv))
    res = runner.invoke(app, argv)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.exit_code == 2, (argv, res.output)
    assert len(lines) == 1 and lines[0].startswith("dltheory: error: "), (argv, res.stderr)
    assert _snapshot(results) == before
