"""Layer widths from the partitions a task needs: min-cut design (Levine et al., ICLR'18).

The matricization rank of a ConvAC's coefficient tensor w.r.t. a partition
``(I, J)`` of its inputs is at most the minimal cut of its tensor network
separating the legs of ``I`` from those of ``J`` (Levine, Yakira, Cohen &
Shashua, "Deep Learning and Quantum Entanglement", ICLR 2018, Claim 1 / Thm 1;
the bound is attained for almost all weights when the widths are powers of a
common integer).  The min cut is the entanglement the architecture guarantees.
This module chooses widths that maximize it under a parameter budget
(:func:`design_widths`) and the cheapest widths reaching given ranks
(:func:`cheapest_widths`).  Sec. 5 of the paper: wide deep layers serve
long-range partitions (left/right), wide early layers short-range,
interleaved ones.

The min cut itself is a dynamic program over the tree (:func:`tree_min_cut`,
re-exported here; notes in :mod:`._treecut`), vectorized over candidate widths
for the branch-and-bound searches of :mod:`._search`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence, Sized
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..trees import ModeTree, Ranks
from ..validation import check_choice, check_float, check_int, check_size, describe
from ._search import _REL_TOL, _cost, _cost_model, _maximize, _minimize, _partials, _shrink
from ._treecut import _check_tree, _Scorer, tree_min_cut

__all__ = [
    "DEFAULT_MAX_CANDIDATES",
    "DEFAULT_MAX_WIDTH",
    "MAX_BUDGET",
    "MAX_NODE_VARIABLES",
    "MAX_RANK",
    "Design",
    "PartitionCut",
    "cheapest_widths",
    "design_widths",
    "parameter_count",
    "tree_min_cut",
]

#: Largest budget (parameters): every cost the search computes stays exact in int64.
MAX_BUDGET = 2**60
#: Largest target rank of :func:`cheapest_widths` (log comparisons stay exact).
MAX_RANK = 2**30
#: Most free widths of ``per="node"`` (one per internal node).
MAX_NODE_VARIABLES = 64
#: Widest width :func:`design_widths` tries unless ``max_width`` says otherwise.
DEFAULT_MAX_WIDTH = 2**16
#: Candidates (width vectors, complete or partial) scored before a search stops.
DEFAULT_MAX_CANDIDATES = 1_000_000
_MAX_PARTITION_ENTRIES = 2**24  # partitions x positions compiled into the dynamic programs
_LOG_TOL = 1e-11  # min cut >= rank, compared in logs (ranks <= 2^30: a miss is >= 9e-10)


@dataclass(frozen=True)
class PartitionCut:
    """The guaranteed entanglement of one partition: its exact min cut under the design."""

    partition: tuple[int, ...]
    value: int  # product of the cut widths: the rank bound (Levine et al., Claim 1)
    log_value: float
    weight: float | None = None  # design_widths
    target: int | None = None  # cheapest_widths


@dataclass(frozen=True)
class Design:
    """Widths chosen by :func:`design_widths` or :func:`cheapest_widths`.

    ``widths`` (internal node -> width) can be passed as ``ranks`` to
    :meth:`TreeTensor.random` or, per level (``level_widths``), to ``ConvAC``.
    ``objective`` is the weighted log min cut (design) or the parameter count
    (cheapest); ``gap`` bounds how far the optimum may be from it (0 when
    ``exact``); ``statement`` says over what the result is optimal;
    ``candidates`` counts the width vectors scored; ``seconds`` the time taken.
    """

    widths: dict[int, int]
    level_widths: tuple[int, ...] | None
    params: int
    budget: int | None
    objective: float
    cuts: tuple[PartitionCut, ...]
    exact: bool
    gap: float
    statement: str
    candidates: int
    seconds: float
    per: str


# ------------------------------------------------------------------ validation
def _check_part(tree: ModeTree, I: Any, name: str) -> frozenset[int]:
    n = tree.num_leaves
    if isinstance(I, (str, bytes, Mapping)) or not isinstance(I, Iterable):
        raise TypeError(
            f"{name}: expected a collection of leaf positions, got {describe(I)}; "
            "pass a list of partitions, e.g. [I]"
        )
    if isinstance(I, Sized):
        check_size(len(I), name, limit=n, what="positions (more than the tree has)")
    idx = [check_int(i, name, minimum=0, maximum=n - 1, fix=f"the tree has {n} leaves") for i in I]
    part = frozenset(idx)
    if len(part) != len(idx):
        raise ValueError(f"{name}: expected distinct positions, got a position twice")
    if not part or len(part) == n:
        raise ValueError(
            f"{name}: expected a non-empty proper subset of the {n} positions, got {len(part)}"
        )
    return part


def _check_parts(tree: ModeTree, items: Any, name: str) -> list[Any]:
    if isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
        raise TypeError(f"{name}: expected a sequence, got {describe(items)}")
    if isinstance(items, Sized):
        check_size(
            len(items) * tree.num_leaves, name, limit=_MAX_PARTITION_ENTRIES, what="partitions"
        )
    out = list(items.items()) if isinstance(items, Mapping) else list(items)
    if not out:
        raise ValueError(f"{name}: expected at least one partition, got none")
    return out


def _variables(tree: ModeTree, per: Any) -> tuple[str, dict[int, int], int]:
    """Per level: node -> its level; per node: node -> its index among the internal nodes."""
    per = check_choice(per, "per", ("level", "node"))
    if per == "level":
        return per, {v: tree.level(v) for v in tree.internal_nodes}, tree.depth
    count = len(tree.internal_nodes)
    if count > MAX_NODE_VARIABLES:
        raise ValueError(
            f"per: expected a tree with at most {MAX_NODE_VARIABLES} internal nodes for "
            f"per='node', got {count}; use per='level'"
        )
    return per, {v: v - tree.num_leaves for v in tree.internal_nodes}, count


# ------------------------------------------------------------- parameter count
def parameter_count(tree: ModeTree, widths: Ranks, *, in_dim: int, out_dim: int = 1) -> int:
    """Number of weights of the tree tensor / ConvAC (``shared=False``) with these widths.

    ``sum_v rows(v) * cols(v)``: leaf rows ``M = in_dim``, internal rows ``r_v``,
    columns the parent's width (``out_dim`` at the root), as counted by
    :meth:`TreeTensor.random` (``num_params``).
    """
    tree = _check_tree(tree)
    m = check_int(in_dim, "in_dim", minimum=1)
    out = check_int(out_dim, "out_dim", minimum=1)
    w = tree.resolve_ranks(widths, name="widths")
    var = {v: v - tree.num_leaves for v in tree.internal_nodes}
    lin, quad = _cost_model(tree, var, len(var), m, out)
    return _cost(lin, quad, [w[v] for v in tree.internal_nodes])


# ------------------------------------------------------------------ public API
def _check_weights(weights: Any, k: int) -> NDArray[np.float64]:
    if weights is None:
        return np.ones(k)
    if isinstance(weights, (str, bytes, Mapping)) or not isinstance(weights, Iterable):
        raise TypeError(
            f"weights: expected a sequence of {k} numbers >= 0, got {describe(weights)}"
        )
    if isinstance(weights, Sized) and len(weights) != k:
        raise ValueError(f"weights: expected {k} weights (one per partition), got {len(weights)}")
    out = [check_float(x, f"weights[{i}]", minimum=0.0) for i, x in enumerate(weights)]
    if len(out) != k:
        raise ValueError(f"weights: expected {k} weights (one per partition), got {len(out)}")
    if not any(x > 0 for x in out):
        raise ValueError("weights: expected at least one positive weight, got all zero")
    return np.asarray(out, dtype=np.float64)


def _setup(
    tree: Any, in_dim: Any, out_dim: Any, per: Any, max_candidates: Any
) -> tuple[ModeTree, int, str, dict[int, int], tuple[list[int], dict[tuple[int, int], int]], int]:
    tree = _check_tree(tree)
    m = check_int(in_dim, "in_dim", minimum=1)
    out = check_int(out_dim, "out_dim", minimum=1)
    per, var, nvars = _variables(tree, per)
    limit = check_int(max_candidates, "max_candidates", minimum=1)
    return tree, m, per, var, _cost_model(tree, var, nvars, m, out), limit


def _design(
    tree: ModeTree,
    per: str,
    var: dict[int, int],
    model: tuple[list[int], dict[tuple[int, int], int]],
    w: list[int],
    cuts: list[PartitionCut],
    **fields: Any,
) -> Design:
    widths = {v: w[var[v]] for v in tree.internal_nodes}
    return Design(
        widths=widths,
        level_widths=tuple(w) if per == "level" else None,
        params=_cost(*model, w),
        cuts=tuple(cuts),
        per=per,
        **fields,
    )


def design_widths(
    tree: ModeTree,
    budget: int,
    partitions: Sequence[Iterable[int]],
    *,
    in_dim: int,
    out_dim: int = 1,
    weights: Sequence[float] | None = None,
    per: str = "level",
    max_width: int | None = None,
    method: str = "auto",
    max_candidates: int = DEFAULT_MAX_CANDIDATES,
) -> Design:
    """Widths maximizing the weighted log min cut (guaranteed entanglement) under a budget.

    Maximizes ``sum_k weights[k] * log min_cut(tree, widths, partitions[k])``
    subject to :func:`parameter_count` ``<= budget`` (Levine et al., ICLR'18,
    Thm 1: the min cut bounds the rank of the matricization w.r.t. each
    partition, tightly for almost all weights).

    Parameters
    ----------
    tree : ModeTree
    budget : int
        Most weights, counted as :func:`parameter_count` (at least the count with every width 1).
    partitions : sequence of collections of int
        The partitions ``I`` the task needs (non-empty proper subsets of the positions).
    in_dim, out_dim : int
        M (size of each open leg) and the number of outputs.
    weights : sequence of float >= 0, optional
        One per partition (default all 1).
    per : {"level", "node"}
        One width per tree level, or per internal node (at most
        :data:`MAX_NODE_VARIABLES` of them).
    max_width : int, optional
        Largest width tried (default :data:`DEFAULT_MAX_WIDTH`, 2^16), and never
        more than the budget allows with every other width 1.
    method : {"auto", "branch-and-bound"}
        The exact branch and bound (``"auto"`` picks it; the only method so far).
    max_candidates : int
        Stop after scoring about this many width vectors and return the best
        found, with ``exact=False`` and ``gap`` bounding the shortfall.  The
        search alternates two variable orders (root level first, level 0
        first), each run allowed twice the candidates of the one before.

    Returns
    -------
    Design
        Optimal over all integer widths ``1 .. cap`` (``cap``: the largest width
        the budget allows at that level/node with every other width 1, or
        ``max_width``) up to a relative ``1e-9`` in the objective; among the
        optima, one where no width can be lowered without lowering the objective.

    Raises
    ------
    TypeError, ValueError
        Naming the argument, before any search: ``budget`` below the count with
        every width 1 (the message gives it), partitions outside ``0 .. N-1``,
        empty or full, weights negative, NaN or of the wrong length.
    """
    t0 = time.perf_counter()
    tree, m, per, var, model, limit = _setup(tree, in_dim, out_dim, per, max_candidates)
    check_choice(method, "method", ("auto", "branch-and-bound"))
    cap = DEFAULT_MAX_WIDTH if max_width is None else check_int(max_width, "max_width", minimum=1)
    if isinstance(partitions, Mapping):
        raise TypeError("partitions: expected a sequence of partitions; pass weights= separately")
    items = _check_parts(tree, partitions, "partitions")
    parts = [_check_part(tree, p, f"partitions[{k}]") for k, p in enumerate(items)]
    ws = _check_weights(weights, len(parts))
    lin, quad = model
    n = len(lin)
    least = _cost(lin, quad, [1] * n)
    budget = check_int(
        budget,
        "budget",
        minimum=least,
        maximum=MAX_BUDGET,
        fix=f"every width 1 already takes {least} parameters",
    )
    caps = []
    for j in range(n):
        c, a, _, _ = _partials(lin, quad, [1] * n, j)
        caps.append(min(cap, (budget - c) // a))
    used = [k for k in range(len(parts)) if ws[k] > 0]
    scorer = _Scorer(tree, [parts[k] for k in used], var, m, limit)

    def score(logw: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.asarray(scorer.cuts(logw) @ ws[used], dtype=np.float64)

    start, bound = ([1] * n, float(score(np.zeros((1, n)))[0])), math.inf
    root_first = list(range(n))[::-1]
    orders, allow, run = (root_first, root_first[::-1]), max(1, limit // 16), 0
    while True:  # two variable orders in turn, each run allowed twice as many candidates
        scorer.limit = min(limit, scorer.scored + allow)
        w, best, gap = _maximize(model, score, scorer, caps, budget, orders[run % 2], start)
        start, bound = (w, best), min(bound, best + gap)
        tol = _REL_TOL * max(1.0, abs(best))
        if bound - best <= tol or scorer.scored >= limit:
            break
        run += 1
        allow *= 2 if run % 2 == 0 else 1
    w = _shrink(w, root_first, lambda rows: score(rows) >= best - tol)
    widths = {v: w[var[v]] for v in tree.internal_nodes}
    cuts = []
    for p, wk in zip(parts, ws, strict=True):
        cut = tree_min_cut(tree, widths, p, in_dim=m)
        cuts.append(PartitionCut(tuple(sorted(p)), cut.value, cut.log_value, weight=float(wk)))
    objective = float(sum(c.weight * c.log_value for c in cuts if c.weight))
    gap = max(0.0, bound - best)
    exact = gap <= tol
    caps_text = ", ".join(map(str, caps if n <= 8 else caps[:8] + ["..."]))
    statement = (
        f"optimal over every integer width 1..cap per {per} (caps {caps_text}) within the "
        "budget, to 1e-9 relative in the objective"
        if exact
        else f"stopped after {scorer.scored} candidates (max_candidates); the optimum is at "
        f"most {gap:.6g} above this objective"
    )
    return _design(
        tree, per, var, model, w, cuts, budget=budget, objective=objective, exact=exact,
        gap=0.0 if exact else gap, statement=statement, candidates=scorer.scored,
        seconds=time.perf_counter() - t0,
    )  # fmt: skip


def cheapest_widths(
    tree: ModeTree,
    targets: Mapping[Any, int] | Sequence[tuple[Iterable[int], int]],
    *,
    in_dim: int,
    out_dim: int = 1,
    per: str = "level",
    max_candidates: int = DEFAULT_MAX_CANDIDATES,
) -> Design:
    """The fewest weights whose min cut reaches a rank for every partition (exact search).

    Minimizes :func:`parameter_count` subject to
    ``min_cut(tree, widths, I) >= rank`` for every ``(I, rank)`` of
    ``targets``: the architecture can then represent functions of those
    separation ranks (Levine et al., ICLR'18, Thm 1).  Widths above the largest
    target rank ``R`` never help (a cut through such a width already reaches
    ``R``), so the search over ``1 .. R`` per level (node) is exact.

    Parameters
    ----------
    tree : ModeTree
    targets : mapping partition -> rank, or sequence of ``(partition, rank)``
        Ranks in ``1 .. MAX_RANK``.
    in_dim, out_dim, per, max_candidates
        As for :func:`design_widths`.

    Raises
    ------
    TypeError, ValueError
        Naming ``targets`` for a bad partition, a rank < 1, or a rank no widths
        reach (the legs of a partition bound its min cut); others as
        :func:`design_widths`.
    """
    t0 = time.perf_counter()
    tree, m, per, var, model, limit = _setup(tree, in_dim, out_dim, per, max_candidates)
    items = _check_parts(tree, targets, "targets")
    parts, ranks = [], []
    for k, item in enumerate(items):
        if isinstance(item, (str, bytes)) or not isinstance(item, Sequence) or len(item) != 2:
            raise TypeError(
                f"targets[{k}]: expected a pair (partition, rank), got {describe(item)}"
            )
        parts.append(_check_part(tree, item[0], f"targets[{k}]"))
        ranks.append(check_int(item[1], f"targets[{k}]", minimum=1, maximum=MAX_RANK))
    n, top = len(model[0]), max(ranks)
    for k, (p, r) in enumerate(zip(parts, ranks, strict=True)):
        reach = tree_min_cut(tree, top, p, in_dim=m).value
        if reach < r:
            raise ValueError(
                f"targets[{k}]: expected a rank the network can reach, got {r}; the min cut "
                f"is at most {reach} however wide the layers (the legs of M = {m} bound it)"
            )
    scorer = _Scorer(tree, parts, var, m, limit)
    logr = np.log(np.asarray(ranks, dtype=np.float64)) - _LOG_TOL

    def feasible(logw: NDArray[np.float64]) -> NDArray[np.bool_]:
        return np.asarray((scorer.cuts(logw) >= logr).all(axis=1))

    order = list(range(n))[::-1]
    w, best, gap = _minimize(model, feasible, scorer, top, order)
    w = _shrink(w, order, feasible)
    widths = {v: w[var[v]] for v in tree.internal_nodes}
    cuts = []
    for p, r in zip(parts, ranks, strict=True):
        cut = tree_min_cut(tree, widths, p, in_dim=m)
        cuts.append(PartitionCut(tuple(sorted(p)), cut.value, cut.log_value, target=r))
    params = _cost(*model, w)
    gap = max(0.0, params - (best - gap))
    statement = (
        f"the fewest parameters over every integer width 1..{top} per {per} (wider never helps)"
        if gap == 0
        else f"stopped after {scorer.scored} candidates (max_candidates); the optimum may "
        f"use up to {gap:.0f} fewer parameters"
    )
    return _design(
        tree, per, var, model, w, cuts, budget=None, objective=float(params), exact=gap == 0,
        gap=gap, statement=statement, candidates=scorer.scored, seconds=time.perf_counter() - t0,
    )  # fmt: skip
