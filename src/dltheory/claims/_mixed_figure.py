"""The figure of ``mixed-dilated``: exact ranks vs width, accuracy vs interconnections, effects."""

from __future__ import annotations

import math
import statistics
import textwrap
from collections.abc import Mapping
from typing import Any

from ._util import pyplot
from .evidence import draw_effects

__all__ = ["draw_figure"]

_TREES = {"T": ("T (1, 2, 4, ...)", "-"), "Tbar": ("T̄ (2, 1, 4, ...)", "--")}
_COLOURS = ("tab:blue", "tab:red", "tab:green", "tab:purple")


def _exact_panel(ax: Any, results: list[dict[str, Any]]) -> None:
    """log2 rank vs width r' of the single trees; the mixed and side-by-side ranks at r = M."""
    exact = sorted((r for r in results if r["part"] == "exact"), key=lambda r: r["N"])
    for j, ex in enumerate(exact):
        c = _COLOURS[j % len(_COLOURS)]
        n, m = ex["N"], ex["M"]
        for t, (label, ls) in _TREES.items():
            rows = sorted((r for r in ex["single"] if r["tree"] == t), key=lambda r: r["width"])
            ax.plot(
                [r["width"] for r in rows],
                [math.log2(r["witness"]["best"]) for r in rows],
                ls,
                marker="o",
                color=c,
                ms=4,
                label=f"N={n}: single {label}, best draw",
            )
        rows = [r for r in ex["single"] if r["tree"] == "T"]
        ax.plot(
            [r["width"] for r in rows],
            [math.log2(r["min_cut"]) for r in rows],
            ":",
            color=c,
            lw=1,
            label=f"N={n}: single-tree min cut",
        )
        ax.axhline(math.log2(ex["full_rank"]), color=c, lw=0.6, alpha=0.6)
        ax.plot(
            [m],
            [math.log2(ex["mixed"]["witness"]["best"])],
            "*",
            color=c,
            ms=13,
            label=f"N={n}: mixed at r = M = {m}",
        )
        side = ex["side_by_side"]["ranks"]
        ax.plot(
            [m] * len(side),
            [math.log2(k) for k in side],
            "x",
            color=c,
            ms=9,
            label=f"N={n}: side by side at r = M",
        )
        ax.axvline(m * m, color="0.6", lw=0.6, ls="--")
    ax.set_xlabel("uniform width r' of a single tree (dashed: r' = M^2)")
    ax.set_ylabel("log2 rank of the witness partition (thin: full rank M^(N/2))")
    ax.set_title("certified ranks (integer draws, mod p)", fontsize=9)
    ax.legend(fontsize=6)


def _accuracy_panel(
    ax: Any, results: list[dict[str, Any]], k_max: int, sizing: str, title: str
) -> None:
    """Test accuracy vs k (per-seed dots, means joined); the single nets as horizontal marks."""
    runs = [r for r in results if r["part"] == "train"]
    ks, means = [], []
    for k in range(k_max + 1):
        z = "width" if k == 0 else sizing
        accs = [r["test_accuracy"] for r in runs if r["net"] == f"mixed-{k}" and r["sizing"] == z]
        if not accs:
            continue
        ax.plot([k] * len(accs), accs, "o", color="tab:blue", alpha=0.45, ms=4)
        ks.append(k)
        means.append(statistics.mean(accs))
    if ks:
        ax.plot(ks, means, "-D", color="k", ms=5, label="mixed-k, mean over seeds")
    for name, c in (("single-a", "tab:orange"), ("single-b", "tab:green")):
        single = [r for r in runs if r["net"] == name]
        if single:
            ax.axhline(
                statistics.mean(r["test_accuracy"] for r in single),
                color=c,
                lw=1.2,
                ls="--",
                label=f"{name} alone (width {single[0]['width']}), mean",
            )
    widths = {r["net"]: r["width"] for r in runs if r["sizing"] == sizing}
    widths["mixed-0"] = next((r["width"] for r in runs if r["net"] == "mixed-0"), "?")
    ticks = [f"{k}\nw={widths.get(f'mixed-{k}', '?')}" for k in range(k_max + 1)]
    ax.set_xticks(range(k_max + 1), ticks)
    ax.set_xlabel("interconnections k (mixed levels, lowest first)")
    ax.set_ylabel("test accuracy (MNIST-1D, padded to 64)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)


def draw_figure(  # pragma: no mutate block (drawing, not the verdict rule)
    claim: Any, params: Mapping[str, Any], results: list[dict[str, Any]], path: str
) -> None:
    """(1) exact ranks vs width, (2) accuracy vs k at equal width, (3) at equal parameters,
    (4) the effects E1, E2."""
    from .mixed_dilated import K

    plt = pyplot()
    fig, axes = plt.subplots(1, 4, figsize=(24, 5.6), width_ratios=(1.3, 1, 1, 1.2))
    _exact_panel(axes[0], results)
    w = params.get("width", "?")
    _accuracy_panel(axes[1], results, K, "width", f"equal width {w}")
    _accuracy_panel(axes[2], results, K, "params", f"equal parameters (<= mixed-0 at width {w})")
    effects = [e for e in claim.effects(results, "width") if e is not None]
    draw_effects(axes[3], effects, title="paired over seeds (95 % t interval)")
    ver = claim.verdict(params, results)
    fig.suptitle(textwrap.fill(f"{ver.label}: {ver.summary}", 220), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
