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
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..analysis import min_cut
from ..tensors import TreeTensor
from ..trees import ModeTree
from ._util import derive_seed, pyplot
from .base import Claim, Param, Unit, Verdict, register

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
    params = (
        Param("levels", "int", 5, 6, "depth L of the deep net (N = 2^L positions)", minimum=2),
        Param("widths", "ints", (2, 3), (2, 3), "widths r of the deep net (M = r)", minimum=2),
        Param("ks", "ints", (1, 2, 3, 4), (1, 2, 3, 4), "numbers k of levels cut off", minimum=1),
        Param("seeds", "int", 1, 3, "random draws per (r, k)", minimum=1),
        Param(
            "max_rank",
            "int",
            1000,
            5000,
            "skip (r, k) whose predicted rank r^(2^(k-1)) exceeds this",
            minimum=1,
        ),
    )

    def units(self, params: Mapping[str, Any], seed: int) -> list[Unit]:
        out = []
        for r in params["widths"]:
            for k in params["ks"]:
                if k >= params["levels"] or r ** (2 ** (k - 1)) > params["max_rank"]:
                    continue
                for s in range(params["seeds"]):
                    cfg = {"levels": params["levels"], "r": r, "k": k, "draw": s}
                    out.append(Unit(cfg, derive_seed(seed, self.id, r, k, s)))
        return out

    def run_unit(self, config: Mapping[str, Any], seed: int) -> dict[str, Any]:
        levels, r, k = int(config["levels"]), int(config["r"]), int(config["k"])
        m = r
        n = 2**levels
        I = block_interleaved(levels, k)
        deep_tree = ModeTree.balanced(n)
        deep = TreeTensor.random(deep_tree, m, r, seed=seed, integer=True)
        deep_rank = deep.matricization_rank(I, method="modular")
        deep_cut = min_cut(deep_tree, r, I, in_dim=m).value
        predicted = r ** (2 ** (k - 1))
        shallow = cut_tree(levels, k)
        root = shallow.root
        shallow_ranks: dict[str, int] = {}
        for K in sorted({max(1, predicted // 2), max(1, predicted - 1), predicted}):
            widths = {v: (K if v == root else r) for v in shallow.internal_nodes}
            # The global node is a CP sum of K terms weighted by the root's weights;
            # a zero there (1/201 per entry, often hit when K ~ 256) deletes a term.
            tt = TreeTensor.random(shallow, m, widths, seed=seed + K, integer=True, nonzero=True)
            shallow_ranks[str(K)] = tt.matricization_rank(I, method="modular")
        return {
            "levels": levels,
            "r": r,
            "k": k,
            "predicted": predicted,
            "deep_rank": int(deep_rank),
            "deep_min_cut": int(deep_cut),
            "shallow_ranks": shallow_ranks,
        }

    def verdict(self, params: Mapping[str, Any], results: list[dict[str, Any]]) -> Verdict:
        bad = []
        for res in results:
            r, k, pred = res["r"], res["k"], res["predicted"]
            if pred != r ** (2 ** (k - 1)) or res["deep_rank"] != pred:
                bad.append(f"r={r} k={k}: deep rank {res['deep_rank']} != {r}^(2^{k - 1})")
            if res["deep_min_cut"] != res["deep_rank"]:
                bad.append(f"r={r} k={k}: min cut {res['deep_min_cut']} != rank")
            for key, rank in res["shallow_ranks"].items():
                if rank > int(key) or rank != min(int(key), pred):
                    bad.append(f"r={r} k={k}: top width {key} gives rank {rank}")
        ks = sorted({res["k"] for res in results})
        table = {f"r={res['r']},k={res['k']}": res["deep_rank"] for res in results}
        ok = bool(results) and not bad
        summary = (
            f"deep rank == r^(2^(k-1)) == min cut for all {len(results)} units (k in {ks}); "
            "a global top of width K reaches rank min(K, r^(2^(k-1))), so K >= r^(2^(k-1)) "
            "is needed"
            if ok
            else "failed: " + "; ".join(bad[:5])
            if bad
            else "no results"
        )
        return Verdict.exact(ok, summary, {"deep_ranks": table, "failures": bad[:20]})

    def figure(self, params: Mapping[str, Any], results: list[dict[str, Any]], path: str) -> None:
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
