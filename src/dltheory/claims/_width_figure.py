"""The figure of ``width-design``: min cuts and ranks vs deep budget share, designs, training."""

from __future__ import annotations

import math
from typing import Any

from ._util import pyplot
from ._width_parts import LONG, PARTITIONS, PROFILES, RANKED
from .evidence import draw_effects, draw_paired

__all__ = ["draw_figure"]

_COLOURS = {
    "left/right": "tab:red",
    "block of 16": "tab:orange",
    "block of 4": "tab:blue",
    "octet halves": "tab:cyan",
}


def draw_figure(  # pragma: no mutate block (drawing, not the verdict rule)
    claim: Any, results: list[dict[str, Any]], path: str
) -> None:
    """(1) log2 min cut and ranks along the frontier, (2) the designs' widths, (3-4) accuracies
    per task, paired by seed, (5) the effects."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 5, figsize=(26, 5.2), width_ratios=(1.4, 1, 0.8, 0.8, 1.3))
    curve = next((r for r in results if r["part"] == "curve"), None)
    ax = axes[0]
    if curve is not None:
        rows = sorted(curve["rows"], key=lambda row: row["deep_share"])
        share = [row["deep_share"] for row in rows]
        for k, name in enumerate(PARTITIONS):
            c = _COLOURS[name]
            kind = "long" if name in LONG else "short"
            top = max(math.log2(row["min_cut"][name]) for row in rows) or 1.0
            ax.plot(
                share,
                [math.log2(row["min_cut"][name]) / top for row in rows],
                "-" if k % 2 == 0 else "--",
                color=c,
                label=f"{name} ({kind}): min cut, max 2^{top:.3g}",
            )
            if name in RANKED:
                for j in range(len(rows[0]["ranks"][name])):
                    ax.plot(
                        share,
                        [math.log2(row["ranks"][name][j]) / top for row in rows],
                        "o",
                        color=c,
                        ms=3.5,
                        mfc="none",
                        label="exact rank (random draws)" if name == RANKED[0] and j == 0 else None,
                    )
        ax.set_xlabel("share of the weights in the deep levels (equal budget)")
        ax.set_ylabel("log2(min cut or rank) / its largest log2 on the frontier")
        ax.set_title(
            f"budget {rows[0]['params']} weights: early-wide ({rows[0]['early']}, "
            f"{rows[0]['deep']}) ... deep-wide ({rows[-1]['early']}, {rows[-1]['deep']})",
            fontsize=9,
        )
        ax.legend(fontsize=7)
    design = next((r for r in results if r["part"] == "design"), None)
    ax = axes[1]
    if design is not None:
        for k, (kind, d) in enumerate(sorted(design["designs"].items())):
            lv = list(range(len(d["widths"])))
            ax.bar(
                [x + (k - 0.5) * 0.4 for x in lv],
                d["widths"],
                width=0.4,
                label=f"designed for {kind} range (deep share {d['deep_share']:.2f})",
            )
        ax.set_yscale("log")
        ax.set_xlabel("level (0 = pairs ... 5 = root)")
        ax.set_ylabel("width")
        ax.set_title(f"design_widths under {design['budget']} weights (one per node)", fontsize=9)
        ax.legend(fontsize=7)
    for ax, task in zip(axes[2:4], ("local", "long"), strict=True):
        by: dict[int, dict[str, float]] = {}
        for r in results:
            if r["part"] == "train" and r["task"] == task:
                by.setdefault(int(r["seed_index"]), {})[r["profile"]] = float(r["test_accuracy"])
        keys = sorted(k for k, v in by.items() if len(v) == len(PROFILES))
        if keys:
            draw_paired(
                ax,
                [by[k][PROFILES[0]] for k in keys],
                [by[k][PROFILES[1]] for k in keys],
                (PROFILES[0], PROFILES[1]),
                ylabel="test accuracy",
                log=False,
            )
        for r in results:
            if r["part"] == "train" and r["task"] == task and r["profile"] not in PROFILES:
                ax.axhline(r["test_accuracy"], color="0.5", ls="--", lw=1)
                ax.text(0.5, r["test_accuracy"], r["profile"], ha="center", va="bottom", fontsize=7)
        ax.set_title(f"{task} task", fontsize=10)
    effects = [e for e in (claim.advantage(results, t) for t in ("local", "long")) if e]
    draw_effects(axes[4], effects, title="own profile - other (95 % CI)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
