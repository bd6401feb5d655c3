"""Claim ``depth-hierarchy``: every extra level of depth is worth a double exponential in width.

Cohen, Sharir & Shashua (COLT'16, "arbitrary depths"; lecture [C]): cutting
``k`` levels off a deep size-2-pooling ConvAC over ``N = 2^L`` positions
(the ``2^k`` subtrees of height ``L - k`` pooled by one global node of width
``K``) keeps the network's expressiveness only if ``K >= r^(2^(k-1))``.

The witness is the *block-interleaved* partition at scale ``k``: the blocks
are the ``2^k`` subtrees of height ``L - k`` and ``I`` takes every other
block.  Above the blocks the deep net is a balanced tree over ``2^k``
super-positions of dimension ``r``, and ``I`` is their odd/even partition, so
its rank is ``min(r, M^(2^(L-k)))^(2^(k-1)) = r^(2^(k-1))`` (for ``M >= r``);
the net with a global top node of width ``K`` is a CP decomposition over the
blocks, so its rank is at most ``K``.

Rule (protocol v2; exact, two-valued).  Both ranks are "almost all weights"
statements: upper bounds hold for every draw (the min cut ``r^(2^(k-1))`` for
the deep net, ``K`` for the cut one) and the generic value is certified by a
witness draw (:mod:`dltheory.claims.evidence.generic`): integer weights
uniform on ``[-2^20, 2^20]`` without 0, ranks over a prime field; a draw that
falls short is followed by up to three independent draws.  Reproduced iff for
every ``(r, k)`` the min cut equals ``r^(2^(k-1))``, no draw exceeds its upper
bound, and the deep net reaches ``r^(2^(k-1))`` and the cut net ``min(K,
r^(2^(k-1)))`` on a witness.  Short scheduled draws are reported apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..analysis import min_cut
from ..tensors import TreeTensor
from ..trees import ModeTree
from ._util import derive_seed, pyplot
from .base import Claim, Param, Revision, Unit, Verdict, register
from .evidence import EXACT_INT_RANGE, draw_seeds, find_witness, shortfall_rate, singular_factors

__all__ = ["DepthHierarchy", "block_interleaved", "cut_tree"]


def block_interleaved(levels: int, k: int) -> tuple[int, ...]:
    """Every other block of size ``2^(levels-k)`` among ``N = 2^levels`` positions."""
    b = 2 ** (levels - k)
    return tuple(i for i in range(2**levels) if (i // b) % 2 == 1)


def cut_tree(levels: int, k: int) -> ModeTree:
    """The deep tree with its top ``k`` levels replaced by one global pooling node."""

    def sub(lo: int, h: int) -> Any:
        if h == 0:
            return lo
        half = 2 ** (h - 1)
        return [sub(lo, h - 1), sub(lo + half, h - 1)]

    b = 2 ** (levels - k)
    return ModeTree.from_nested([sub(j * b, levels - k) for j in range(2**k)], kind=f"cut-{k}")


@register
class DepthHierarchy(Claim):
    """Required top width of a net with ``k`` levels cut off grows as ``r^(2^(k-1))``."""

    id = "depth-hierarchy"
    title = "Depth hierarchy: cutting k levels needs top width r^(2^(k-1))"
    source = "[C] Cohen, Sharir & Shashua, COLT'16 (arbitrary depths)"
    statement = (
        "Cutting k levels off a deep ConvAC (top pooling made global) forces the top width to "
        "grow as r^(2^(k-1)) to keep the rank w.r.t. a block-interleaved partition: double "
        "exponential in k, measured exactly for k = 1..4."
    )
    rule = (
        "Exact: for every (r, k) the min cut equals r^(2^(k-1)); no draw exceeds its upper bound "
        "(the min cut for the deep net, K for the net with k levels cut); the deep net reaches "
        "r^(2^(k-1)) and the cut net min(K, r^(2^(k-1))) on a witness draw (the scheduled integer "
        "draw or one of up to 3 independent retries), which with the bounds proves the ranks for "
        "almost all weights. Short draws are reported apart, never in the verdict."
    )
    version = 2
    history = (
        Revision(
            version=2,
            date="2026-12-01",
            change=(
                "Genericity is certified by a witness draw (up to 3 retries after a short draw) "
                "instead of requiring every draw to reach the generic rank; weights are drawn "
                "from [-2^20, 2^20] without 0 instead of [-100, 100]; short draws and their "
                "a-priori singular factors are reported apart."
            ),
            why=(
                "With --set seeds=60, v1 said 'not reproduced' because 2 of 420 integer draws "
                "were degenerate (deep rank 3 != 4 with no singular factor, 8 != 16 with one): "
                "measure-zero events of the integer sampling, not counterexamples, so more seeds "
                "could flip an exact verdict."
            ),
        ),
    )
    params = (
        Param(
            "levels",
            "int",
            5,
            6,
            "depth L of the deep net (N = 2^L positions)",
            minimum=2,
            maximum=8,
        ),
        Param(
            "widths",
            "ints",
            (2, 3),
            (2, 3),
            "widths r of the deep net (M = r)",
            minimum=2,
            maximum=8,
        ),
        Param(
            "ks",
            "ints",
            (1, 2, 3, 4),
            (1, 2, 3, 4),
            "numbers k of levels cut off (< levels)",
            minimum=1,
            maximum=7,
        ),
        Param("seeds", "int", 1, 3, "random draws per (r, k)", minimum=1, maximum=1000),
        Param(
            "max_rank",
            "int",
            1000,
            5000,
            "skip (r, k) whose predicted rank r^(2^(k-1)) exceeds this",
            minimum=1,
            maximum=5000,
        ),
    )

    def check(  # pragma: no mutate block (input checks, not the verdict rule)
        self, params: Mapping[str, Any]
    ) -> None:
        """Each k must leave a level: ``k < levels``; something must be left to run."""
        bad = [k for k in params["ks"] if k >= params["levels"]]
        if bad:
            raise ValueError(
                f"--set ks: {bad} cut as many levels as the net has (levels = "
                f"{params['levels']}); use k < levels"
            )
        if not self.units(params, 0):
            raise ValueError(
                "--set max_rank: every (r, k) predicts a rank above max_rank; nothing to run"
            )

    def units(  # pragma: no mutate block (planning, not the verdict rule)
        self, params: Mapping[str, Any], seed: int
    ) -> list[Unit]:
        out = []
        for r in params["widths"]:
            for k in params["ks"]:
                if k >= params["levels"] or r ** (2 ** (k - 1)) > params["max_rank"]:
                    continue
                for s in range(params["seeds"]):
                    cfg = {"levels": params["levels"], "r": r, "k": k, "draw": s}
                    out.append(Unit(cfg, derive_seed(seed, self.id, r, k, s)))
        return out

    def run_unit(  # pragma: no mutate block (measurement, not the verdict rule)
        self, config: Mapping[str, Any], seed: int
    ) -> dict[str, Any]:
        levels, r, k = int(config["levels"]), int(config["r"]), int(config["k"])
        m = r
        n = 2**levels
        I = block_interleaved(levels, k)
        deep_tree = ModeTree.balanced(n)
        predicted = r ** (2 ** (k - 1))

        def deep_draw(s: int) -> tuple[int, int]:
            tt = TreeTensor.random(
                deep_tree, m, r, seed=s, integer=True, nonzero=True, int_range=EXACT_INT_RANGE
            )
            return tt.matricization_rank(I, method="modular"), singular_factors(tt)

        deep = find_witness(deep_draw, draw_seeds(seed), predicted)
        deep_cut = min_cut(deep_tree, r, I, in_dim=m).value
        shallow = cut_tree(levels, k)
        root = shallow.root
        widths_k: dict[str, dict[str, Any]] = {}
        for K in sorted({max(1, predicted // 2), max(1, predicted - 1), predicted}):
            widths = {v: (K if v == root else r) for v in shallow.internal_nodes}

            def cut_draw(s: int, widths: dict[int, int] = widths) -> tuple[int, int]:
                tt = TreeTensor.random(
                    shallow,
                    m,
                    widths,
                    seed=s,
                    integer=True,
                    nonzero=True,
                    int_range=EXACT_INT_RANGE,
                )
                return tt.matricization_rank(I, method="modular"), singular_factors(tt)

            widths_k[str(K)] = find_witness(
                cut_draw, draw_seeds(derive_seed(seed, "cut", K)), min(K, predicted)
            ).to_json()
        return {
            "levels": levels,
            "r": r,
            "k": k,
            "predicted": predicted,
            "deep": deep.to_json(),
            "deep_rank": deep.best,
            "deep_min_cut": int(deep_cut),
            "shallow": widths_k,
        }

    def verdict(self, params: Mapping[str, Any], results: list[dict[str, Any]]) -> Verdict:
        bad = []
        for res in results:
            r, k, pred = res["r"], res["k"], res["predicted"]
            tag = f"r={r} k={k}"
            if pred != r ** (2 ** (k - 1)) or res["deep_min_cut"] != pred:
                bad.append(f"{tag}: min cut {res['deep_min_cut']} != {r}^(2^{k - 1})")
            if max(res["deep"]["ranks"]) > res["deep_min_cut"]:
                bad.append(f"{tag}: a deep draw has rank {max(res['deep']['ranks'])} > min cut")
            if res["deep"]["best"] != pred:
                bad.append(f"{tag}: no witness: deep ranks {res['deep']['ranks']} != {pred}")
            for key, w in res["shallow"].items():
                if max(w["ranks"]) > int(key):
                    bad.append(f"{tag}: top width {key} gives rank {max(w['ranks'])} > {key}")
                if w["best"] != min(int(key), pred):
                    bad.append(f"{tag}: top width {key}: no witness, ranks {w['ranks']}")
        ks = sorted({res["k"] for res in results})
        table = {f"r={res['r']},k={res['k']}": res["deep_rank"] for res in results}
        short = shortfall_rate(
            [res["deep"] for res in results]
            + [w for res in results for w in res["shallow"].values()]
        )
        ok = bool(results) and not bad
        summary = (
            f"deep rank == r^(2^(k-1)) == min cut for all {len(results)} units (k in {ks}); "
            "a global top of width K reaches rank min(K, r^(2^(k-1))) and never more, so K >= "
            f"r^(2^(k-1)) is needed; {short['short']} of {short['draws']} scheduled draws fell "
            f"short ({short['short_with_singular_factor']} with a singular factor), each "
            "followed by a witness"
            if ok
            else "failed: " + "; ".join(bad[:5])
            if bad
            else "no results"
        )
        return Verdict.exact(
            ok, summary, {"deep_ranks": table, "failures": bad[:20], "short_draws": short}
        )

    def figure(  # pragma: no mutate block (drawing, not the verdict rule)
        self, params: Mapping[str, Any], results: list[dict[str, Any]], path: str
    ) -> None:
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(6, 4))
        for r in sorted({res["r"] for res in results}):
            rows = sorted((res["k"], res["deep_rank"]) for res in results if res["r"] == r)
            ks = [a for a, _ in rows]
            ax.plot(ks, [b for _, b in rows], "o", label=f"measured, r={r}")
            kk = sorted(set(ks))
            ax.plot(
                kk, [r ** (2 ** (k - 1)) for k in kk], "-", alpha=0.6, label=f"r^(2^(k-1)), r={r}"
            )
        ax.set_yscale("log")
        ax.set_xlabel("levels cut off, k")
        ax.set_ylabel("required top width K (= deep rank)")
        ax.set_title("Depth hierarchy (block-interleaved partition)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
