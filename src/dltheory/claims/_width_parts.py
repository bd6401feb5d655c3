"""The measurements of claim ``width-design``: width profiles, exact curves, the design, training.

Levine, Yakira, Cohen & Shashua, "Deep Learning and Quantum Entanglement:
Fundamental Connections with Implications to Network Design", ICLR 2018:
the rank of a deep ConvAC's coefficient tensor w.r.t. a partition is bounded
(tightly, for almost all weights) by the minimal cut of its tensor network
(Claim 1, Thm 1), so the widths of the levels a partition's cut runs through
decide how much correlation the network can model across it (Sec. 5).

All parts use the tree of the training part, ``ModeTree.balanced(64)``
(6 levels: pairs, blocks of 4, 8, 16, 32, the root), one-hot tokens
(``M = 2``).  A *profile* gives levels 0-2 (early) the width ``e`` and levels
3-5 (deep) the width ``d``; with shared 1x1 convolutions its weight count is
``2e + 2e^2 + ed + 2d^2 + 2d``, symmetric in ``(e, d)``, so the early-wide
profile ``(wide, narrow)`` and the deep-wide ``(narrow, wide)`` have the same
parameter count, the budget.  Partitions (of the 64 positions):

* long-range: ``left/right`` (positions 0-31; the cut runs through the root
  and the 32-blocks: ``min(r5, r4, r3^2, ...)``), ``block of 16`` (0-15:
  ``min(r3, r4, r2^2, ...)``);
* short-range: ``block of 4`` (0-3: ``min(r1, r2, r0^2, 16)``) and
  ``octet halves`` (the first half of every block of 8, what the local
  task's palindromes need: ``min(r2, r1, r0^2, 16)^8``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

from ..trees import ModeTree

__all__ = [
    "LENGTH",
    "LONG",
    "PARTITIONS",
    "PROFILES",
    "RANKED",
    "SHORT",
    "TASK_PARTITION",
    "curve_unit",
    "deep_share",
    "design_unit",
    "profile_widths",
    "shared_count",
    "tree",
    "widths_of",
]

#: Sequence length and block length of the local task.
LENGTH, BLOCK = 64, 8
#: The partitions of the exact part, by name (positions in ``I``).
PARTITIONS: dict[str, tuple[int, ...]] = {
    "left/right": tuple(range(LENGTH // 2)),
    "block of 16": tuple(range(16)),
    "block of 4": tuple(range(4)),
    "octet halves": tuple(i for i in range(LENGTH) if i % BLOCK < BLOCK // 2),
}
LONG: tuple[str, ...] = ("left/right", "block of 16")
SHORT: tuple[str, ...] = ("block of 4", "octet halves")
#: Partitions whose exact rank is computed (the others' ranks reach 16^8: min cut only).
RANKED: tuple[str, ...] = ("left/right", "block of 16", "block of 4")
#: The two width profiles of the training part, and the partition each task needs.
PROFILES: tuple[str, ...] = ("early-wide", "deep-wide")
TASK_PARTITION: dict[str, str] = {"local": "octet halves", "long": "left/right"}
_EARLY_LEVELS = 3
_M, _OUT = 2, 2


def tree() -> ModeTree:
    """The experiment's tree: the balanced binary tree over 64 positions."""
    return ModeTree.balanced(LENGTH)


def profile_widths(early: int, deep: int) -> list[int]:
    """Per-level widths: ``early`` at levels 0-2, ``deep`` at levels 3-5."""
    return [int(early)] * _EARLY_LEVELS + [int(deep)] * (tree().depth - _EARLY_LEVELS)


def widths_of(profile: str, wide: int, narrow: int) -> list[int]:
    """The widths of a named training profile."""
    return profile_widths(wide, narrow) if profile == "early-wide" else profile_widths(narrow, wide)


def _level_weights(widths: Sequence[int]) -> list[int]:
    """Weights of each shared convolution: the leaves' ``M x r0``, level l's ``r_l x r_(l+1)``."""
    ws = list(widths) + [_OUT]
    return [_M * ws[0]] + [ws[k] * ws[k + 1] for k in range(len(widths))]


def shared_count(widths: Sequence[int]) -> int:
    """Weights of the shared-convolution ConvAC with these widths (as ``ConvAC(shared=True)``)."""
    return sum(_level_weights(widths))


def deep_share(widths: Sequence[int]) -> float:
    """Fraction of the weights in the convolutions of the deep levels (3, 4, 5)."""
    per = _level_weights(widths)
    return sum(per[1 + _EARLY_LEVELS :]) / sum(per)


def frontier(wide: int, narrow: int) -> list[tuple[int, int]]:
    """Profiles ``(e, d)`` of the budget ``shared_count(early-wide)``, ``e`` from wide to narrow.

    For each early width ``e`` the largest deep width ``d`` within the budget;
    the ends are the two training profiles (the count is symmetric in ``e, d``).
    """
    budget = shared_count(profile_widths(wide, narrow))
    out = []
    for e in range(wide, narrow - 1, -1):
        d = 1
        while shared_count(profile_widths(e, d + 1)) <= budget:
            d += 1
        out.append((e, d))
    return out


def curve_unit(config: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """Exact min cuts and ranks along the budget frontier (random Gaussian weights, float64).

    Ranks are computed by the structured spectrum (:meth:`TreeTensor.matricization_rank`)
    for ``config["draws"]`` draws per profile, with one weight matrix per node
    (generic weights; sharing them across a level does not raise a min cut).
    """
    from ..design import tree_min_cut
    from ..tensors import TreeTensor

    t0 = time.perf_counter()
    t = tree()
    rows = []
    for k, (e, d) in enumerate(frontier(int(config["wide"]), int(config["narrow"]))):
        w = profile_widths(e, d)
        cuts = {n: int(tree_min_cut(t, w, I, in_dim=_M).value) for n, I in PARTITIONS.items()}
        ranks: dict[str, list[int]] = {n: [] for n in RANKED}
        for j in range(int(config["draws"])):
            tt = TreeTensor.random(t, _M, w, seed=seed + 1000 * k + j)
            for n in RANKED:
                ranks[n].append(int(tt.matricization_rank(PARTITIONS[n])))
        rows.append(
            {
                "early": e,
                "deep": d,
                "params": shared_count(w),
                "deep_share": deep_share(w),
                "min_cut": cuts,
                "ranks": ranks,
            }
        )
    return {"part": "curve", "rows": rows, "wall_s": time.perf_counter() - t0}


def design_unit(config: Mapping[str, Any]) -> dict[str, Any]:
    """The design function on this tree: widths for the long- and for the short-range partitions.

    :func:`dltheory.design.design_widths` maximizes the summed log min cut of
    the partitions under a budget of weights counted as
    :func:`~dltheory.design.parameter_count` does (one matrix per node): the
    count of the early-wide training profile.  Also the min cut, per task, of
    the partition the task needs under each training profile: the profile the
    design criterion picks for the task.
    """
    from ..design import design_widths, parameter_count, tree_min_cut

    t0 = time.perf_counter()
    t = tree()
    wide, narrow = int(config["wide"]), int(config["narrow"])
    budget = parameter_count(t, widths_of("early-wide", wide, narrow), in_dim=_M, out_dim=_OUT)
    designs = {}
    for kind, names in (("long", LONG), ("short", SHORT)):
        d = design_widths(
            t,
            budget,
            [PARTITIONS[n] for n in names],
            in_dim=_M,
            out_dim=_OUT,
            max_candidates=int(config["max_candidates"]),
        )
        lw = list(d.level_widths or ())
        designs[kind] = {
            "partitions": list(names),
            "widths": lw,
            "params": int(d.params),
            "exact": bool(d.exact),
            "gap": float(d.gap),
            "deep_share": deep_share(lw),
            "log2_min_cuts": {
                n: c.log_value / math.log(2) for n, c in zip(names, d.cuts, strict=True)
            },
        }
    picks = {}
    for task, name in TASK_PARTITION.items():
        part = PARTITIONS[name]
        cuts = {
            p: math.log2(tree_min_cut(t, widths_of(p, wide, narrow), part, in_dim=_M).value)
            for p in PROFILES
        }
        best = max(cuts.values())
        winners = [p for p in PROFILES if cuts[p] == best]
        picks[task] = {
            "partition": name,
            "log2_min_cut": cuts,
            "pick": winners[0] if len(winners) == 1 else "tie",
        }
    return {
        "part": "design",
        "budget": budget,
        "designs": designs,
        "picks": picks,
        "wall_s": time.perf_counter() - t0,
    }
