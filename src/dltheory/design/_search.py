"""Branch-and-bound searches over layer widths (Levine, Yakira, Cohen & Shashua, ICLR'18).

The searches behind :func:`~dltheory.design.widths.design_widths` and
:func:`~dltheory.design.widths.cheapest_widths`.  A width vector ``w`` (one
width per level, or per internal node) costs

``cost(w) = sum_j lin[j] w_j + sum_(i,j) quad[i,j] w_i w_j``

weights (rows x columns of every matrix of the tree tensor: the count of
:func:`~dltheory.design.widths.parameter_count`), and each partition ``I``
is guaranteed the entanglement ``log min_cut(tree, w, I)`` (Levine et al.,
ICLR 2018, Claim 1 / Thm 1), scored for many vectors at once by the tree
dynamic program of :mod:`._treecut`.  The min cut is non-decreasing in every
width and the cost increasing, which is all the bounds use:

* :func:`_maximize` -- the largest weighted log min cut within a budget;
* :func:`_minimize` -- the cheapest widths whose min cuts reach target ranks;
* :func:`_shrink` -- lower widths one at a time while a monotone test holds.

Each stops after a number of scored candidates (``scorer.limit``) and then
returns its incumbent with a bound on how far the optimum may be from it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..trees import ModeTree
from ._treecut import _Scorer

__all__: list[str] = []  # private helpers of .widths

_ROWS = 2**16  # values of one width scored at once
_REL_TOL = 1e-9  # relative tolerance of objective comparisons (float64 log sums)


# ------------------------------------------------------------- parameter count
def _cost_model(
    tree: ModeTree, var: dict[int, int], nvars: int, m: int, out: int
) -> tuple[list[int], dict[tuple[int, int], int]]:
    """``cost(w) = sum_j lin[j] w_j + sum_(i,j) quad[i,j] w_i w_j``: rows x columns of matrices."""
    lin = [0] * nvars
    quad: dict[tuple[int, int], int] = {}
    n = tree.num_leaves
    for v in tree.internal_nodes:
        j = var[v]
        for c in tree.children(v):
            if c < n:
                lin[j] += m
            else:
                quad[(var[c], j)] = quad.get((var[c], j), 0) + 1
    lin[var[tree.root]] += out
    return lin, quad


def _cost(lin: list[int], quad: dict[tuple[int, int], int], w: Sequence[int]) -> int:
    return sum(a * x for a, x in zip(lin, w, strict=True)) + sum(
        a * w[i] * w[j] for (i, j), a in quad.items()
    )


def _partials(
    lin: list[int], quad: dict[tuple[int, int], int], w: Sequence[int], j: int
) -> tuple[int, int, list[int], list[int]]:
    """``cost = c + a w_j`` with the others fixed at ``w``; ``d cost / d w_k = b[k] + g[k] w_j``."""
    c = a = 0
    b, g = list(lin), [0] * len(lin)
    for t, x in enumerate(lin):
        if t == j:
            a += x
        else:
            c += x * w[t]
    for (s, t), x in quad.items():
        if j in (s, t):
            o = t if s == j else s
            a, g[o] = a + x * w[o], g[o] + x
        else:
            c, b[s], b[t] = c + x * w[s] * w[t], b[s] + x * w[t], b[t] + x * w[s]
    return c, a, b, g


# ------------------------------------------------------------------- searches
class _Stop(Exception):
    """The candidate limit is reached: the search returns its incumbent and a gap."""


def _maximize(
    model: tuple[list[int], dict[tuple[int, int], int]],
    score: Callable[[NDArray[np.float64]], NDArray[np.float64]],
    scorer: _Scorer,
    caps: list[int],
    budget: int,
    order: list[int],
    start: tuple[list[int], float],
) -> tuple[list[int], float, float]:
    """Branch and bound over the variables in ``order``: (widths, objective, bound - objective).

    A node fixes a prefix; its bound scores the free widths at their caps given
    the prefix (the objective is non-decreasing in every width, the cost
    increasing).  The last free width takes the largest value the budget
    allows, so only Pareto-maximal vectors are completed; a bound whose vector
    fits the budget is the exact best completion of its node.  ``start`` is
    the incumbent (widths, objective).
    """
    lin, quad = model
    n = len(lin)
    w = [1] * n
    best_w, best = start
    stack: list[list[Any]] = []  # [depth, values, bounds, next index]

    def tol() -> float:
        return _REL_TOL * max(1.0, abs(best))

    def expand(depth: int) -> None:
        nonlocal best, best_w
        if depth and scorer.scored >= scorer.limit:
            raise _Stop
        j, rest = order[depth], order[depth + 1 :]
        c, a, b, g = _partials(lin, quad, w, j)
        top = min(caps[j], (budget - c) // a)
        kept: list[tuple[NDArray[np.int64], NDArray[np.float64]]] = []
        for lo in range(1, top + 1, _ROWS) if rest else [top]:
            vals = np.arange(lo, min(top, lo + _ROWS - 1) + 1, dtype=np.int64)
            full = np.tile(np.array(w, dtype=np.int64), (len(vals), 1))
            full[:, j] = vals
            spare = budget - c - a * vals
            for k in rest:
                full[:, k] = np.minimum(caps[k], 1 + spare // (b[k] + g[k] * vals))
            bounds = score(np.log(full))
            cost = full.astype(np.float64) @ np.asarray(lin, dtype=np.float64)
            for (s, t), x in quad.items():
                cost += x * full[:, s].astype(np.float64) * full[:, t]
            exact = (cost <= budget * (1 - 1e-12)) | (len(rest) <= 1)
            i = int(np.argmax(np.where(exact, bounds, -np.inf)))
            if exact[i] and bounds[i] > best + tol():
                best, best_w = float(bounds[i]), [int(x) for x in full[i]]
            sel = ~exact & (bounds > best + tol())
            kept.append((vals[sel], bounds[sel]))
        vals = np.concatenate([v for v, _ in kept])
        bounds = np.concatenate([u for _, u in kept])
        idx = np.flatnonzero(bounds > best + tol())
        if idx.size:
            idx = idx[np.argsort(-bounds[idx], kind="stable")]
            stack.append([depth, vals[idx], bounds[idx], 0])

    pending = float(score(np.log(np.array([caps], dtype=np.float64)))[0])  # the root's bound
    try:
        before = scorer.scored
        expand(0)
        scorer.limit += scorer.scored - before  # the root's values do not count
        while stack:
            entry = stack[-1]
            depth, vals, bounds, i = entry
            if i == len(vals) or bounds[i] <= best + tol():
                stack.pop()
                w[order[depth]] = 1
                continue
            entry[3] += 1
            w[order[depth]] = int(vals[i])
            pending = float(bounds[i])
            expand(depth + 1)
        pending = -math.inf
    except _Stop:
        pass
    bounds_left = [pending] + [float(e[2][e[3]]) for e in stack if e[3] < len(e[2])]
    return best_w, best, max(0.0, max(bounds_left) - best)


def _minimize(
    model: tuple[list[int], dict[tuple[int, int], int]],
    feasible: Callable[[NDArray[np.float64]], NDArray[np.bool_]],
    scorer: _Scorer,
    cap: int,
    order: list[int],
) -> tuple[list[int], int, float]:
    """Branch and bound for the cheapest widths meeting monotone constraints ``feasible``.

    At a node (a fixed prefix) each free width's least feasible value, with the
    other free widths at ``cap``, is found by bisection; the cost of the prefix
    with those least values bounds every completion, and when that vector is
    itself feasible it is the node's cheapest completion.
    """
    lin, quad = model
    n = len(lin)
    w = [cap] * n
    best_w, best = list(w), _cost(lin, quad, w)
    stack: list[list[int]] = []  # [depth, c, a, next value, last value]: cost c + a v
    rounds = 2 + math.ceil(math.log(cap + 1, 32))

    def expand(depth: int) -> None:
        nonlocal best, best_w
        rest = order[depth:]
        if scorer.scored + 33 * rounds * len(rest) + 1 > scorer.limit:
            raise _Stop
        low = list(w)
        for k in rest:
            low[k] = _least(w, k, cap, feasible)
        lower = _cost(lin, quad, low)
        if lower >= best:
            return
        if feasible(np.log(np.array([low], dtype=np.float64)))[0]:
            best, best_w = lower, low
            return
        c, a, _, _ = _partials(lin, quad, low, rest[0])
        stack.append([depth, c, a, low[rest[0]], cap])

    pending = _cost(lin, quad, [1] * n)  # bound of the node being expanded when stopped
    try:
        expand(0)
        while stack:
            entry = stack[-1]
            depth, c, a, v, last = entry
            if v > last or c + a * v >= best:
                stack.pop()
                w[order[depth]] = cap
                continue
            entry[3] += 1
            w[order[depth]] = v
            pending = c + a * v
            expand(depth + 1)
        pending = best
    except _Stop:
        pass
    lows = [pending] + [e[1] + e[2] * e[3] for e in stack if e[3] <= e[4]]
    return best_w, best, float(max(0, best - min(lows)))


def _least(
    w: list[int], k: int, hi: int, ok: Callable[[NDArray[np.float64]], NDArray[np.bool_]]
) -> int:
    """Least ``v <= hi`` with ``ok`` at ``w`` but ``w_k = v`` (``ok`` monotone, true at ``hi``)."""
    lo = 1
    while lo < hi:
        probe = np.unique(np.linspace(lo, hi, num=min(hi - lo + 1, 33)).astype(np.int64))
        rows = np.tile(np.log(np.array(w, dtype=np.float64)), (len(probe), 1))
        rows[:, k] = np.log(probe)
        good = np.flatnonzero(ok(rows))
        if not good.size:
            break
        lo, hi = (int(probe[good[0] - 1]) + 1 if good[0] else lo), int(probe[good[0]])
    return hi


def _shrink(
    w: list[int], order: list[int], ok: Callable[[NDArray[np.float64]], NDArray[np.bool_]]
) -> list[int]:
    """Lower widths one at a time while ``ok`` holds: a minimal vector (``ok`` monotone)."""
    w, changed = list(w), True
    while changed:
        changed = False
        for j in order:
            v = _least(w, j, w[j], ok)
            w[j], changed = v, changed or v < w[j]
    return w
