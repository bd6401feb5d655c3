"""The exact side of ``pooling-geometry``: separation ranks and min cuts, square vs mirror.

Cohen & Shashua, ICLR'17, Sec. 5: a deep ConvAC's separation rank for a
partition is high when its pooling windows cut the partition early and at most
the root's width when only the root separates it.  Three measurements, one
per unit kind of the claim: certified ranks of integer draws on small grids
(:func:`exact_unit`), min cuts at the paper's size for every breadth
(:func:`cuts_unit`), and the spectra of trained nets where the root separates
the partition (:func:`trained_spectra`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..analysis import interleaved_2d, left_right, min_cut
from ..tensors import TreeTensor
from ..trees import ModeTree
from ._pooling_training import GEOMETRIES
from .evidence import EXACT_INT_RANGE, draw_seeds, find_witness, singular_factors

__all__ = [
    "SPECTRUM_CUT_LIMIT",
    "cuts_unit",
    "exact_unit",
    "partitions",
    "root_split",
    "trained_spectra",
]

#: Trained nets' spectra are computed for partitions whose min cut is at most this.
SPECTRUM_CUT_LIMIT = 4096


def root_split(tree: ModeTree) -> tuple[int, ...]:
    """The partition the tree's root separates: the leaves of its first half of children."""
    kids = tree.children(tree.root)
    return tuple(sorted(x for c in kids[: max(1, len(kids) // 2)] for x in tree.leaves(c)))


def partitions(shape: tuple[int, int], tree: ModeTree) -> dict[str, tuple[int, ...]]:
    """The four partitions of the claim: left/right, top/bottom, interleaved, the root's split."""
    h, w = shape
    return {
        "left/right": left_right(shape),
        "top/bottom": tuple(range(h * w // 2)),
        "interleaved": interleaved_2d(shape),
        "root split": root_split(tree),
    }


def trained_spectra(  # pragma: no mutate block (measurement)
    net: Any, geometry: str
) -> dict[str, Any]:
    """Separation ranks of the trained net's coefficient tensor where they are computable.

    The partitions the root separates (left/right and top/bottom for square,
    the root split for mirror) have rank <= breadth and are computed from the
    float64 spectrum (numerical rank at 1e-10 of the largest value, entropy);
    the others get their min cut (an upper bound, exponentially large).
    """
    tt: TreeTensor = net.double().coefficient_tensor(1)
    tree = tt.tree
    out: dict[str, Any] = {}
    for name, I in partitions((32, 32), tree).items():
        cut = tt.min_cut(I).value
        if cut > SPECTRUM_CUT_LIMIT:
            out[name] = {"log2_min_cut": math.log2(cut)}
            continue
        s = np.asarray(tt.schmidt_spectrum(I).normalized(), dtype=float)
        p = s**2 / float((s**2).sum())
        p = p[p > 0]
        out[name] = {
            "log2_min_cut": math.log2(cut),
            "numerical_rank": int((s > s[0] * 1e-10).sum()),
            "entropy": float(-(p * np.log(p)).sum()),
        }
    return out


def exact_unit(  # pragma: no mutate block (measurement)
    config: Mapping[str, Any], seed: int
) -> dict[str, Any]:
    h, w = (int(t) for t in str(config["shape"]).split("x"))
    geometry = str(config["geometry"])
    tree = ModeTree.grid((h, w), geometry=geometry)  # type: ignore[arg-type]
    m, r0, r_top = 2, 2, 3
    ranks = [r0] * (tree.depth - 1) + [r_top]
    parts = partitions((h, w), tree)
    favoured = "interleaved" if geometry == "square" else "left/right"
    draws: list[dict[str, int]] = []
    cuts: dict[str, int] = {}

    def draw(s: int) -> tuple[int, int]:
        tt = TreeTensor.random(
            tree, m, ranks, seed=s, integer=True, nonzero=True, int_range=EXACT_INT_RANGE
        )
        row = {}
        for name, I in parts.items():
            row[name] = tt.matricization_rank(I, method="modular")
            cuts.setdefault(name, int(tt.min_cut(I).value))
        draws.append(row)
        return row[favoured], singular_factors(tt)

    bound = min(r0, m) ** (h * w // 4)
    wit = find_witness(draw, draw_seeds(seed), bound)
    return {
        "part": "exact",
        "shape": [h, w],
        "geometry": geometry,
        "N": h * w,
        "ranks": ranks,
        "r_top": r_top,
        "favoured": favoured,
        "favoured_bound": bound,
        "witness": wit.to_json(),
        "draws": draws,
        "min_cuts": cuts,
    }


def cuts_unit(config: Mapping[str, Any]) -> dict[str, Any]:  # pragma: no mutate block
    rows = []
    for b in config["breadths"]:
        for g in GEOMETRIES:
            tree = ModeTree.grid((32, 32), geometry=g)  # type: ignore[arg-type]
            for name, I in partitions((32, 32), tree).items():
                cut = min_cut(tree, [int(b)] * tree.depth, I, in_dim=2)
                rows.append(
                    {
                        "breadth": int(b),
                        "geometry": g,
                        "partition": name,
                        "log2_min_cut": math.log2(cut.value),
                    }
                )
    return {"part": "cuts", "rows": rows}
