from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dltheory import claims
from dltheory.lab import Store, run_claim

from .conftest import ROOT, toy_env


def test_local_and_dask_agree_and_resume(tmp_path: Path) -> None:
    claim = claims.get("fast-toy")
    params = claim.resolve("quick", {"n": "4"})
    local = run_claim(claim, params, 7, tmp_path / "local", progress=False)
    assert local.units_run == 4 and local.units_reused == 0
    assert (tmp_path / "local" / "figures" / "fast-toy.png").read_bytes()[:4] == b"\x89PNG"
    doc = json.loads((tmp_path / "local" / "claims" / "fast-toy.json").read_text())
    assert doc["verdict"] == local.label and doc["numbers"] == local.numbers
    assert doc["params"]["sizes"] == [1, 2] and doc["seed"] == 7

    dask = run_claim(
        claim, params, 7, tmp_path / "dask", executor="dask", workers=2, progress=False
    )
    assert dask.label == local.label
    assert dask.numbers == local.numbers
    assert dask.results == local.results

    again = run_claim(claim, params, 7, tmp_path / "local", progress=False)
    assert again.units_run == 0 and again.units_reused == 4
    assert again.results == local.results

    other = run_claim(claim, params, 8, tmp_path / "local", progress=False)
    assert other.results != local.results
    with Store(tmp_path / "local") as s:
        assert s.count("fast-toy") == 8


def test_bad_arguments(tmp_path: Path) -> None:
    claim = claims.get("fast-toy")
    params = claim.resolve("quick")
    with pytest.raises(ValueError, match="--executor"):
        run_claim(claim, params, 0, tmp_path, executor="slurm")
    with pytest.raises(ValueError, match="--workers"):
        run_claim(claim, params, 0, tmp_path, workers=0)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OSError, match="--out"):
        run_claim(claim, params, 0, blocker / "out")


@pytest.mark.subprocess
def test_kill_and_resume(tmp_path: Path) -> None:
    out = tmp_path / "out"
    only = ["--only", "fast-toy", "--only", "slow-toy"]
    cmd = [sys.executable, "-m", "dltheory", "reproduce", *only, "--out", str(out)]
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=toy_env(),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    store_path = out / "results.sqlite"
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            if store_path.exists():
                try:
                    with Store(out) as s:
                        if s.count("slow-toy") >= 3:
                            break
                except ValueError:
                    pass  # still being created
            assert proc.poll() is None, "run finished before it could be killed"
            time.sleep(0.05)
        else:
            pytest.fail("no rows appeared in the store")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the run and its worker processes
        proc.wait()
    with Store(out) as s:
        done = s.count("slow-toy")
    assert 3 <= done < 20

    res = subprocess.run(cmd, cwd=ROOT, env=toy_env(), capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    doc = json.loads((out / "claims" / "slow-toy.json").read_text())
    assert doc["units_reused"] == done and doc["units_run"] == 20 - done
    with Store(out) as s:
        rows = s.rows("slow-toy")
    assert len(rows) == 20
    assert sorted(r["config"]["i"] for r in rows) == list(range(20))
    report = (out / "REPORT.md").read_text()
    assert "slow-toy" in report and "fast-toy" in report


def test_identical_units_run_once_and_are_stored_once(tmp_path: Path) -> None:
    claim = claims.get("dup-toy")
    params = claim.resolve("quick", {"n": "3"})
    res = run_claim(claim, params, 0, tmp_path, progress=False)
    assert res.units_run == 3 and res.units_reused == 3  # 6 planned, 3 distinct
    assert len(res.results) == 6 and res.results[0] == res.results[1]
    with Store(tmp_path) as s:
        assert s.count("dup-toy") == 3
    again = run_claim(claim, params, 0, tmp_path, progress=False)
    assert again.units_run == 0 and again.units_reused == 6
