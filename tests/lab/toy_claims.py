"""Test-only claims, loaded through ``DLTHEORY_EXTRA_CLAIMS=tests.lab.toy_claims``."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from dltheory.claims import Claim, Param, Revision, Unit, Verdict, register
from dltheory.claims.evidence import RobustnessRow, mean_interval

__all__ = ["FastToy", "SlowToy", "StatToy"]


class _Toy(Claim):
    source = "tests/lab/toy_claims.py"
    statement = "The mean of uniform draws on [0, 1) is close to 1/2."
    data_note = "numpy.random.default_rng draws"
    params = (
        Param("n", "int", 6, 20, "number of units", minimum=1, maximum=1000),
        Param("draws", "int", 200, 1000, "draws per unit", minimum=1, maximum=10**6),
        Param(
            "tol", "float", 0.1, 0.05, "allowed distance of the mean from 1/2", minimum=0, maximum=1
        ),
        Param("sizes", "ints", (1, 2), (1, 2, 3), "unused list parameter", minimum=0, maximum=9),
    )
    sleep = 0.0

    def units(self, params: Mapping[str, Any], seed: int) -> list[Unit]:
        return [
            Unit({"i": i, "draws": params["draws"]}, seed * 1000 + i) for i in range(params["n"])
        ]

    def run_unit(self, config: Mapping[str, Any], seed: int) -> dict[str, Any]:
        if self.sleep:
            time.sleep(self.sleep)
        x = np.random.default_rng(seed).random(config["draws"])
        return {"i": config["i"], "mean": float(x.mean()), "max": float(x.max())}

    def verdict(self, params: Mapping[str, Any], results: list[dict[str, Any]]) -> Verdict:
        mean = float(np.mean([r["mean"] for r in results]))
        ok = abs(mean - 0.5) <= params["tol"]
        return Verdict.exact(ok, f"mean of means {mean:.4f}", {"mean": mean, "units": len(results)})

    def figure(self, params: Mapping[str, Any], results: list[dict[str, Any]], path: str) -> None:
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(3, 2))
        ax.plot([r["mean"] for r in results], "o")
        fig.savefig(path)
        plt.close(fig)


@register
class FastToy(_Toy):
    id = "fast-toy"
    title = "Fast toy claim"


@register
class SlowToy(_Toy):
    id = "slow-toy"
    title = "Slow toy claim"
    sleep = 0.3
    params = (
        Param("n", "int", 20, 20, "number of units", minimum=1, maximum=1000),
        Param("draws", "int", 100, 100, "draws per unit", minimum=1, maximum=10**6),
        Param("tol", "float", 0.1, 0.1, "allowed distance from 1/2", minimum=0, maximum=1),
    )


@register
class StatToy(_Toy):
    """A statistical toy: the mean of the unit means exceeds ``threshold`` (95 % t interval)."""

    id = "stat-toy"
    title = "Statistical toy claim"
    rule = "the 95% t interval of the unit means lies above `threshold`"
    version = 2
    history = (Revision(2, "2026-12-01", "a t interval instead of a tolerance", "seeds vary"),)
    params = (
        Param("n", "int", 3, 12, "number of units", minimum=1, maximum=1000),
        Param("draws", "int", 50, 200, "draws per unit", minimum=1, maximum=10**6),
        Param("threshold", "float", 0.3, 0.3, "the mean must exceed this", minimum=0, maximum=1),
    )

    def verdict(self, params: Mapping[str, Any], results: list[dict[str, Any]]) -> Verdict:
        e = mean_interval(
            [r["mean"] for r in results], name="mean", threshold=float(params["threshold"])
        )
        rows = [RobustnessRow("toy data", e.outcome, e.describe(), preregistered=True)]
        summary = f"[{e.low:.3g}, {e.high:.3g}] {e.describe()}"  # brackets: not console markup
        return Verdict.from_effects([e], summary, {"units": len(results)}, robustness=rows)


@register
class FlakyToy(_Toy):
    """Units that fail: some return NaN metrics, some raise inside the claim's code."""

    id = "flaky-toy"
    title = "Toy claim with failing units"
    params = (
        Param("n", "int", 4, 4, "number of units", minimum=1, maximum=100),
        Param("draws", "int", 50, 50, "draws per unit", minimum=1, maximum=10**6),
        Param(
            "tol", "float", 0.5, 0.5, "allowed distance of the mean from 1/2", minimum=0, maximum=1
        ),
        Param("nan_units", "int", 0, 0, "units whose metrics are NaN", minimum=0, maximum=100),
        Param("raise_units", "int", 0, 0, "units that raise ValueError", minimum=0, maximum=100),
    )

    def units(self, params: Mapping[str, Any], seed: int) -> list[Unit]:
        return [
            Unit(
                {
                    "i": i,
                    "draws": params["draws"],
                    "nan": i < params["nan_units"],
                    "raise": params["nan_units"] <= i < params["nan_units"] + params["raise_units"],
                },
                seed * 1000 + i,
            )
            for i in range(params["n"])
        ]

    def run_unit(self, config: Mapping[str, Any], seed: int) -> dict[str, Any]:
        if config["raise"]:
            raise ValueError(f"lr: the run diverged in unit {config['i']} (a worker error)")
        out = super().run_unit(config, seed)
        if config["nan"]:
            out["mean"] = float("nan")
        return out


@register
class DupToy(_Toy):
    """Plans every unit twice: identical units (same key) must run once and be stored once."""

    id = "dup-toy"
    title = "Toy claim with duplicate units"

    def units(self, params: Mapping[str, Any], seed: int) -> list[Unit]:
        return [u for u in super().units(params, seed) for _ in range(2)]
