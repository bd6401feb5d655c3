"""Claim ``convac-equivalence``: a ConvAC computes ``<A_y, f(x_1) (x) ... (x) f(x_N)>``.

Cohen, Sharir & Shashua (COLT'16) and the lectures [C]: a convolutional
arithmetic circuit with product pooling over a mode tree is the hierarchical
decomposition of its coefficient tensor ``A_y`` along that tree (flat tree =
CP = shallow net, balanced tree = hierarchical Tucker = deep net, chain =
tensor train).  The network stores ``O(r^2 N)`` parameters; the tensor has
``M^N`` entries.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from ..nets import ConvAC
from ..tensors import TreeTensor
from ..trees import ModeTree
from ..validation import check_size
from ._util import derive_seed, pyplot
from .base import Claim, Param, Unit, Verdict, register

__all__ = ["ConvACEquivalence", "TREES", "contract", "ht_param_count"]

#: Tree kinds compared (all with N <= 12 so the dense tensor exists).
TREES = ("cp", "ht", "tt", "grid-square", "grid-mirror")


def _tree(kind: str, n: int) -> ModeTree:
    if kind == "cp":
        return ModeTree.flat(n)
    if kind == "ht":  # N must be a power of 2 (<= 12)
        return ModeTree.balanced(8)
    if kind == "tt":
        return ModeTree.chain(n)
    if kind == "grid-square":
        return ModeTree.grid((2, 4), geometry="square")
    if kind == "grid-mirror":
        return ModeTree.grid((2, 4), geometry="mirror")
    raise ValueError(f"tree: expected one of {TREES}, got {kind!r}")


def contract(dense: NDArray[np.float64], feats: NDArray[np.float64]) -> NDArray[np.float64]:
    """``<A, f(x_1) (x) ... (x) f(x_N)>`` for a batch.

    ``dense`` has shape ``(M,)*N`` and ``feats`` shape ``(B, N, M)``; returns ``(B,)``.
    """
    b, n, m = feats.shape
    t = np.einsum("bm,mr->br", feats[:, 0], dense.reshape(m, -1))
    for i in range(1, n):
        t = np.einsum("bm,bmr->br", feats[:, i], t.reshape(b, m, -1))
    return t[:, 0]


def ht_param_count(n: int, m: int, r: int) -> int:
    """Parameters of the balanced (HT) net, one output: ``N M r + (N - 2) r^2 + r``."""
    return n * m * r + (n - 2) * r * r + r


@register
class ConvACEquivalence(Claim):
    """Network outputs equal the dense coefficient-tensor contraction, for five geometries."""

    id = "convac-equivalence"
    title = "ConvAC = hierarchical tensor decomposition"
    source = "[C] Cohen, Sharir & Shashua, COLT'16 (lectures: ConvACs as tensor decompositions)"
    statement = (
        "For CP, HT, TT, square- and mirror-pooling trees (N <= 12): the network's output on "
        "random inputs equals <A, f(x_1) (x) ... (x) f(x_N)> from the dense coefficient tensor "
        "to 1e-10 (float64). Parameter counts: O(r^2 N) for HT vs M^N dense."
    )
    rule = (
        "Exact: on every tree (CP, HT, TT, square and mirror grids) the network's output equals "
        "<A, f(x_1) x ... x f(x_N)> from the dense coefficient tensor to `tol` (1e-10) relative "
        "on every random input (float64), and the HT parameter count equals N M r + (N-2) r^2 + "
        "r for every N."
    )
    params = (
        Param(
            "n",
            "int",
            8,
            12,
            "positions N of the CP and TT trees (<= 12; HT and grids use 8)",
            minimum=2,
            maximum=12,
        ),
        Param("in_dim", "int", 2, 3, "M (identity representation)", minimum=1, maximum=4),
        Param("width", "int", 3, 4, "width r of every level", minimum=1, maximum=8),
        Param("out_dim", "int", 2, 3, "outputs y compared", minimum=1, maximum=10),
        Param("batch", "int", 32, 128, "random inputs", minimum=1, maximum=4096),
        Param("seeds", "int", 1, 3, "random nets per tree kind", minimum=1, maximum=100),
        Param(
            "count_ns",
            "ints",
            (4, 8, 16, 64, 256, 1024),
            (4, 8, 16, 64, 256, 1024, 4096),
            "N (powers of 2) for the parameter counts",
            minimum=2,
            maximum=2**16,
        ),
        Param(
            "tol", "float", 1e-10, 1e-10, "largest relative error allowed", minimum=0, maximum=1e-3
        ),
    )

    def check(  # pragma: no mutate block (input checks, not the verdict rule)
        self, params: Mapping[str, Any]
    ) -> None:
        """The dense coefficient tensors must fit; the counted trees must be balanced."""
        m = int(params["in_dim"])
        check_size(
            m ** max(int(params["n"]), 8),
            "--set n",
            limit=2**24,
            what="the dense coefficient tensor M^N",
            fix="lower n or in_dim",
        )
        bad = [n for n in params["count_ns"] if n & (n - 1)]
        if bad:
            raise ValueError(f"--set count_ns: expected powers of 2, got {bad}")

    def units(  # pragma: no mutate block (planning, not the verdict rule)
        self, params: Mapping[str, Any], seed: int
    ) -> list[Unit]:
        common = {k: params[k] for k in ("n", "in_dim", "width", "out_dim", "batch")}
        out = [
            Unit(
                {"task": "equivalence", "tree": kind, **common}, derive_seed(seed, self.id, kind, s)
            )
            for kind in TREES
            for s in range(params["seeds"])
        ]
        out.append(
            Unit(
                {
                    "task": "params",
                    "ns": list(params["count_ns"]),
                    "in_dim": params["in_dim"],
                    "width": params["width"],
                },
                derive_seed(seed, self.id, "params"),
            )
        )
        return out

    def run_unit(  # pragma: no mutate block (measurement, not the verdict rule)
        self, config: Mapping[str, Any], seed: int
    ) -> dict[str, Any]:
        m, r = int(config["in_dim"]), int(config["width"])
        if config["task"] == "params":
            rows = []
            for n in config["ns"]:
                tt = TreeTensor.random(ModeTree.balanced(int(n)), m, r, seed=seed)
                rows.append(
                    {
                        "N": int(n),
                        "ht_params": int(tt.num_params),
                        "formula": ht_param_count(int(n), m, r),
                        "log10_dense": float(int(n) * math.log10(m)),
                    }
                )
            return {"task": "params", "M": m, "r": r, "rows": rows}
        kind = str(config["tree"])
        tree = _tree(kind, int(config["n"]))
        out_dim, batch = int(config["out_dim"]), int(config["batch"])
        net = ConvAC(tree, m, r, out_dim, seed=seed, dtype=torch.float64)
        gen = torch.Generator().manual_seed(seed)
        x = torch.randn((batch, tree.num_leaves, m), generator=gen, dtype=torch.float64)
        with torch.no_grad():
            scores = net.scores(x).numpy()
            feats = net.features(x).numpy()
        errors = []
        for y in range(out_dim):
            dense = net.coefficient_tensor(y).to_dense()
            ref = contract(dense, feats)
            errors.append(float(np.max(np.abs(scores[:, y] - ref)) / np.max(np.abs(ref))))
        return {
            "task": "equivalence",
            "tree": kind,
            "N": tree.num_leaves,
            "M": m,
            "r": r,
            "rel_errors": errors,
            "max_rel_error": max(errors),
            "net_params": int(sum(p.numel() for p in net.parameters())),
            "dense_entries": int(m**tree.num_leaves),
        }

    def verdict(self, params: Mapping[str, Any], results: list[dict[str, Any]]) -> Verdict:
        tol = float(params["tol"])
        eq = [r for r in results if r["task"] == "equivalence"]
        counts = [row for r in results if r["task"] == "params" for row in r["rows"]]
        worst = {
            k: max((r["max_rel_error"] for r in eq if r["tree"] == k), default=math.inf)
            for k in sorted({r["tree"] for r in eq})
        }
        bad_counts = [row for row in counts if row["ht_params"] != row["formula"]]
        ok = bool(eq) and all(e <= tol for e in worst.values()) and bool(counts) and not bad_counts
        big = max(counts, key=lambda row: row["N"]) if counts else None
        numbers: dict[str, Any] = {
            "max_rel_error_per_tree": worst,
            "tol": tol,
            "param_count_mismatches": len(bad_counts),
        }
        if big is not None:
            numbers["largest_N"] = big["N"]
            numbers["ht_params_at_largest_N"] = big["ht_params"]
            numbers["log10_dense_entries_at_largest_N"] = big["log10_dense"]
        summary = (
            f"max relative error per tree {', '.join(f'{k} {v:.1e}' for k, v in worst.items())} "
            f"(<= {tol:g} needed); HT parameters = N M r + (N-2) r^2 + r (linear in N) for "
            f"{len(counts) - len(bad_counts)}/{len(counts)} N"
        )
        if big is not None:
            summary += f"; at N={big['N']}: {big['ht_params']} vs 10^{big['log10_dense']:.0f} dense"
        return Verdict.exact(ok, summary if ok else "failed: " + summary, numbers)

    def figure(  # pragma: no mutate block (drawing, not the verdict rule)
        self, params: Mapping[str, Any], results: list[dict[str, Any]], path: str
    ) -> None:
        plt = pyplot()
        fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 4))
        eq = [r for r in results if r["task"] == "equivalence"]
        kinds = sorted({r["tree"] for r in eq}, key=TREES.index)
        for i, k in enumerate(kinds):
            errs = [max(e, 1e-18) for r in eq if r["tree"] == k for e in r["rel_errors"]]
            ax.scatter([i] * len(errs), errs)
        ax.axhline(float(params["tol"]), color="r", ls="--", label="tolerance")
        ax.set_xticks(range(len(kinds)), kinds)
        ax.set_yscale("log")
        ax.set_ylabel("relative error (network vs dense)")
        ax.legend()
        rows = [row for r in results if r["task"] == "params" for row in r["rows"]]
        if rows:
            ns = [row["N"] for row in rows]
            bx.plot(ns, [math.log10(row["ht_params"]) for row in rows], "o-", label="HT net params")
            bx.plot(ns, [row["log10_dense"] for row in rows], "s--", label="dense M^N entries")
            bx.set_xscale("log", base=2)
            bx.set_xlabel("N")
            bx.set_ylabel("log10 count")
            bx.legend()
        fig.suptitle("ConvAC = hierarchical tensor decomposition")
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
