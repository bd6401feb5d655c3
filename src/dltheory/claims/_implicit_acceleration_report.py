"""The figure and the numbers of ``implicit-acceleration``.

Arora, Cohen & Hazan, ICML 2018, Section 8.  The numbers: per data set, ``p``
and method, the median best count over inits and the best rates.  The figure:
five panels on one PNG, all but the last on the pre-registered data set:
(1) ``L(t) - L*`` for ``p = 4`` and (2) ``p = 2`` at each method's best rate
for init 0 (log ``y``, symlog ``x``, the target dashed), like the paper's l_p
regression figures; (3) the per-init iterations to target at ``p = 4``, one
column per method, each init's counts joined across methods; (4) the three
effects of the verdict against their threshold
(:func:`~dltheory.claims.evidence.draw_effects`); (5) the same three effects
on every data set, the robustness rows beside the pre-registered one.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from typing import Any

from ._implicit_acceleration_runs import METHODS, P_VALUES
from ._util import pyplot
from .evidence import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, Effect, draw_effects

__all__ = ["count_text", "draw", "median", "numbers_of", "per_init", "short_text"]

_LABEL = {
    "gd-depth1": "GD depth 1",
    "gd-depth2": "GD depth 2",
    "gd-depth3": "GD depth 3",
    "adagrad": "AdaGrad",
    "adadelta": "AdaDelta",
    "adam": "Adam",
}
_COLOURS = {REPRODUCED: "#2e7d32", NOT_REPRODUCED: "#c62828", INCONCLUSIVE: "#ef6c00"}
_STYLE = {
    "gd-depth1": ("C0", "-"),
    "gd-depth2": ("C1", "-"),
    "gd-depth3": ("C3", "-"),
    "adagrad": ("C2", "--"),
    "adadelta": ("C4", "--"),
    "adam": ("C7", ":"),
}


def per_init(unit: Mapping[str, Any], max_iters: int) -> tuple[list[float], list[bool]]:
    """A unit's best count per init (a censored one at ``max_iters``) and the censored flags."""
    best = unit["best"]
    cens = [b.get("iterations") is None for b in best]
    vals = [
        float(max_iters) if c else float(max(int(b["iterations"]), 1))
        for b, c in zip(best, cens, strict=True)
    ]
    return vals, cens


def _ratio(v: float) -> str:
    return f"x{v:.3g}" if math.isfinite(v) else "inf"


def short_text(e: Effect) -> str:
    """``(a2) x1.46 (x1.1 to x1.94)``: tag, estimate and interval."""
    tag = e.name.split(" ", 1)[0]
    cens = f", {e.censored} censored" if e.censored else ""
    return f"{tag} {_ratio(e.estimate)} ({_ratio(e.low)} to {_ratio(e.high)}{cens})"


def median(vals: list[float]) -> float:
    return float(statistics.median(vals))


def count_text(v: float, censored: bool) -> str:
    return f">= {int(v):,}" if censored else f"{int(round(v)):,}"


def _rates(unit: Mapping[str, Any]) -> str:
    tally: dict[float, int] = {}
    for b in unit["best"]:
        tally[float(b["lr"])] = tally.get(float(b["lr"]), 0) + 1
    return ", ".join(f"{lr:.3g} x{k}" for lr, k in sorted(tally.items(), key=lambda kv: -kv[1]))


def numbers_of(
    numbers: dict[str, Any], label: str, units: Mapping[tuple[int, str], Mapping[str, Any]]
) -> None:
    """Per (p, method) of one data set: median best count, censored inits, best rates."""
    diverged = stopped = 0
    for p in P_VALUES:
        for m in METHODS:
            u = units.get((p, m))
            if u is None:
                continue
            vals, cens = per_init(u, int(u["max_iters"]))
            numbers[f"{label} l{p} {m}: median iterations"] = median(vals)
            if any(cens):
                numbers[f"{label} l{p} {m}: censored inits"] = sum(cens)
            numbers[f"{label} l{p} {m}: best lr"] = _rates(u)
            diverged += int(u["status_counts"]["diverged"])
            stopped += int(u["status_counts"]["stopped"])
    numbers[f"{label}: diverged rows"] = diverged
    numbers[f"{label}: rows stopped early"] = stopped


# -- the figure --------------------------------------------------------------------------


def _curves(
    ax: Any, units: Mapping[tuple[int, str], Mapping[str, Any]], p: int, target: float
) -> None:
    l_star = None
    for m in METHODS:
        u = units.get((p, m))
        if u is None:
            continue
        l_star = float(u["L_star"])
        curve = u["curve"]
        pts = [
            (t, g) for t, g in zip(curve["t"], curve["gap"], strict=True) if g is not None and g > 0
        ]
        if not pts:
            continue
        it = u["best"][0]["iterations"]
        tag = f"{it:,} it." if it is not None else "not reached"
        colour, ls = _STYLE[m]
        ax.plot(
            [t for t, _ in pts],
            [g for _, g in pts],
            ls,
            color=colour,
            label=f"{_LABEL[m]}, lr={curve['lr']:.3g}: {tag}",
        )
    if l_star is not None:
        ax.axhline(target * l_star, color="k", ls="--", lw=0.8, label=f"target {target:g} L*")
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlim(left=0.0)
    ax.set_yscale("log")
    ax.set_xlabel("iteration t (symlog)")
    ax.set_ylabel("L(t) - L*")
    star = f", L* = {l_star:.4g}" if l_star is not None else ""
    ax.set_title(
        f"(1) l{p} regression, init 0{star}" if p == 4 else f"(2) l{p} regression{star}", fontsize=9
    )
    ax.legend(fontsize=6)


def _per_init(ax: Any, units: Mapping[tuple[int, str], Mapping[str, Any]], max_iters: int) -> None:
    present = [m for m in METHODS if (4, m) in units]
    if not present:
        return
    inits = len(units[(4, present[0])]["best"])
    table = {
        m: [
            (
                float(b["iterations"]) if b["iterations"] is not None else float(max_iters),
                b["iterations"] is None,
            )
            for b in units[(4, m)]["best"]
        ]
        for m in present
    }
    for k in range(inits):
        ax.plot(
            range(len(present)), [table[m][k][0] for m in present], color="0.75", lw=0.7, zorder=1
        )
    for i, m in enumerate(present):
        colour = _STYLE[m][0]
        for k, (v, cens) in enumerate(table[m]):
            x = i + 0.12 * (k / max(inits - 1, 1) - 0.5)
            ax.plot([x], [v], "o", mfc="none" if cens else colour, mec=colour, ms=4, zorder=2)
        vals = sorted(v for v, _ in table[m])
        ax.plot([i - 0.2, i + 0.2], [vals[len(vals) // 2]] * 2, color="k", lw=1.5, zorder=3)
    if any(c for m in present for _, c in table[m]):  # the budget, where counts are censored
        ax.axhline(max_iters, color="0.4", ls=":", lw=0.8, label=f"max_iters {max_iters:,}")
        ax.legend(fontsize=6, loc="upper left")
    ax.set_xticks(
        range(len(present)), [_LABEL[m].replace("GD depth ", "GD-") for m in present], fontsize=7
    )
    ax.set_yscale("log")
    ax.set_ylabel("iterations to target (best rate)")
    ax.set_title(f"(3) l4 iterations of {inits} inits (joined; hollow: censored)", fontsize=9)


def _robustness(ax: Any, evals: Mapping[str, Any], labels: Mapping[str, str], pre: str) -> None:
    keys = [k for k in labels if k in evals]
    offsets = (0.22, 0.0, -0.22)  # (a2) on top
    marks = ("o", "s", "^")
    for row, key in enumerate(keys):
        y = len(keys) - 1 - row
        for off, mark, e in zip(offsets, marks, evals[key].effects, strict=True):
            colour = _COLOURS[e.outcome]
            lo = e.low if e.low > 0 else None
            hi = e.high if math.isfinite(e.high) else None
            if lo is not None and hi is not None:
                ax.plot([lo, hi], [y + off] * 2, color=colour, lw=2)
            ax.plot([e.estimate], [y + off], mark, color=colour, ms=5)
    for mark, name in zip(marks, ("(a2)", "(a3)", "(b)"), strict=True):
        ax.plot([], [], mark, color="0.3", label=name)
    ax.axvline(1.0, color="k", ls="--", lw=0.8)
    ax.set_xscale("log")
    ax.set_yticks(
        range(len(keys)),
        [
            f"{labels[k]}{' (pre-reg.)' if k == pre else ''}: {evals[k].outcome}"
            for k in reversed(keys)
        ],
        fontsize=7,
    )
    ax.set_ylim(-0.6, len(keys) - 0.4)
    ax.set_xlabel("effect ratio (95 % interval over inits; holds iff > 1)")
    ax.set_title("(5) robustness: the same rule on every data set (not in the verdict)", fontsize=9)
    ax.legend(fontsize=7, loc="best")


def draw(
    pre: str,
    groups: Mapping[str, Mapping[tuple[int, str], Mapping[str, Any]]],
    evals: Mapping[str, Any],
    labels: Mapping[str, str],
    params: Mapping[str, Any],
    path: str,
) -> None:
    """Draw the five panels to ``path`` (PNG).

    ``pre`` is the pre-registered data set's key, ``groups`` maps each data
    set's key to its ``(p, method) -> unit metrics``, ``evals`` each data set's
    :class:`~dltheory.claims.implicit_acceleration.Evaluation` and ``labels``
    each key's display name (pre-registered first).
    """
    plt = pyplot()
    fig = plt.figure(figsize=(16, 9.5))
    grid = fig.add_gridspec(2, 6)
    units = groups.get(pre, {})
    target, max_iters = float(params["target"]), int(params["max_iters"])
    _curves(fig.add_subplot(grid[0, 0:2]), units, 4, target)
    _curves(fig.add_subplot(grid[0, 2:4]), units, 2, target)
    _per_init(fig.add_subplot(grid[0, 4:6]), units, max_iters)
    ax = fig.add_subplot(grid[1, 0:3])
    if pre in evals:
        draw_effects(
            ax,
            list(evals[pre].effects),
            title=f"(4) verdict on {labels[pre]}: {evals[pre].outcome}",
        )
    else:
        ax.set_title("(4) verdict: missing results", fontsize=9)
    _robustness(fig.add_subplot(grid[1, 3:6]), evals, labels, pre)
    fig.suptitle(
        f"Implicit acceleration by depth (Arora, Cohen & Hazan 2018): {labels.get(pre, pre)}, "
        f"best of {len(next(iter(units.values()))['lrs']) if units else 0} rates per method, "
        f"<= {max_iters:,} iterations"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
