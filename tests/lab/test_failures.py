"""Failed units, foreign and old stores, Ctrl-C: nothing non-finite stored, nothing lost."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dltheory.cli import app
from dltheory.lab.store import APPLICATION_ID, SCHEMA, STORE_NAME, Store

from .conftest import ROOT, toy_env

runner = CliRunner()


#: A line of rich's progress display ("name  bar  done/total  h:mm:ss"): not a message.
_BAR = re.compile(r"\d+/\d+\s+\d+:\d\d:\d\d\s*$")


def _error_line(res: object) -> str:
    text = getattr(res, "stderr", "")
    lines = [ln for ln in text.splitlines() if ln.strip() and not _BAR.search(ln)]
    assert len(lines) == 1, lines
    return lines[0]


def test_nan_metrics_and_worker_errors_fail_the_unit_not_the_store(tmp_path: Path) -> None:
    args = ["run", "flaky-toy", "--out", str(tmp_path), "--set", "nan_units=1", "--set"]
    res = runner.invoke(app, [*args, "raise_units=1"])
    assert res.exit_code == 2
    line = _error_line(res)
    assert "claim flaky-toy: 2 of 4 units failed, nothing decided" in line
    assert "the 2 others are stored" in line and "Traceback" not in res.stderr
    with Store(tmp_path) as s:
        assert s.count("flaky-toy") == 2  # only the good units are results
        reasons = sorted(f["reason"] for f in s.failures("flaky-toy"))
        assert reasons[0].startswith("ValueError: lr: the run diverged in unit 1")
        assert reasons[1] == "metrics: NaN or infinite values (the measurement failed)"
        for row in s.rows("flaky-toy"):  # what is stored is standard, finite JSON
            json.dumps(row["metrics"], allow_nan=False)
    assert not (tmp_path / "claims" / "flaky-toy.json").exists()  # no verdict, no figure
    assert not (tmp_path / "figures" / "flaky-toy.png").exists()
    # without failing units, the 2 good ones are reused and the 2 others run
    res = runner.invoke(app, ["run", "flaky-toy", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "claims" / "flaky-toy.json").read_text())
    assert doc["units_reused"] == 2 and doc["units_run"] == 2
    with Store(tmp_path) as s:
        assert s.count("flaky-toy") == 4


def test_a_failure_is_replaced_by_a_later_success(tmp_path: Path) -> None:
    with Store(tmp_path) as s:
        s.fail("c", {"a": 1}, 0, "v", "ValueError: boom")
        assert [f["reason"] for f in s.failures("c")] == ["ValueError: boom"]
        with pytest.raises(ValueError, match="NaN or infinite"):
            s.put("c", {"a": 1}, 0, "v", {"x": float("inf")}, 0.1)
        assert s.count("c") == 0 and len(s.failures()) == 1
        s.put("c", {"a": 1}, 0, "v", {"x": 1.0}, 0.1)
        assert s.count("c") == 1 and s.failures() == []


def test_store_sets_and_checks_its_application_id(tmp_path: Path) -> None:
    with Store(tmp_path) as s:
        s.put("c", {}, 0, "v", {"x": 1}, 0.0)
    con = sqlite3.connect(tmp_path / STORE_NAME)
    assert con.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    con.close()
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    path = foreign / STORE_NAME
    con = sqlite3.connect(path)  # an *empty* SQLite file of another application
    con.execute("PRAGMA application_id = 1234")
    con.execute("PRAGMA journal_mode = WAL")
    con.close()
    before = path.read_bytes()
    with pytest.raises(ValueError, match="another application .application_id 0x4d2"):
        Store(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in foreign.iterdir()) == [STORE_NAME]  # no -wal / -shm left


def test_refused_wal_database_gets_no_side_files(tmp_path: Path) -> None:
    path = tmp_path / STORE_NAME
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("CREATE TABLE t (x)")
    con.execute("INSERT INTO t VALUES (1)")
    con.commit()
    con.close()
    before = path.read_bytes()
    res = runner.invoke(app, ["run", "fast-toy", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "not a dltheory results store" in _error_line(res)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [STORE_NAME]


def test_schema_1_store_is_upgraded_keeping_its_rows(tmp_path: Path) -> None:
    path = tmp_path / STORE_NAME
    con = sqlite3.connect(path)
    con.executescript(
        """
        CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE units (key TEXT PRIMARY KEY, claim TEXT NOT NULL, config TEXT NOT NULL,
            seed INTEGER NOT NULL, version TEXT NOT NULL, metrics TEXT NOT NULL,
            seconds REAL NOT NULL, created REAL NOT NULL);
        INSERT INTO meta VALUES ('app', 'dltheory'), ('schema', '1');
        INSERT INTO units VALUES ('k', 'c', '{}', 0, 'v', '{"x": 1}', 0.0, 0.0);
        """
    )
    con.commit()
    con.close()
    with Store(path) as s:
        assert s.get("k") is not None and s.failures() == []
    con = sqlite3.connect(path)
    assert dict(con.execute("SELECT name, value FROM meta"))["schema"] == str(SCHEMA)
    con.close()
    con = sqlite3.connect(path)  # a schema from the future is refused, untouched
    con.execute("UPDATE meta SET value = '99' WHERE name = 'schema'")
    con.commit()
    con.close()
    before = path.read_bytes()
    with pytest.raises(ValueError, match="schema '99'"):
        Store(path)
    assert path.read_bytes() == before


def _start_slow_toy(out: Path, stored: int) -> tuple[subprocess.Popen[str], Path]:
    """Start ``dltheory run slow-toy`` in its own process group; return when ``stored`` are in."""
    # 200 units of 0.3 s: a minute of work, so the signal always finds the sweep running (with the
    # default 20 a loaded machine could finish the sweep before the test had seen 3 stored)
    cmd = [sys.executable, "-m", "dltheory", "run", "slow-toy", "--set", "n=200", "--out", str(out)]
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=toy_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: Ctrl-C reaches all, workers findable
        # a test run started in the background (`make test &`, nohup, some CI runners) ignores
        # SIGINT, and a child inherits that: give the sweep a terminal's default disposition
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    store = out / STORE_NAME
    deadline = time.time() + 60
    while time.time() < deadline:  # wait for a few stored units
        if store.exists():
            try:
                with Store(store) as s:
                    if s.count("slow-toy") >= stored:
                        break
            except ValueError:
                pass
        time.sleep(0.1)
    assert proc.poll() is None, "the sweep ended before the test could signal it"
    return proc, store


@pytest.mark.subprocess
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_says_what_was_kept_in_one_line(tmp_path: Path) -> None:
    out = tmp_path / "res"
    proc, store = _start_slow_toy(out, stored=3)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C goes to the whole process group
    _, err = proc.communicate(timeout=60)
    lines = [ln for ln in err.splitlines() if ln.strip() and not _BAR.search(ln)]
    assert proc.returncode == 130, err
    assert len(lines) == 1 and "Traceback" not in err, err
    assert (
        lines[0].startswith("dltheory: interrupted: ")
        and "units of slow-toy are stored" in lines[0]
    )
    kept = int(lines[0].split("interrupted: ")[1].split(" of ")[0])
    with Store(store) as s:
        assert s.count("slow-toy") == kept >= 3


@pytest.mark.subprocess
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigterm_stops_the_workers_too_and_says_what_was_kept(tmp_path: Path) -> None:
    out = tmp_path / "res"
    proc, _ = _start_slow_toy(out, stored=2)
    os.kill(proc.pid, signal.SIGTERM)  # the parent only, as `kill PID` does
    _, err = proc.communicate(timeout=60)
    lines = [ln for ln in err.splitlines() if ln.strip() and not _BAR.search(ln)]
    assert proc.returncode == 130, err
    assert len(lines) == 1 and "units of slow-toy are stored" in lines[0], err
    deadline = time.time() + 20
    while time.time() < deadline:  # no worker of the run outlives it
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
        raise AssertionError("worker processes kept running after SIGTERM")
