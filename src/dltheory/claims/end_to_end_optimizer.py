"""Claim ``end-to-end-optimizer``: the end-to-end rule as a drop-in ``torch.optim`` optimizer.

Beyond the papers.  Arora, Cohen & Hazan (ICML 2018, Theorem 1) show that a
depth-``N`` linear network started balanced moves its end-to-end matrix by a
depth-dependent preconditioning of the gradient, whatever its hidden widths.
:class:`dltheory.optim.EndToEnd` applies that preconditioning to the
parameters of a plain linear model, so the model should follow the deep
network's trajectory while paying for one small SVD (or, for a vector, a
closed form) per step instead of ``N`` wide layers.

Protocol (fixed before any result was seen; the tracking part is the protocol
of ``end-to-end-dynamics``: same data, loss, initialization, ``lr`` and
threshold)
----------------------------------------------------------------------------
* Tracking: data sets diabetes (one target: the plain model's weight is a
  1-D vector, so the optimizer's closed form for vectors runs) and linnerud
  (three targets: an ``nn.Linear(3, 3, bias=False)`` weight, the SVD path);
  l_2 loss; depth ``N`` in {2, 3, 4}.  The deep network is
  :class:`~dltheory.nets.DeepLinear` (hidden width 16, float64, balanced,
  end-to-end entries ``N(0, 0.3^2)``) trained by ``torch.optim.SGD``; the plain
  model starts at its end-to-end matrix and is trained by
  ``EndToEnd(depth=N)``, both with ``lr = 1e-3`` for ``steps`` (>= 1000).
  Measured: ``max_t ||W_deep(t) - W_plain(t)||_F / ||W_deep(t)||_F``, and the
  optimizer's trajectory against the literal N-term rule
  (:func:`~dltheory.optim.end_to_end_update_reference`).
* Cost: per-step time (forward, backward, update; float32; the median of 10
  interleaved blocks of 30 steps) of the plain model with ``EndToEnd`` against
  the depth-``N`` network with hidden widths ``widths``, on each data set.
* Verdict: reproduced iff (a) the optimizer equals the literal rule to 1e-10
  relative, (b) every tracking deviation is <= 1e-3, (c) every cost ratio
  (deep network / EndToEnd) is > 1.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

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
from .base import Claim, Param, Unit, Verdict, register

__all__ = ["EndToEndOptimizer", "EXACT", "PlainLinear", "THRESHOLD"]

#: Tracking threshold (as in ``end-to-end-dynamics``).
THRESHOLD = 1e-3
#: The optimizer against the literal rule.
EXACT = 1e-10


class PlainLinear(nn.Module):
    """A linear model ``x -> W x`` started at ``w0`` (``(k, d)``, no bias).

    With one target (``k = 1``) the weight is a 1-D vector, so
    :class:`~dltheory.optim.EndToEnd` takes its closed form for vectors;
    otherwise a matrix (the SVD path).  Also used by the benchmark.
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


def _time_steps(step: Any, blocks: int = 10, per_block: int = 30) -> list[float]:
    out = []
    for _ in range(blocks):
        t0 = time.perf_counter()
        for _ in range(per_block):
            step()
        out.append((time.perf_counter() - t0) / per_block)
    return out


@register
class EndToEndOptimizer(Claim):
    id = "end-to-end-optimizer"
    title = "EndToEnd: the end-to-end rule as a torch.optim optimizer"
    source = "beyond the papers; Arora, Cohen & Hazan, ICML 2018, Eq. 7 and Eq. 10"
    statement = (
        "EndToEnd(depth=N) on a plain linear model follows the trajectory of gradient descent "
        "on a balanced depth-N linear network (relative deviation <= 1e-3 over >= 1000 steps, "
        "as in end-to-end-dynamics) and costs less per step than the network does."
    )
    data_note = DATA_NOTE
    params = (
        *TRACKING_PARAMS,
        Param("widths", "ints", (64, 256), (64, 128, 256, 512), "hidden widths timed", minimum=1),
    )

    def units(self, params: Mapping[str, Any], seed: int) -> list[Unit]:
        data = dataset_configs(params["datasets"])
        out = []
        for d in data:
            for depth in params["depths"]:
                common = {**d, "depth": int(depth), "lr": params["lr"]}
                out.append(
                    Unit(
                        {
                            **common,
                            "kind": "track",
                            "steps": params["steps"],
                            "hidden": params["hidden"],
                            "init_scale": params["init_scale"],
                        },
                        derive_seed(seed, d["dataset"], depth),
                    )
                )
                for w in params["widths"]:
                    out.append(
                        Unit(
                            {**common, "kind": "cost", "width": int(w)},
                            derive_seed(seed, d["dataset"], depth, w),
                        )
                    )
        return out

    def run_unit(self, config: Mapping[str, Any], seed: int) -> dict[str, Any]:
        torch.set_num_threads(1)
        ds = load_checked(config)
        x, y = xy(ds)
        n, lr = int(config["depth"]), float(config["lr"])
        base = {"dataset": config["dataset"], "depth": n, "kind": config["kind"]}
        if config["kind"] == "track":
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
                **base,
                "vector_path": w0.shape[0] == 1,
                "shape": list(w0.shape),
                "max_rel_deviation": float(rel.max()),
                "max_rel_vs_rule": float(exact.max()),
                "curve": curve_points(rel),
            }
        width = int(config["width"])
        x32, y32 = x.float(), y.float()
        torch.manual_seed(seed)
        deep_net = DeepLinear(x.shape[1], y.shape[1], n, hidden=width, seed=seed)
        sgd = torch.optim.SGD(deep_net.parameters(), lr=lr)
        plain_model = PlainLinear(deep_net.end_to_end)
        e2e = EndToEnd(plain_model.parameters(), lr=lr, depth=n)

        def deep_step() -> None:
            sgd.zero_grad()
            lp_loss(deep_net(x32), y32, 2.0).backward()
            sgd.step()

        def plain_step() -> None:
            e2e.zero_grad()
            lp_loss(plain_model(x32), y32, 2.0).backward()
            e2e.step()

        for _ in range(10):  # warm-up
            deep_step()
            plain_step()
        deep_times, plain_times = [], []
        for _ in range(10):
            deep_times += _time_steps(deep_step, blocks=1)
            plain_times += _time_steps(plain_step, blocks=1)
        t_deep, t_plain = statistics.median(deep_times), statistics.median(plain_times)
        return {
            **base,
            "width": width,
            "deep_step_s": t_deep,
            "end_to_end_step_s": t_plain,
            "ratio": t_deep / t_plain,
            "deep_params": sum(p.numel() for p in deep_net.parameters()),
            "plain_params": sum(p.numel() for p in plain_model.parameters()),
        }

    def verdict(self, params: Mapping[str, Any], results: list[dict[str, Any]]) -> Verdict:
        track = [r for r in results if r["kind"] == "track"]
        cost = [r for r in results if r["kind"] == "cost"]
        exact = max(r["max_rel_vs_rule"] for r in track)
        worst = max(r["max_rel_deviation"] for r in track)
        ratios = [r["ratio"] for r in cost]
        ok_exact, ok_track = exact <= EXACT, worst <= THRESHOLD
        ok_cost = bool(ratios) and min(ratios) > 1.0
        numbers: dict[str, Any] = {
            "max_rel_vs_literal_rule": exact,
            "max_rel_deviation_vs_deep_net": worst,
            "threshold": THRESHOLD,
            "min_cost_ratio": min(ratios) if ratios else None,
            "max_cost_ratio": max(ratios) if ratios else None,
        }
        for r in track:
            numbers[f"deviation {r['dataset']} N={r['depth']}"] = r["max_rel_deviation"]
        for r in cost:
            numbers[f"cost ratio {r['dataset']} N={r['depth']} width={r['width']}"] = r["ratio"]
        failed = [
            name
            for name, ok in (("rule", ok_exact), ("tracking", ok_track), ("cost", ok_cost))
            if not ok
        ]
        summary = (
            f"optimizer = literal rule to {exact:.1e}; tracks the depth-N nets to {worst:.2e} "
            f"({'<=' if ok_track else '>'} {THRESHOLD:g}) over {params['steps']} steps; "
            f"per-step cost of the deep nets / EndToEnd: {min(ratios):.1f}x .. {max(ratios):.1f}x "
            f"(widths {', '.join(str(w) for w in params['widths'])})"
            + (f"; failed: {', '.join(failed)}" if failed else "")
        )
        return Verdict.exact(ok_exact and ok_track and ok_cost, summary, numbers)

    def figure(self, params: Mapping[str, Any], results: list[dict[str, Any]], path: str) -> None:
        plt = pyplot()
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
        colors = {2: "tab:blue", 3: "tab:orange", 4: "tab:green"}
        for r in (r for r in results if r["kind"] == "track"):
            t, v = np.array(r["curve"]).T
            ax1.plot(
                t[1:],
                np.maximum(v[1:], 1e-18),
                color=colors.get(r["depth"], "gray"),
                ls="-" if r["vector_path"] else "--",
                label=f"{r['dataset']} N={r['depth']}",
            )
        ax1.axhline(THRESHOLD, color="red", lw=0.8, ls=":")
        ax1.set(
            xscale="log",
            yscale="log",
            xlabel="step",
            ylabel="||W_deep - W_EndToEnd|| / ||W_deep||",
            title="tracking",
        )
        ax1.legend(fontsize=7)
        for name, marker in zip(sorted({r["dataset"] for r in results}), "os^v", strict=False):
            for depth in sorted({r["depth"] for r in results}):
                pts = sorted(
                    (r["width"], r["ratio"])
                    for r in results
                    if r["kind"] == "cost" and r["dataset"] == name and r["depth"] == depth
                )
                if pts:
                    w, q = zip(*pts, strict=True)
                    ax2.plot(
                        w,
                        q,
                        marker=marker,
                        color=colors.get(depth, "gray"),
                        label=f"{name} N={depth}",
                    )
        ax2.axhline(1.0, color="black", lw=0.8)
        ax2.set(
            xscale="log",
            yscale="log",
            xlabel="hidden width of the deep net",
            ylabel="time per step: deep net / EndToEnd",
            title="cost (float32, 1 thread)",
        )
        ax2.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
