"""Exact "almost everywhere" statements tested on integer draws: witnesses, not frequencies.

A theorem such as "the rank is ``R`` for almost all weights" (depth efficiency,
entanglement = min cut) has two halves:

* an *upper bound* valid for **all** weights (a min cut, a width): every draw
  must respect it, and one violation is a counterexample;
* *genericity*: the rank is a lower semicontinuous function of the weights and
  equals ``R`` outside the zero set of a polynomial (an ``R x R`` minor), so a
  **single** draw of rank ``R`` -- exact, over a prime field, which bounds the
  rational rank from below -- proves the minor is not identically zero, hence
  rank ``>= R`` almost everywhere.  With the upper bound, rank ``= R`` almost
  everywhere is then proven.

Integer draws hit that zero set with small but positive probability (a 2x2
factor with entries in ``[-100, 100]`` is singular about once in 700 draws), so
counting how often a draw falls short measures the *sampling*, not the
theorem; a rule on that count flips with enough seeds.  The rule here looks
for a witness instead: each unit's scheduled draw, and if it falls short up to
:data:`RETRIES` further independent draws (:func:`find_witness`).  More seeds
can then never flip a correct verdict: they add witnesses, and a failure needs
either an upper-bound violation or ``RETRIES + 1`` consecutive short draws of
one configuration.  Short draws are reported separately, split into those
with a singular integer factor found *a priori* (:func:`singular_factors`)
and the rest, with a Clopper-Pearson interval of their rate
(:func:`shortfall_rate`).  Draws use the wide range :data:`EXACT_INT_RANGE`,
where short draws are rare.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...analysis.modular import DEFAULT_PRIME, rank_mod_p
from ...tensors import TreeTensor

__all__ = [
    "EXACT_INT_RANGE",
    "RETRIES",
    "Witness",
    "draw_seeds",
    "find_witness",
    "shortfall_rate",
    "singular_factors",
]

#: Integer weights of the exact claims: uniform on ``[-2^20, 2^20]`` without 0.
EXACT_INT_RANGE = 2**20
#: Further independent draws a unit tries when its scheduled draw falls short.
RETRIES = 3


def singular_factors(tt: TreeTensor, p: int = DEFAULT_PRIME) -> int:
    """How many factors of an integer tree tensor are rank-deficient (known before any rank).

    A leaf matrix (``M x r``) or node weight (``r_v x r_parent``) whose exact
    rank modulo ``p`` is below ``min(shape)`` caps the ranks through it: the
    draw lies in the exceptional set of the "almost all weights" statements.
    """
    mats = list(tt.leaf_weights) + [w for v, w in tt.node_weights.items() if v != tt.tree.root]
    count = 0
    for w in mats:
        a = np.asarray(w)
        if a.dtype.kind not in "iu":
            raise TypeError("singular_factors: expected an integer TreeTensor (integer=True)")
        if rank_mod_p(a, p) < min(a.shape):
            count += 1
    return count


@dataclass(frozen=True)
class Witness:
    """The draws one unit tried: their ranks and singular factors, and the best rank."""

    target: int
    ranks: tuple[int, ...]
    singular: tuple[int, ...]
    seeds: tuple[int, ...]

    @property
    def first(self) -> int:
        """Rank of the scheduled draw."""
        return self.ranks[0]

    @property
    def best(self) -> int:
        """Largest rank over the draws tried (the witness if it reaches the target)."""
        return max(self.ranks)

    @property
    def found(self) -> bool:
        return self.best >= self.target

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "ranks": list(self.ranks),
            "singular_factors": list(self.singular),
            "seeds": list(self.seeds),
            "first": self.first,
            "best": self.best,
            "found": self.found,
        }


def draw_seeds(seed: int) -> list[int]:
    """The scheduled seed and the :data:`RETRIES` retry seeds derived from it (deterministic)."""
    from .._util import derive_seed

    return [int(seed)] + [derive_seed(seed, "retry", i) for i in range(1, RETRIES + 1)]


def find_witness(
    draw: Callable[[int], tuple[int, int]], seeds: Iterable[int], target: int
) -> Witness:
    """Try draws until one reaches ``target``: ``draw(seed) -> (rank, singular factors)``.

    ``seeds`` is the scheduled seed followed by the retry seeds (at most
    ``1 + RETRIES`` are used).  Every draw tried is recorded, so the upper
    bound can be checked on all of them.
    """
    ranks, singular, used = [], [], []
    for i, s in enumerate(seeds):
        if i > RETRIES:
            break
        rank, sing = draw(int(s))
        ranks.append(int(rank))
        singular.append(int(sing))
        used.append(int(s))
        if rank >= target:
            break
    if not ranks:
        raise ValueError("find_witness: no seeds")
    return Witness(int(target), tuple(ranks), tuple(singular), tuple(used))


def shortfall_rate(witnesses: Iterable[Witness | dict[str, Any]]) -> dict[str, Any]:
    """Scheduled draws below their target: counts (explained / not) and a 95 % interval.

    Accepts :class:`Witness` objects or their JSON form.  The interval is
    Clopper-Pearson (``scipy.stats.binomtest(...).proportion_ci()``).
    """
    from scipy import stats

    rows = [w.to_json() if isinstance(w, Witness) else w for w in witnesses]
    n = len(rows)
    short = [r for r in rows if r["first"] < r["target"]]
    explained = sum(1 for r in short if r["singular_factors"][0] > 0)
    if n:
        ci = stats.binomtest(len(short), n).proportion_ci(0.95)
        lo, hi = float(ci.low), float(ci.high)
    else:
        lo, hi = 0.0, 1.0
    return {
        "draws": n,
        "short": len(short),
        "short_with_singular_factor": explained,
        "short_unexplained": len(short) - explained,
        "short_rate_ci95": [lo, hi],
        "witnesses_missing": sum(1 for r in rows if not r["found"]),
    }
