"""Claim ``end-to-end-optimizer``: the end-to-end rule as a drop-in ``torch.optim`` optimizer.

Beyond the papers.  Arora, Cohen & Hazan (ICML 2018, Theorem 1) show that a
depth-``N`` linear network started balanced moves its end-to-end matrix by a
depth-dependent preconditioning of the gradient, whatever its hidden widths.
:class:`dltheory.optim.EndToEnd` applies that preconditioning to the
parameters of a plain linear model, so the model should follow the deep
network's trajectory while paying for one small symmetric eigendecomposition
(or, for a vector, a closed form) per step instead of ``N`` wide layers.

Protocol v2 (fixed before any v2 result was seen)
-------------------------------------------------
Tracking (the protocol of ``end-to-end-dynamics``)
    Data sets diabetes (one target: the plain model's weight is a vector, the
    closed form of Eq. 10) and linnerud (three targets: a 3 x 3 matrix); l_2
    loss; depth ``N`` in {2, 3, 4}.  The deep network is
    :class:`~dltheory.nets.DeepLinear` (hidden width 16, float64, balanced,
    end-to-end entries ``N(0, 0.3^2)``) under gradient descent; the plain model
    starts at its end-to-end matrix under ``EndToEnd(depth=N)``.  Rates
    ``lr / 2^k``, ``k = 0..halvings``, over ``steps * 2^k`` steps (one time
    horizon).  Measured: ``max_t ||W_deep - W_plain|| / ||W_deep||``, and the
    optimizer's trajectory against the literal N-term rule.
Cost
    Seconds per full-batch float32 step (forward, l_2 loss, backward,
    update) of the plain model under ``EndToEnd`` and of the depth-``N``
    network of hidden width ``w`` under SGD, in ``blocks`` interleaved pairs of
    blocks (order alternated, one thread); the per-pair ratios deep /
    EndToEnd.  Cases: the tracking data sets, whose model is smaller than the
    hidden layers, and ``square``: a synthetic 1024 x w -> w regression whose
    model is a w x w matrix, as wide as the layers (the least favourable case
    of ``benchmarks/bench_end_to_end.py``).

Rule
----
(a) exact: the optimizer equals the literal rule to 1e-10 relative on every
tracking trajectory; (b) exact: the tracking deviation is first order in the
rate (each halving ratio in ``[1.8, 2.2]``) and <= 1e-3 at the smallest rate;
(c) statistical: for every case, depth and width, the median per-pair cost
ratio has a 95 % order-statistic interval (:func:`~dltheory.claims.evidence.
median_interval`) entirely above 1.  All must hold; (c) may be inconclusive
(timing noise), and says where it fails and why (the decomposition's share).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from ..data import load_regression
from ..losses import lp_loss
from ..nets import DeepLinear
from ..optim import EndToEnd
from ._deep_linear import (
    DATA_NOTE,
    TRACKING_PARAMS,
    curve_points,
    dataset_configs,
    deviation,
    gd_path,
    load_checked,
    rule_path,
    xy,
)
from ._util import derive_seed, pyplot
from .base import Claim, Param, Revision, Unit, Verdict, register
from .end_to_end_dynamics import ORDER_BAND, THRESHOLD
from .evidence import Effect, draw_effects, median_interval

__all__ = [
    "EXACT",
    "EndToEndOptimizer",
    "PlainLinear",
    "SQUARE",
    "cost_problem",
    "interleaved",
]

#: The optimizer against the literal rule.
EXACT = 1e-10
#: The synthetic case whose model is as wide as the network's layers.
SQUARE = "square"


class PlainLinear(nn.Module):
    """A linear model ``x -> W x`` started at ``w0`` (``(k, d)``, no bias).

    With one target (``k = 1``) the weight is a 1-D vector, so
    :class:`~dltheory.optim.EndToEnd` takes its closed form for vectors;
    otherwise a matrix.  Also used by the benchmark.
    """

    def __init__(self, w0: torch.Tensor) -> None:
        super().__init__()
        self.vector = w0.shape[0] == 1
        self.weight = nn.Parameter(w0[0].clone() if self.vector else w0.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.vector:
            return (x @ self.weight)[:, None]
        return x @ self.weight.T

    def matrix(self) -> torch.Tensor:
        w = self.weight.detach()
        return (w[None, :] if self.vector else w).clone()


def cost_problem(case: str, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs ``(m, d)`` and targets ``(m, k)`` (float32) of a cost case.

    A bundled regression set by name, or :data:`SQUARE`: 1024 Gaussian inputs
    of dimension ``width`` and targets ``x A / sqrt(width)`` (``A`` Gaussian,
    seed 0), so the plain model's weight is ``width x width``.
    """
    if case == SQUARE:
        g = torch.Generator().manual_seed(0)
        x = torch.randn(1024, width, generator=g)
        return x, x @ torch.randn(width, width, generator=g) / width**0.5
    ds = load_regression(case)
    x, y = xy(ds)
    return x.float(), y.float()


def interleaved(
    steps: Mapping[str, Callable[[], None]],
    blocks: int,
    per_block: int,
    min_block_s: float = 0.02,
    warmup: int = 5,
) -> tuple[dict[str, list[float]], int]:
    """Seconds per step of each contender, per block, in interleaved blocks.

    Block ``i`` runs every contender once, in the given order for even ``i``
    and reversed for odd ``i``, so that load on a shared machine hits all
    alike.  Returns the per-block times and the steps per block
    (``per_block``, raised so that a block of the slowest contender lasts at
    least ``min_block_s``).
    """
    for step in steps.values():
        for _ in range(warmup):
            step()
    slowest = 0.0
    for step in steps.values():
        t0 = time.perf_counter()
        step()
        slowest = max(slowest, time.perf_counter() - t0)
    n = max(per_block, math.ceil(min_block_s / max(slowest, 1e-9)))
    times: dict[str, list[float]] = {name: [] for name in steps}
    order = list(steps)
    for i in range(blocks):
        for name in order if i % 2 == 0 else order[::-1]:
            step = steps[name]
            t0 = time.perf_counter()
            for _ in range(n):
                step()
            times[name].append((time.perf_counter() - t0) / n)
    return times, n


def _plain_path(
    w0: torch.Tensor, x: torch.Tensor, y: torch.Tensor, lr: float, depth: int, steps: int
) -> list[torch.Tensor]:
    model = PlainLinear(w0)
    opt = EndToEnd(model.parameters(), lr=lr, depth=depth)
    path = [model.matrix()]
    for _ in range(steps):
        opt.zero_grad()
        lp_loss(model(x), y, 2.0).backward()
        opt.step()
        path.append(model.matrix())
    return path


def _trainer(
    model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor
) -> Callable[[], None]:
    def step() -> None:
        opt.zero_grad()
        lp_loss(model(x), y, 2.0).backward()
        opt.step()

    return step


@register
class EndToEndOptimizer(Claim):
    id = "end-to-end-optimizer"
    title = "EndToEnd: the end-to-end rule as a torch.optim optimizer"
    source = "beyond the papers; Arora, Cohen & Hazan, ICML 2018, Eq. 7 and Eq. 10"
    statement = (
        "EndToEnd(depth=N) on a plain linear model follows the trajectory of gradient descent "
        "on a balanced depth-N linear network (to first order in the learning rate, as in "
        "end-to-end-dynamics) and costs less per step than the network does."
    )
    rule = (
        f"(a) EndToEnd equals the literal N-term rule to {EXACT:g} relative on every tracking "
        "trajectory; (b) its deviation from the deep net halves with the rate (ratios in "
        f"[{ORDER_BAND[0]}, {ORDER_BAND[1]}] over the halvings) and is <= {THRESHOLD:g} at the "
        "smallest rate; (c) for every case, depth and width the median per-pair cost ratio deep "
        "/ EndToEnd has a 95% order-statistic interval above 1 (inconclusive where it contains "
        "1). Cases: the tracking data sets and a square w x w model."
    )
    data_note = DATA_NOTE + " Cost also on a synthetic 1024 x w -> w regression (square)."
    version = 2
    history = (
        Revision(
            version=2,
            date="2026-12-01",
            change=(
                "Tracking as in end-to-end-dynamics v2 (first order in the rate over three "
                "halvings, <= 1e-3 at the smallest); cost decided per size by the 95% interval "
                "of the median of interleaved per-pair ratios instead of 'every median ratio "
                "> 1', and measured also on the square case of the benchmark; EndToEnd itself "
                "is 1.2-1.6x cheaper per step (one eigendecomposition of the smaller Gram "
                "matrix, LAPACK directly for small CPU matrices, no profiler wrapper)."
            ),
            why=(
                "v1 lost on linnerud (a 3x3 SVD step cost more than a depth-2 net on 20 "
                "examples: ratios 0.85-0.94) and judged noisy timing ratios without an interval; "
                "its tracking rule had the fixed-rate flaw of end-to-end-dynamics v1."
            ),
        ),
    )
    params = (
        *TRACKING_PARAMS,
        Param(
            "halvings",
            "int",
            3,
            3,
            "times the tracking rate is halved (>= 3)",
            minimum=3,
            maximum=6,
        ),
        Param(
            "widths",
            "ints",
            (64, 256),
            (64, 128, 256, 512),
            "hidden widths timed",
            minimum=2,
            maximum=1024,
        ),
        Param(
            "cost_cases",
            "str",
            f"diabetes,linnerud,{SQUARE}",
            f"diabetes,linnerud,{SQUARE}",
            f"comma-separated cost cases: regression data sets or {SQUARE!r}",
        ),
        Param(
            "blocks", "int", 11, 15, "interleaved pairs of timing blocks", minimum=6, maximum=100
        ),
    )

    def check(  # pragma: no mutate block (input checks, not the verdict rule)
        self, params: Mapping[str, Any]
    ) -> None:
        longest = int(params["steps"]) * 2 ** int(params["halvings"])
        if longest > 10**7:
            raise ValueError(
                f"--set halvings: the smallest rate would run {longest:,} steps; at most 10^7"
            )
        cases = [c.strip() for c in str(params["cost_cases"]).split(",") if c.strip()]
        if not cases:
            raise ValueError(f"--set cost_cases: expected data set names or {SQUARE!r}")

    def units(  # pragma: no mutate block (planning, not the verdict rule)
        self, params: Mapping[str, Any], seed: int
    ) -> list[Unit]:
        data = dataset_configs(params["datasets"])
        top = int(params["halvings"])
        out = []
        for d in data:
            key = d["fingerprint"][:16]
            for depth in params["depths"]:
                for k in range(top + 1):
                    cfg = {
                        **d,
                        "kind": "track",
                        "depth": int(depth),
                        "halving": k,
                        "lr": float(params["lr"]) / 2**k,
                        "steps": int(params["steps"]) * 2**k,
                        "hidden": params["hidden"],
                        "init_scale": params["init_scale"],
                    }
                    out.append(Unit(cfg, derive_seed(seed, key, depth)))
        cases = [c.strip() for c in str(params["cost_cases"]).split(",") if c.strip()]
        costs = [{"case": SQUARE, "fingerprint": SQUARE} if c == SQUARE else None for c in cases]
        named = [c for c, got in zip(cases, costs, strict=True) if got is None]
        loaded = iter(dataset_configs(",".join(named)) if named else [])
        for case, got in zip(cases, costs, strict=True):
            info = got or {"case": case, "fingerprint": next(loaded)["fingerprint"]}
            for depth in params["depths"]:
                for w in params["widths"]:
                    cfg = {
                        **info,
                        "kind": "cost",
                        "depth": int(depth),
                        "width": int(w),
                        "blocks": int(params["blocks"]),
                    }
                    out.append(Unit(cfg, derive_seed(seed, "cost", case, depth, w)))
        return out

    def run_unit(  # pragma: no mutate block (measurement, not the verdict rule)
        self, config: Mapping[str, Any], seed: int
    ) -> dict[str, Any]:
        torch.set_num_threads(1)
        n = int(config["depth"])
        if config["kind"] == "track":
            ds = load_checked(config)
            x, y = xy(ds)
            lr = float(config["lr"])
            net = DeepLinear(
                x.shape[1],
                y.shape[1],
                n,
                hidden=int(config["hidden"]),
                init="balanced",
                scale=float(config["init_scale"]),
                seed=seed,
                dtype=torch.float64,
            )
            w0, steps = net.end_to_end, int(config["steps"])
            plain = _plain_path(w0, x, y, lr, n, steps)
            deep, _ = gd_path(net, x, y, lr, steps)
            rule = rule_path(w0, x, y, lr, steps, n)
            rel, _, _ = deviation(deep, plain)
            exact, _, _ = deviation(rule, plain)
            return {
                "kind": "track",
                "dataset": config["dataset"],
                "depth": n,
                "halving": int(config["halving"]),
                "lr": lr,
                "vector_path": w0.shape[0] == 1,
                "shape": list(w0.shape),
                "max_rel_deviation": float(rel.max()),
                "max_rel_vs_rule": float(exact.max()),
                "curve": curve_points(rel) if int(config["halving"]) == 0 else [],
            }
        case, width = str(config["case"]), int(config["width"])
        if case != SQUARE:
            load_checked({"dataset": case, "fingerprint": config["fingerprint"]})
        x, y = cost_problem(case, width)
        deep_net = DeepLinear(x.shape[1], y.shape[1], n, hidden=width, seed=seed)
        plain_model = PlainLinear(deep_net.end_to_end)
        lr = 1e-4
        contenders = {
            "deep": _trainer(deep_net, torch.optim.SGD(deep_net.parameters(), lr=lr), x, y),
            "end_to_end": _trainer(
                plain_model, EndToEnd(plain_model.parameters(), lr=lr, depth=n), x, y
            ),
        }
        times, per_block = interleaved(contenders, int(config["blocks"]), 10, min_block_s=0.02)
        ratios = [a / b for a, b in zip(times["deep"], times["end_to_end"], strict=True)]
        return {
            "kind": "cost",
            "case": case,
            "depth": n,
            "width": width,
            "shape": [int(y.shape[1]), int(x.shape[1])],
            "examples": int(x.shape[0]),
            "deep_step_s": float(np.median(times["deep"])),
            "end_to_end_step_s": float(np.median(times["end_to_end"])),
            "ratios": ratios,
            "ratio": float(np.median(ratios)),
            "steps_per_block": per_block,
            "deep_params": sum(p.numel() for p in deep_net.parameters()),
            "plain_params": sum(p.numel() for p in plain_model.parameters()),
        }

    @staticmethod
    def _effects(cost: list[dict[str, Any]]) -> list[Effect]:
        return [
            median_interval(
                r["ratios"],
                name=f"cost {r['case']} N={r['depth']} w={r['width']}",
                threshold=1.0,
                scale="ratio",
                replicates="timing blocks",
            )
            for r in sorted(cost, key=lambda r: (r["case"], r["depth"], r["width"]))
        ]

    def verdict(self, params: Mapping[str, Any], results: list[dict[str, Any]]) -> Verdict:
        top = int(params["halvings"])
        track = [r for r in results if r["kind"] == "track"]
        cost = [r for r in results if r["kind"] == "cost"]
        exact = max((r["max_rel_vs_rule"] for r in track), default=math.inf)
        ok_exact = exact <= EXACT
        dev = {(r["dataset"], r["depth"], r["halving"]): r["max_rel_deviation"] for r in track}
        lo, hi = ORDER_BAND
        failures: list[str] = []
        ratios: list[float] = []
        smallest: list[float] = []
        for name, depth in sorted({k[:2] for k in dev}):
            d = [dev.get((name, depth, k)) for k in range(top + 1)]
            if any(v is None for v in d):
                failures.append(f"{name} N={depth}: missing tracking runs")
                continue
            b = [float(v) for v in d if v is not None]
            q = [b[k] / b[k + 1] if b[k + 1] > 0 else math.inf for k in range(top)]
            ratios += q
            smallest.append(b[-1])
            if not all(lo <= v <= hi for v in q):
                failures.append(f"{name} N={depth}: halving ratios {[round(v, 3) for v in q]}")
            if b[-1] > THRESHOLD:
                failures.append(f"{name} N={depth}: {b[-1]:.2e} > {THRESHOLD:g} at the smallest")
        ok_track = bool(track) and not failures
        effects = self._effects(cost)
        numbers: dict[str, Any] = {
            "max_rel_vs_literal_rule": exact,
            "halving_ratio_range": [min(ratios, default=None), max(ratios, default=None)],
            "max_deviation_smallest_rate": max(smallest, default=None),
            "tracking_failures": failures[:10],
        }
        by_case: dict[str, list[Effect]] = {}
        ordered = sorted(cost, key=lambda r: (r["case"], r["depth"], r["width"]))
        for r, e in zip(ordered, effects, strict=True):
            numbers[f"cost {r['case']} N={r['depth']} w={r['width']}"] = (
                f"x{e.estimate:.3g} ({e.low:.3g}-{e.high:.3g}); deep {r['deep_step_s']:.2e} s, "
                f"EndToEnd {r['end_to_end_step_s']:.2e} s per step"
            )
            by_case.setdefault(r["case"], []).append(e)
        parts = []
        for case, es in sorted(by_case.items()):
            wins = sum(e.outcome == "reproduced" for e in es)
            losses = sum(e.outcome == "not reproduced" for e in es)
            parts.append(
                f"{case} x{min(e.estimate for e in es):.2f}-x{max(e.estimate for e in es):.2f} "
                f"(cheaper at {wins} of {len(es)} sizes, dearer at {losses})"
            )
        square_lost = [e for e in by_case.get(SQUARE, []) if e.outcome == "not reproduced"]
        summary = (
            f"EndToEnd = literal rule to {exact:.1e}; tracks the depth-N nets to first order "
            f"(halving ratios {min(ratios, default=0):.3f}-{max(ratios, default=0):.3f}, "
            f"{max(smallest, default=0):.2e} at lr {float(params['lr']) / 2**top:g}); cost deep / "
            f"EndToEnd per step: {'; '.join(parts)}"
        )
        if square_lost:
            summary += (
                "; where the model is as wide as the layers (square), its exact w x w "
                "eigendecomposition costs more than the N layer products of the deep net"
            )
        if failures:
            summary = f"tracking failed: {'; '.join(failures[:3])}; " + summary
        return Verdict.from_effects(
            effects,
            summary,
            numbers,
            also={"(a) EndToEnd = literal rule": ok_exact, "(b) first-order tracking": ok_track},
            decide_by="more timing blocks (--set blocks=...) on a quieter machine",
        )

    def figure(  # pragma: no mutate block (drawing, not the verdict rule)
        self, params: Mapping[str, Any], results: list[dict[str, Any]], path: str
    ) -> None:
        plt = pyplot()
        fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(17, 4.8), width_ratios=(1, 1, 1.3))
        colors = {2: "tab:blue", 3: "tab:orange", 4: "tab:green"}
        track = [r for r in results if r["kind"] == "track"]
        for name in sorted({r["dataset"] for r in track}):
            for depth in sorted({r["depth"] for r in track}):
                pts = sorted(
                    (r["lr"], r["max_rel_deviation"])
                    for r in track
                    if r["dataset"] == name and r["depth"] == depth
                )
                if pts:
                    lrs, ds = zip(*pts, strict=True)
                    ax1.plot(
                        lrs,
                        ds,
                        "o-" if name == "diabetes" else "s--",
                        color=colors.get(depth, "gray"),
                        label=f"{name} N={depth}",
                    )
        ax1.axhline(THRESHOLD, color="red", lw=0.8, ls=":")
        ax1.set(
            xscale="log",
            yscale="log",
            xlabel="learning rate (same horizon)",
            ylabel="max ||W_deep - W_EndToEnd|| / ||W_deep||",
            title="tracking: slope 1 = first order",
        )
        ax1.legend(fontsize=7)
        cost = [r for r in results if r["kind"] == "cost"]
        markers = {SQUARE: "^"}
        for case in sorted({r["case"] for r in cost}):
            for depth in sorted({r["depth"] for r in cost}):
                pts = sorted(
                    (r["width"], r["ratio"])
                    for r in cost
                    if r["case"] == case and r["depth"] == depth
                )
                if pts:
                    w, q = zip(*pts, strict=True)
                    ax2.plot(
                        w,
                        q,
                        marker=markers.get(case, "o"),
                        ls="--" if case == SQUARE else "-",
                        color=colors.get(depth, "gray"),
                        label=f"{case} N={depth}",
                    )
        ax2.axhline(1.0, color="black", lw=0.8)
        ax2.set(
            xscale="log",
            yscale="log",
            xlabel="hidden width of the deep net",
            ylabel="median time per step: deep net / EndToEnd",
            title="cost (float32, 1 thread; > 1: EndToEnd cheaper)",
        )
        ax2.legend(fontsize=6, ncol=2)
        draw_effects(ax3, self._effects(cost), title="cost ratio, 95% interval of the median")
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
