"""Register the toy claims for the lab tests (the ``DLTHEORY_EXTRA_CLAIMS`` plugin hook)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

TOY_MODULE = "tests.lab.toy_claims"
ROOT = Path(__file__).resolve().parents[2]


def toy_env() -> dict[str, str]:
    """Environment for a subprocess that should see the toy claims."""
    env = dict(os.environ)
    env["DLTHEORY_EXTRA_CLAIMS"] = TOY_MODULE
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    return env


@pytest.fixture(autouse=True)
def _toy_claims(monkeypatch: pytest.MonkeyPatch) -> None:
    # Spawned workers (local pool, Dask) inherit the environment and import the module.
    monkeypatch.setenv("DLTHEORY_EXTRA_CLAIMS", TOY_MODULE)
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")]))
    )
    import importlib

    importlib.import_module(TOY_MODULE)
