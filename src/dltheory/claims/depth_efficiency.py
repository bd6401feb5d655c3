"""Claim ``depth-efficiency``: deep ConvACs realize ranks a shallow one needs exponential width for.

Cohen, Sharir & Shashua, "On the expressive power of deep learning: a tensor
analysis" (COLT'16; lectures [C][B]); 2D part: Cohen & Shashua, ICLR'17.

(a) A deep ConvAC (size-2 pooling, ``N = 2^L``) has matricization rank
``min(r0, M)^(N/2)`` w.r.t. the odd/even partition for almost all weights;
measured exactly (integer weights, rank over a prime field) and certified by
the min cut.  Integer draws land in the exceptional measure-zero set with
positive probability (about 1% of draws have a singular 2x2 factor, which
halves the rank); those draws are detected exactly (integer determinant),
reported, and must stay rare (<= 5%), while every other draw must reach the
bound.  (b) A shallow (CP) net of width ``K`` has rank ``<= K``.
(c) CP fits of growing rank ``R`` to a deep net's dense tensor: below the
bound no CP is exact, and the Eckart-Young tail of the odd/even spectrum is a
certified lower bound on the relative error; at or above it the fit reaches a
small error.  (d) 2D square pooling: the interleaved partition has rank
``>= min(r0, M)^(N/4)``, the left/right one ``<= r_top`` (the root's width)
on grids whose top pooling separates left from right (4x4, 4x8, 2x8; not
8x4, where the root pools top and bottom halves and no such bound holds).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..analysis import interleaved_2d, left_right, min_cut, odd_even
from ..tensors import TreeTensor
from ..trees import ModeTree
from ._util import derive_seed, pyplot
from .base import Claim, Param, Unit, Verdict, register

__all__ = ["DepthEfficiency", "orthogonal_deep_tensor"]


def orthogonal_deep_tensor(n: int, m: int, r: int, seed: int) -> TreeTensor:
    """A balanced-tree tensor with random orthonormal factors (a flat odd/even spectrum)."""
    tree = ModeTree.balanced(n)
    rng = np.random.default_rng(seed)

    def orth(rows: int, cols: int) -> np.ndarray:
        k = max(rows, cols)
        q, _ = np.linalg.qr(rng.standard_normal((k, k)))
        return q[:rows, :cols]

    leaves = [orth(m, r) for _ in range(n)]
    nodes = {v: orth(r, 1 if v == tree.root else r) for v in tree.internal_nodes}
    return TreeTensor(tree, leaves, nodes)


@register
class DepthEfficiency(Claim):
    """Odd/even rank of deep nets is min(r,M)^(N/2); shallow width K gives rank <= K."""

    id = "depth-efficiency"
    title = "Depth efficiency of convolutional arithmetic circuits"
    source = "[C][B] Cohen, Sharir & Shashua, COLT'16; 2D: Cohen & Shashua, ICLR'17"
    statement = (
        "Over many random draws of a deep ConvAC (size-2 pooling), the matricization rank w.r.t. "
        "the odd/even partition equals min(r0, M)^(N/2) every time, certified exactly, while a "
        "shallow (CP) net of width K has rank <= K. Fitting CP decompositions of growing rank to "
        "a deep net's tensor reaches ~0 error only at rank >= that bound. 2D square pooling: "
        "interleaved partition rank >= min(r0,M)^(N/4); left/right rank <= r_(L-1)."
    )
    params = (
        Param("n", "int", 16, 16, "(a) positions N of the deep net", minimum=2),
        Param("draws", "int", 20, 200, "(a) random deep nets (integer weights)", minimum=1),
        Param(
            "shallow_widths",
            "ints",
            (1, 4, 16, 64, 255, 256, 300),
            (1, 2, 4, 8, 16, 32, 64, 128, 255, 256, 300, 512),
            "(b) CP widths K",
            minimum=1,
        ),
        Param(
            "cp_n", "int", 8, 8, "(c) positions of the fitted deep tensor (M = r = 2)", minimum=4
        ),
        Param(
            "cp_ranks",
            "ints",
            (4, 8, 12, 15, 16, 20, 24),
            (1, 2, 4, 6, 8, 10, 12, 14, 15, 16, 17, 18, 20, 24, 28, 32),
            "(c) CP ranks R fitted",
            minimum=1,
        ),
        Param("cp_restarts", "int", 2, 4, "(c) random initializations per R", minimum=1),
        Param("cp_iters", "int", 400, 2000, "(c) ALS iterations per fit", minimum=1),
        Param(
            "grids",
            "str",
            "4x4,4x8",
            "4x4,4x8,2x8",
            "(d) grid shapes HxW whose top pooling splits left from right",
        ),
        Param("below_min", "float", 1e-3, 1e-3, "(c) error every R < bound must exceed"),
        Param("above_max", "float", 1e-2, 1e-2, "(c) error some R >= bound must reach"),
    )

    def units(self, params: Mapping[str, Any], seed: int) -> list[Unit]:
        out = [
            Unit({"part": "deep", "n": params["n"], "draw": d}, derive_seed(seed, self.id, "a", d))
            for d in range(params["draws"])
        ]
        out.append(
            Unit(
                {"part": "shallow", "n": params["n"], "widths": list(params["shallow_widths"])},
                derive_seed(seed, self.id, "b"),
            )
        )
        for R in params["cp_ranks"]:
            out.append(
                Unit(
                    {
                        "part": "cp",
                        "n": params["cp_n"],
                        "R": R,
                        "restarts": params["cp_restarts"],
                        "iters": params["cp_iters"],
                    },
                    derive_seed(seed, self.id, "c"),
                )
            )
        for shape in str(params["grids"]).split(","):
            out.append(
                Unit(
                    {"part": "grid", "shape": shape.strip()},
                    derive_seed(seed, self.id, "d", shape.strip()),
                )
            )
        return out

    def run_unit(self, config: Mapping[str, Any], seed: int) -> dict[str, Any]:
        part = config["part"]
        if part == "deep":
            n, m, r = int(config["n"]), 2, 2
            tree = ModeTree.balanced(n)
            tt = TreeTensor.random(tree, m, r, seed=seed, integer=True)
            I = odd_even(n)
            # Integer draws hit the measure-zero exceptional set with positive
            # probability: a singular square factor (det 0) caps the rank.
            mats = list(tt.leaf_weights) + [w for v, w in tt.node_weights.items() if v != tree.root]
            singular = sum(
                1
                for w in mats
                if w.shape[0] == w.shape[1] and int(round(float(np.linalg.det(w)))) == 0
            )
            return {
                "part": "deep",
                "n": n,
                "bound": min(r, m) ** (n // 2),
                "rank": tt.matricization_rank(I, method="modular"),
                "min_cut": int(min_cut(tree, r, I, in_dim=m).value),
                "singular_factors": singular,
            }
        if part == "shallow":
            n, m = int(config["n"]), 2
            tree = ModeTree.flat(n)
            rows = []
            for K in config["widths"]:
                # nonzero: a zero root weight would delete one of the K CP terms
                tt = TreeTensor.random(
                    tree, m, int(K), seed=seed + int(K), integer=True, nonzero=True
                )
                rows.append(
                    {"K": int(K), "rank": tt.matricization_rank(odd_even(n), method="modular")}
                )
            return {"part": "shallow", "n": n, "rows": rows, "deep_bound": m ** (n // 2)}
        if part == "cp":
            import tensorly as tl
            from tensorly.decomposition import parafac

            n, R = int(config["n"]), int(config["R"])
            tt = orthogonal_deep_tensor(n, 2, 2, seed)
            dense = tt.to_dense()
            norm = float(np.linalg.norm(dense))
            s = tt.schmidt_values(odd_even(n))
            tail = float(math.sqrt(float(np.sum(s[R:] ** 2)) / float(np.sum(s**2))))
            errors = []
            for k in range(int(config["restarts"])):
                cp = parafac(
                    tl.tensor(dense),
                    R,
                    n_iter_max=int(config["iters"]),
                    init="random",
                    random_state=derive_seed(seed, "restart", R, k),
                    tol=1e-14,
                )
                errors.append(float(np.linalg.norm(tl.cp_to_tensor(cp) - dense) / norm))
            return {
                "part": "cp",
                "n": n,
                "R": R,
                "bound": 2 ** (n // 2),
                "errors": errors,
                "best_error": min(errors),
                "eckart_young_lower_bound": tail,
                "odd_even_rank": int(np.count_nonzero(s > s[0] * 1e-12)),
            }
        h, w = (int(t) for t in str(config["shape"]).split("x"))
        tree = ModeTree.grid((h, w))
        m, r0, r_top = 2, 2, 3
        ranks = [r0] * (tree.depth - 1) + [r_top]
        tt = TreeTensor.random(tree, m, ranks, seed=seed, integer=True)
        inter = tt.matricization_rank(interleaved_2d((h, w)), method="modular")
        lr = tt.matricization_rank(left_right((h, w)), method="modular")
        return {
            "part": "grid",
            "shape": [h, w],
            "N": h * w,
            "ranks": ranks,
            "interleaved_rank": inter,
            "interleaved_bound": min(r0, m) ** (h * w // 4),
            "left_right_rank": lr,
            "r_top": r_top,
        }

    def verdict(self, params: Mapping[str, Any], results: list[dict[str, Any]]) -> Verdict:
        deep = [r for r in results if r["part"] == "deep"]
        shallow = [row for r in results if r["part"] == "shallow" for row in r["rows"]]
        cps = sorted((r for r in results if r["part"] == "cp"), key=lambda r: r["R"])
        grids = [r for r in results if r["part"] == "grid"]
        lo, hi = float(params["below_min"]), float(params["above_max"])
        generic = [r for r in deep if r["singular_factors"] == 0]
        degenerate = len(deep) - len(generic)
        a = (
            bool(generic)
            and all(r["rank"] == r["bound"] == r["min_cut"] for r in generic)
            and all(r["rank"] <= r["min_cut"] for r in deep)
            and degenerate <= 0.05 * len(deep)
        )
        b = bool(shallow) and all(row["rank"] <= row["K"] for row in shallow)
        b = b and all(
            row["rank"] == min(row["K"], r["deep_bound"])
            for r in results
            if r["part"] == "shallow"
            for row in r["rows"]
        )
        below = [r for r in cps if r["R"] < r["bound"]]
        above = [r for r in cps if r["R"] >= r["bound"]]
        c = (
            bool(below)
            and bool(above)
            and all(r["best_error"] > lo for r in below)
            and all(r["best_error"] >= r["eckart_young_lower_bound"] - 1e-9 for r in below)
            and min(r["best_error"] for r in above) < hi
        )
        d = bool(grids) and all(
            g["interleaved_rank"] >= g["interleaved_bound"] and g["left_right_rank"] <= g["r_top"]
            for g in grids
        )
        numbers: dict[str, Any] = {
            "a_draws": len(deep),
            "a_ranks_equal_bound": sum(r["rank"] == r["bound"] for r in deep),
            "a_generic_draws": len(generic),
            "a_degenerate_draws": degenerate,
            "a_degenerate_ranks": [r["rank"] for r in deep if r["singular_factors"]],
            "a_bound": deep[0]["bound"] if deep else None,
            "a_min_cuts": sorted({r["min_cut"] for r in deep}),
            "b_shallow": {str(row["K"]): row["rank"] for row in shallow},
            "c_best_error_by_R": {str(r["R"]): r["best_error"] for r in cps},
            "c_eckart_young_by_R": {str(r["R"]): r["eckart_young_lower_bound"] for r in cps},
            "c_thresholds": {"below_min": lo, "above_max": hi},
            "d_grids": {
                "x".join(map(str, g["shape"])): [
                    g["interleaved_rank"],
                    g["interleaved_bound"],
                    g["left_right_rank"],
                    g["r_top"],
                ]
                for g in grids
            },
            "parts": {"a": a, "b": b, "c": c, "d": d},
        }
        parts = []
        if deep:
            parts.append(
                f"(a) {numbers['a_ranks_equal_bound']}/{len(deep)} deep nets have odd/even "
                f"rank {deep[0]['bound']} (= min cut); {degenerate} draws with a singular "
                f"integer factor (measure-zero set, <= 5% allowed) had ranks "
                f"{numbers['a_degenerate_ranks']}"
            )
        parts.append(f"(b) CP width K -> rank {numbers['b_shallow']}")
        if below and above:
            parts.append(
                f"(c) CP error at R={below[-1]['R']}: {below[-1]['best_error']:.2e} "
                f"(> {lo:g}; certified >= {below[-1]['eckart_young_lower_bound']:.2e}), "
                f"best at R >= {above[0]['bound']}: "
                f"{min(r['best_error'] for r in above):.2e} (< {hi:g} needed)"
            )
        parts.append(
            f"(d) grids [interleaved rank, bound, left/right rank, r_top]: {numbers['d_grids']}"
        )
        ok = a and b and c and d
        summary = "; ".join(parts)
        return Verdict.exact(
            ok,
            summary
            if ok
            else f"failed parts {[k for k, v in numbers['parts'].items() if not v]}: " + summary,
            numbers,
        )

    def figure(self, params: Mapping[str, Any], results: list[dict[str, Any]], path: str) -> None:
        plt = pyplot()
        fig, (ax, sx, bx) = plt.subplots(1, 3, figsize=(15, 4))
        deep = [r for r in results if r["part"] == "deep"]
        ranks = [r["rank"] for r in deep]
        if ranks:
            vals = sorted(set(ranks))
            ax.bar(
                [str(v) for v in vals],
                [ranks.count(v) for v in vals],
                color="C0",
                label=f"deep nets (N={deep[0]['n']})",
            )
        ax.set_xlabel("exact odd/even rank")
        ax.set_ylabel("number of random deep nets")
        ax.set_title("deep nets: every draw at the bound", fontsize=9)
        shallow = [row for r in results if r["part"] == "shallow" for row in r["rows"]]
        if shallow:
            ks = [row["K"] for row in shallow]
            sx.loglog(ks, [row["rank"] for row in shallow], "o-", base=2, label="shallow (CP) net")
            sx.loglog(ks, ks, "k:", base=2, label="rank = K")
            if ranks:
                sx.axhline(deep[0]["bound"], color="r", ls="--", label="deep net's rank")
            sx.set_xlabel("width K of the shallow net")
            sx.set_ylabel("exact odd/even rank")
            sx.legend(fontsize=8)
        cps = sorted((r for r in results if r["part"] == "cp"), key=lambda r: r["R"])
        if cps:
            Rs = [r["R"] for r in cps]
            bx.semilogy(Rs, [max(r["best_error"], 1e-16) for r in cps], "o-", label="best CP fit")
            bx.semilogy(
                Rs,
                [max(r["eckart_young_lower_bound"], 1e-16) for r in cps],
                "k:",
                label="certified lower bound",
            )
            bx.axvline(cps[0]["bound"], color="r", ls="--", label="odd/even rank bound")
            bx.set_xlabel("CP rank R")
            bx.set_ylabel("relative error")
            bx.legend(fontsize=8)
        fig.suptitle("Depth efficiency (Cohen, Sharir & Shashua COLT'16)")
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
