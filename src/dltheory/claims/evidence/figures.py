"""Figure elements shared by the claims: per-seed points and effects against their thresholds."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .rules import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, Effect

__all__ = ["draw_effects", "draw_paired"]

_COLOURS = {REPRODUCED: "#2e7d32", NOT_REPRODUCED: "#c62828", INCONCLUSIVE: "#ef6c00"}


def draw_paired(
    ax: Any,
    a: Sequence[float],
    b: Sequence[float],
    labels: tuple[str, str],
    *,
    ylabel: str,
    log: bool = True,
    colours: tuple[str, str] = ("tab:blue", "tab:orange"),
) -> None:
    """Per-seed values of two paired conditions, joined by grey lines; mean and 95 % interval.

    On a log axis the centre is the geometric mean and the interval the
    exponentiated t interval of the logs.
    """
    from scipy import stats

    x = np.asarray(a, dtype=float)
    y = np.asarray(b, dtype=float)
    for u, v in zip(x, y, strict=True):
        ax.plot([0, 1], [u, v], color="0.7", lw=0.8, zorder=1)
    for i, (vals, c) in enumerate(((x, colours[0]), (y, colours[1]))):
        ax.plot(np.full(vals.size, i), vals, "o", color=c, alpha=0.7, zorder=2)
        z = np.log(vals) if log else vals
        if z.size >= 2 and np.all(np.isfinite(z)):
            m = float(z.mean())
            half = float(stats.t.ppf(0.975, z.size - 1) * z.std(ddof=1) / math.sqrt(z.size))
            lo, mid, hi = (m - half, m, m + half)
            if log:
                lo, mid, hi = math.exp(lo), math.exp(mid), math.exp(hi)
            ax.errorbar(
                [i + 0.12],
                [mid],
                yerr=[[mid - lo], [hi - mid]],
                fmt="D",
                color="k",
                capsize=4,
                zorder=3,
            )
    ax.set_xticks([0, 1], list(labels))
    ax.set_xlim(-0.4, 1.4)
    if log:
        ax.set_yscale("log")
    ax.set_ylabel(ylabel)


def draw_effects(ax: Any, effects: Sequence[Effect], *, title: str = "") -> None:
    """Each effect's estimate and interval, against its threshold (one row per effect).

    Points are coloured by outcome, per-seed values are grey ticks below; the
    threshold is a dashed tick, and the holds side of each row is shaded lightly
    green.  Open-ended intervals end in an arrow head.  Ratios are drawn on a
    log axis when every effect is a ratio.
    """
    ratio = bool(effects) and all(e.scale == "ratio" for e in effects)
    finite = [
        v
        for e in effects
        for v in (e.estimate, e.threshold, e.low, e.high)
        if math.isfinite(v) and (not ratio or v > 0)
    ]
    span_lo = min(finite, default=0.5 if ratio else -1.0)
    span_hi = max(finite, default=2.0 if ratio else 1.0)
    pad = (span_hi / span_lo) ** 0.15 if ratio else 0.15 * (span_hi - span_lo or 1.0)
    floor, ceil = (span_lo / pad, span_hi * pad) if ratio else (span_lo - pad, span_hi + pad)
    for row, e in enumerate(effects):
        y = len(effects) - 1 - row
        open_lo = not math.isfinite(e.low) or (ratio and e.low <= 0)
        open_hi = not math.isfinite(e.high)
        left = floor if open_lo else e.low
        right = ceil if open_hi else e.high
        colour = _COLOURS[e.outcome]
        holds = (e.threshold, ceil) if e.direction == "greater" else (floor, e.threshold)
        ax.fill_betweenx([y - 0.4, y + 0.4], *holds, color="#2e7d32", alpha=0.07, lw=0)
        ax.plot([left, right], [y, y], color=colour, lw=2.5, solid_capstyle="butt")
        for end, is_open, mark in ((left, open_lo, "<"), (right, open_hi, ">")):
            if is_open:
                ax.plot([end], [y], mark, color=colour, ms=6)
        ax.plot([e.estimate], [y], "o", color=colour)
        ax.plot([e.threshold, e.threshold], [y - 0.35, y + 0.35], "k--", lw=1)
        for s in e.samples:
            if math.isfinite(s) and (not ratio or s > 0):
                ax.plot([s], [y - 0.18], "|", color="0.5", ms=6)
        ax.text(right, y, f" {e.outcome}", fontsize=6, color=colour, va="center", ha="left")
    ax.set_yticks(range(len(effects)), [e.name for e in reversed(effects)], fontsize=7)
    ax.set_ylim(-0.7, len(effects) - 0.3)
    if ratio:
        ax.set_xscale("log")
    if effects:
        e0 = effects[0]
        ax.set_xlabel(f"effect ({e0.confidence:.0%} interval over {e0.replicates})")
    if title:
        ax.set_title(title, fontsize=9)
