"""Claim ``positive-homogeneity``: bias-free ReLU networks are positively homogeneous.

Lectures [V][P]: a network without biases built from linear and
convolutional layers, ReLU, max pooling and average pooling satisfies
``f(alpha W) = alpha^L f(W)`` for every ``alpha > 0``, where ``alpha W``
scales every weight and ``L`` is the number of weight layers (each layer is
linear in its weights and ReLU / max / average pooling commute with positive
scaling).  A sigmoid, or biases, break the relation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from ._util import derive_seed, pyplot
from .base import Claim, Param, Unit, Verdict, register

__all__ = ["PositiveHomogeneity", "ARCHITECTURES", "VARIANTS", "build"]

ARCHITECTURES = ("mlp", "cnn1d", "cnn2d")
#: ``homogeneous``: bias-free ReLU; the two controls break homogeneity.
VARIANTS = ("homogeneous", "sigmoid", "bias")


def build(arch: str, variant: str) -> tuple[nn.Module, tuple[int, ...], int]:
    """The network, its input shape (without batch) and its number L of weight layers."""
    bias = variant == "bias"

    def act() -> nn.Module:
        return nn.Sigmoid() if variant == "sigmoid" else nn.ReLU()

    if arch == "mlp":
        net = nn.Sequential(
            nn.Linear(10, 16, bias=bias),
            act(),
            nn.Linear(16, 16, bias=bias),
            act(),
            nn.Linear(16, 3, bias=bias),
        )
        return net, (10,), 3
    if arch == "cnn1d":
        net = nn.Sequential(
            nn.Conv1d(2, 4, 3, padding=1, bias=bias),
            act(),
            nn.MaxPool1d(2),
            nn.Conv1d(4, 4, 3, padding=1, bias=bias),
            act(),
            nn.AvgPool1d(2),
            nn.Flatten(),
            nn.Linear(16, 3, bias=bias),
        )
        return net, (2, 16), 3
    if arch == "cnn2d":
        net = nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1, bias=bias),
            act(),
            nn.MaxPool2d(2),
            nn.Conv2d(4, 6, 3, padding=1, bias=bias),
            act(),
            nn.AvgPool2d(2),
            nn.Conv2d(6, 6, 1, bias=bias),
            act(),
            nn.Flatten(),
            nn.Linear(6 * 2 * 2, 3, bias=bias),
        )
        return net, (1, 8, 8), 4
    raise ValueError(f"arch: expected one of {ARCHITECTURES}, got {arch!r}")


def _scaled(net: nn.Module, alpha: float, x: torch.Tensor) -> torch.Tensor:
    """Output with every parameter (weights and biases) multiplied by ``alpha``."""
    saved = [p.detach().clone() for p in net.parameters()]
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(alpha)
        out = net(x)
        for p, s in zip(net.parameters(), saved, strict=True):
            p.copy_(s)
    return out


@register
class PositiveHomogeneity(Claim):
    """``f(alpha W) = alpha^L f(W)`` for bias-free ReLU/max/avg-pool nets; not with sigmoid/bias."""

    id = "positive-homogeneity"
    title = "Positive homogeneity of bias-free ReLU networks"
    source = "[V][P] lectures (positive homogeneity of ReLU networks)"
    statement = (
        "Linear, conv, ReLU, max- and average-pooling layers give networks positively homogeneous "
        "of degree = number of weight layers; sigmoid and biases break it (numeric check on many "
        "alpha)."
    )
    rule = (
        "Exact: every bias-free network of linear, conv, ReLU, max- and average-pooling layers "
        "satisfies f(alpha W) = alpha^L f(W) to `tol` (1e-10) relative over all alphas; every "
        "control (a sigmoid or a bias) deviates by more than `break_min` (1e-3) at some alpha."
    )
    params = (
        Param(
            "num_alpha",
            "int",
            25,
            101,
            "values of alpha, log-spaced in [0.1, 10]",
            minimum=2,
            maximum=10_000,
        ),
        Param("batch", "int", 16, 64, "random inputs per network", minimum=1, maximum=4096),
        Param(
            "seeds", "int", 1, 3, "weight draws per (architecture, variant)", minimum=1, maximum=100
        ),
        Param(
            "tol",
            "float",
            1e-10,
            1e-10,
            "largest relative error of a homogeneous net",
            minimum=0,
            maximum=1e-3,
        ),
        Param(
            "break_min",
            "float",
            1e-3,
            1e-3,
            "error a control must exceed at some alpha",
            minimum=1e-12,
            maximum=1.0,
        ),
    )

    def units(  # pragma: no mutate block (planning, not the verdict rule)
        self, params: Mapping[str, Any], seed: int
    ) -> list[Unit]:
        return [
            Unit(
                {
                    "arch": a,
                    "variant": v,
                    "num_alpha": params["num_alpha"],
                    "batch": params["batch"],
                },
                derive_seed(seed, self.id, a, v, s),
            )
            for a in ARCHITECTURES
            for v in VARIANTS
            for s in range(params["seeds"])
        ]

    def run_unit(  # pragma: no mutate block (measurement, not the verdict rule)
        self, config: Mapping[str, Any], seed: int
    ) -> dict[str, Any]:
        arch, variant = str(config["arch"]), str(config["variant"])
        torch.manual_seed(seed)
        net, shape, layers = build(arch, variant)
        net = net.double()
        if variant == "bias":
            with torch.no_grad():  # biases large enough to matter
                for mod in net.modules():
                    b = getattr(mod, "bias", None)
                    if isinstance(b, torch.Tensor):
                        b.normal_()
        gen = torch.Generator().manual_seed(seed)
        x = torch.randn((int(config["batch"]), *shape), generator=gen, dtype=torch.float64)
        with torch.no_grad():
            base = net(x)
        n = int(config["num_alpha"])
        alphas = [10.0 ** (-1 + 2 * i / (n - 1)) for i in range(n)]
        errors, log_ratios = [], []
        for a in alphas:
            out = _scaled(net, a, x)
            expect = a**layers * base
            err = float((out - expect).norm() / expect.norm())
            errors.append(err)
            log_ratios.append(float(torch.log(out.norm() / base.norm())))
        return {
            "arch": arch,
            "variant": variant,
            "L": layers,
            "alphas": alphas,
            "rel_errors": errors,
            "log_norm_ratio": log_ratios,
            "max_rel_error": max(errors),
        }

    def verdict(self, params: Mapping[str, Any], results: list[dict[str, Any]]) -> Verdict:
        tol, brk = float(params["tol"]), float(params["break_min"])
        homo = [r for r in results if r["variant"] == "homogeneous"]
        ctrl = [r for r in results if r["variant"] != "homogeneous"]
        worst = max((r["max_rel_error"] for r in homo), default=math.inf)
        weakest = min((r["max_rel_error"] for r in ctrl), default=0.0)
        ok = bool(homo) and bool(ctrl) and worst <= tol and weakest > brk
        numbers = {
            "max_error_homogeneous": worst,
            "min_over_controls_of_max_error": weakest,
            "tol": tol,
            "break_min": brk,
            "per_unit": {f"{r['arch']}/{r['variant']}": r["max_rel_error"] for r in results},
        }
        summary = (
            f"bias-free ReLU/max/avg nets: max relative error {worst:.2e} (<= {tol:g} needed); "
            f"sigmoid/bias controls: every one exceeds {brk:g} somewhere (smallest max error "
            f"{weakest:.2e})"
        )
        return Verdict.exact(ok, summary if ok else "failed: " + summary, numbers)

    def figure(  # pragma: no mutate block (drawing, not the verdict rule)
        self, params: Mapping[str, Any], results: list[dict[str, Any]], path: str
    ) -> None:
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(6.5, 4.5))
        styles = {"homogeneous": "-", "sigmoid": ":", "bias": "--"}
        seen: set[tuple[str, str]] = set()
        for r in results:
            key = (r["arch"], r["variant"])
            if key in seen:
                continue
            seen.add(key)
            la = [math.log(a) for a in r["alphas"]]
            ax.plot(
                la,
                [abs(v) for v in r["log_norm_ratio"]],
                styles[r["variant"]],
                label=f"{r['arch']} {r['variant']}",
            )
        for L in sorted({r["L"] for r in results}):
            la = [-math.log(10), 0.0, math.log(10)]
            ax.plot(la, [abs(L * v) for v in la], "k", lw=0.6, alpha=0.4)
            ax.text(la[2], L * la[2], f"slope {L}", fontsize=7)
        ax.set_xlabel("log alpha")
        ax.set_ylabel("|log ||f(alpha W)|| / ||f(W)|| |")
        ax.set_title("Positive homogeneity: |log ratio| = L |log alpha|")
        ax.legend(fontsize=6, ncol=2)
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
