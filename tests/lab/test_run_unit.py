"""run_unit in this process (workers call it in theirs, where coverage and mutmut cannot see)."""

from __future__ import annotations

import json
import math
import signal
import sys
import time
from typing import Any

import numpy as np
import pytest

from dltheory import claims
from dltheory.lab import runner
from dltheory.lab.store import to_json

from .conftest import TOY_MODULE


def _timed(call: Any) -> tuple[dict[str, Any], float]:
    t0 = time.perf_counter()
    out = call()
    return out, time.perf_counter() - t0


def test_run_unit_returns_metrics_and_seconds() -> None:
    out, wall = _timed(lambda: runner.run_unit("fast-toy", TOY_MODULE, {"i": 3, "draws": 50}, 7))
    assert set(out) == {"metrics", "seconds"} and 0.0 <= out["seconds"] <= wall
    expected = np.random.default_rng(7).random(50)
    assert out["metrics"] == {"i": 3, "mean": float(expected.mean()), "max": float(expected.max())}


def test_run_unit_turns_failures_into_one_line_errors() -> None:
    nan = runner.run_unit(
        "flaky-toy", TOY_MODULE, {"i": 0, "draws": 5, "nan": True, "raise": False}, 1
    )
    assert nan.keys() == {"error", "seconds"}
    assert nan["error"] == "metrics: NaN or infinite values (the measurement failed)"
    boom, wall = _timed(
        lambda: runner.run_unit(
            "flaky-toy", TOY_MODULE, {"i": 2, "draws": 5, "nan": False, "raise": True}, 1
        )
    )
    assert boom["error"] == "ValueError: lr: the run diverged in unit 2 (a worker error)"
    assert 0.0 <= boom["seconds"] <= wall  # the unit's own time, not a clock reading


def test_run_unit_imports_the_claim_module_when_needed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker that has not imported the claim's module yet imports it by name first."""
    monkeypatch.delitem(claims.REGISTRY, "fast-toy")  # both restored after the test
    monkeypatch.delitem(sys.modules, TOY_MODULE)
    out = runner.run_unit("fast-toy", TOY_MODULE, {"i": 0, "draws": 3}, 0)
    assert "metrics" in out and "fast-toy" in claims.REGISTRY and TOY_MODULE in sys.modules


def test_quiet_worker_ignores_ctrl_c() -> None:
    before = signal.getsignal(signal.SIGINT)
    try:
        runner._quiet_worker()
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)


def test_to_json_converts_numpy_and_sets_and_refuses_the_rest() -> None:
    text = to_json({"a": np.float32(1.5), "b": np.arange(3), "c": {3, 1, 2}, "d": frozenset({2})})
    assert json.loads(text) == {"a": 1.5, "b": [0, 1, 2], "c": [1, 2, 3], "d": [2]}
    assert text == to_json({"d": [2], "c": [1, 2, 3], "b": [0, 1, 2], "a": 1.5})  # canonical
    message = r"^metrics: value of type object is not JSON-serializable$"
    with pytest.raises(TypeError, match=message):
        to_json({"x": object()})
    with pytest.raises(ValueError):
        to_json({"x": math.nan})
    assert to_json([1], indent=2) == "[\n  1\n]"
