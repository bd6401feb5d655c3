"""The figure of ``pooling-geometry``: accuracy vs breadth per task, the effects, the rank table."""

from __future__ import annotations

import statistics
import textwrap
from collections.abc import Mapping
from typing import Any

from ._pooling_training import FAMILIES, GEOMETRIES, TASKS, own_geometry
from ._util import pyplot
from .evidence import draw_effects

__all__ = ["draw_figure"]


def draw_figure(  # pragma: no mutate block (drawing, not the verdict rule)
    claim: Any, params: Mapping[str, Any], results: list[dict[str, Any]], path: str
) -> None:
    """Accuracy vs breadth per task and geometry, the paired effects, and the rank table."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 4, figsize=(22, 5.5), width_ratios=(1, 1, 1.1, 1.5))
    markers = {"convac": "o", "relu-avg": "s", "relu-max": "^"}
    colours = {"square": "tab:blue", "mirror": "tab:red"}
    for ax, task in zip(axes[:2], TASKS, strict=True):
        for fam in FAMILIES:
            for g in GEOMETRIES:
                runs = [
                    r
                    for r in results
                    if r["part"] == "deep"
                    and r["family"] == fam
                    and r["task"] == task
                    and r["geometry"] == g
                ]
                if not runs:
                    continue
                ws = sorted({int(r["width"]) for r in runs})
                for r in runs:
                    ax.plot(
                        r["width"],
                        r["test_accuracy"],
                        markers[fam],
                        color=colours[g],
                        alpha=0.35,
                        ms=4,
                    )
                means = [
                    statistics.mean(r["test_accuracy"] for r in runs if r["width"] == w) for w in ws
                ]
                ax.plot(
                    ws,
                    means,
                    marker=markers[fam],
                    color=colours[g],
                    ls="-" if fam == "convac" else ":",
                    label=f"{fam} {g}",
                )
        for r in results:
            if r["part"] == "shallow" and r["task"] == task and r["family"] == "convac":
                ax.axhline(r["test_accuracy"], color="0.6", lw=0.6, ls="--")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("breadth")
        ax.set_ylabel("test accuracy")
        ax.set_title(
            f"{task} (theory favours {own_geometry(task)}); grey: shallow ConvACs", fontsize=9
        )
        ax.legend(fontsize=7)
    effects = [
        e
        for task in TASKS
        for fam in FAMILIES
        if (e := claim.advantage(results, fam, task)) is not None
    ]
    draw_effects(axes[2], effects, title="own-geometry advantage (paired)")
    ax = axes[3]
    ax.axis("off")
    lines = ["exact ranks [left/right, top/bottom, interleaved, root split]"]
    for r in results:
        if r["part"] == "exact":
            best = max(r["draws"], key=lambda d: d[r["favoured"]])
            lines.append(
                f"{r['geometry']:>6} {r['shape'][0]}x{r['shape'][1]}: "
                f"{[best[k] for k in best]}  cuts {list(r['min_cuts'].values())}"
            )
    lines.append("")
    lines.append("32x32 log2 min cut [left/right, interleaved]")
    for r in results:
        if r["part"] == "cuts":
            by: dict[tuple[int, str], dict[str, float]] = {}
            for c in r["rows"]:
                by.setdefault((c["breadth"], c["geometry"]), {})[c["partition"]] = c["log2_min_cut"]
            for (b, g), d in sorted(by.items()):
                lines.append(f"  r={b:<4} {g:>6}: {d['left/right']:.0f}, {d['interleaved']:.0f}")
    ax.text(
        0,
        1,
        "\n".join(lines),
        va="top",
        family="monospace",
        fontsize=6.5,
        transform=ax.transAxes,
    )
    ver = claim.verdict(params, results)
    fig.suptitle(textwrap.fill(f"{ver.label}: {ver.summary}", 200), fontsize=8.5)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
