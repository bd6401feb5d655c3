"""Shared fixture for the claim tests: run all units of a claim's quick profile."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from dltheory.claims import get

Runner = Callable[..., tuple[Any, dict[str, Any], list[dict[str, Any]]]]


@pytest.fixture
def run_claim() -> Runner:
    def run(
        claim_id: str, overrides: dict[str, str] | None = None
    ) -> tuple[Any, dict[str, Any], list[dict[str, Any]]]:
        claim = get(claim_id)
        params = claim.resolve("quick", overrides)
        results = [claim.run_unit(u.config, u.seed) for u in claim.units(params, 0)]
        json.dumps(results)  # units must return JSON-serializable metrics
        return claim, params, results

    return run
