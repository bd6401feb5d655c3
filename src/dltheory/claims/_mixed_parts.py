"""The measurements of claim ``mixed-dilated``: trees, the witness partition, exact units, nets.

Cohen, Tamari & Shashua, "Boosting Dilated Convolutional Networks with Mixed
Tensor Decompositions", ICLR 2018.  The WaveNet scheme ``(1, 2, 4, ..., N/2)``
and the scheme with its first two dilations exchanged, ``(2, 1, 4, ..., N/2)``,
give the mode trees ``T`` and ``T̄`` (:meth:`ModeTree.dilated`); they share
every node from the blocks ``B_k = {4k, ..., 4k+3}`` up.  The witness
partition ``I_w`` of :mod:`dltheory.mixed.tensor` takes ``{4k, 4k+1}`` from
even blocks and ``{4k, 4k+2}`` from odd ones: ``T`` splits the even blocks
along its pairs and the odd ones across them, ``T̄`` the reverse, so for
every weight setting (the docstring's one cut)

``rank(I_w) <= min(r_0, r_1, M^2)^(N/8) * min(r_0, M)^(N/4)``

for a single tree, while the mixed decomposition with the blocks as mixture
nodes reaches ``M^(N/2)`` at width ``r = M`` (certified on integer draws).

Three measurements, one per unit kind of the claim: certified ranks at
``N = 8, 16`` (:func:`exact_unit`), min cuts at the paper's scale
(:func:`cuts_unit`), and the networks of the training part
(:func:`build_net`, :func:`padded_mnist1d`).
"""

from __future__ import annotations

import functools
import math
import statistics
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ..analysis.modular import DEFAULT_PRIME, rank_mod_p
from ..mixed import MixedTensor, shared_nodes
from ..trees import ModeTree
from ._util import derive_seed
from .evidence import EXACT_INT_RANGE, draw_seeds, find_witness, singular_factors

__all__ = [
    "CLASSES",
    "CUT_NS",
    "CUT_RS",
    "EXACT_M",
    "LENGTH",
    "NUM_FEATURES",
    "PAD",
    "blocks",
    "build_net",
    "cuts_unit",
    "equal_param_width",
    "exact_unit",
    "expected_count",
    "mixed_count",
    "net_names",
    "pad_signals",
    "padded_mnist1d",
    "project_training",
    "schemes",
    "shared_levels",
    "single_bound",
    "trees",
    "witness_partition",
]

#: Descriptors per position of the exact part (``M``).
EXACT_M = 2
#: The paper-scale min cuts: positions and widths (with ``M = r``, as ``r = M`` in the exact part).
CUT_NS: tuple[int, ...] = (64, 256)
CUT_RS: tuple[int, ...] = (8, 32, 128)
#: Training: MNIST-1D's 40 positions, padded with 12 zeros on each side to 64.
LENGTH, PAD, SIGNAL = 64, 12, 40
#: The affine representation's features (M) and the number of classes.
NUM_FEATURES, CLASSES = 8, 10


def schemes(n: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The dilations of ``T`` (WaveNet, ``1, 2, 4, ...``) and ``T̄`` (``2, 1, 4, ...``)."""
    ds = [2**k for k in range(int(n).bit_length() - 1)]
    swapped = list(ds)
    swapped[0], swapped[1] = swapped[1], swapped[0]
    return tuple(ds), tuple(swapped)


def trees(n: int) -> tuple[ModeTree, ModeTree]:
    """``T = dilated(n, (1, 2, 4, ..., n/2))`` and ``T̄ = dilated(n, (2, 1, 4, ..., n/2))``."""
    a, b = schemes(n)
    return ModeTree.dilated(n, a), ModeTree.dilated(n, b)


def witness_partition(n: int) -> tuple[int, ...]:
    """``I_w``: ``{4k, 4k+1}`` from each even block ``B_k``, ``{4k, 4k+2}`` from each odd one."""
    out: list[int] = []
    for k in range(int(n) // 4):
        out += [4 * k, 4 * k + 1] if k % 2 == 0 else [4 * k, 4 * k + 2]
    return tuple(out)


def blocks(tree_a: ModeTree, tree_b: ModeTree) -> list[frozenset[int]]:
    """The mixture nodes of the exact part: the shared nodes of the lowest shared level."""
    common = shared_nodes(tree_a, tree_b)
    low = min((len(s) for s in common), default=0)
    return [s for s in common if len(s) == low]


def shared_levels(n: int) -> int:
    """Number of levels below the root at which ``T`` and ``T̄`` share nodes (``K``)."""
    return len({len(s) for s in shared_nodes(*trees(n))})


def single_bound(n: int, width: int, m: int) -> int:
    """The docstring's bound on a single tree's rank of ``I_w`` at uniform width ``width``."""
    # min(r_0, r_1, M^2) per contiguously split block, min(r_0, M)^2 per interleaved one
    return min(width, m * m) ** (n // 8) * min(width, m) ** (n // 4)


def _mixed_singular(mt: MixedTensor, p: int = DEFAULT_PRIME) -> int:
    """Rank-deficient factors (mod ``p``) of an integer mixed tensor, the roots' excluded."""
    count = 0
    for k, tree in enumerate(mt.trees):
        mats = list(mt.leaf_weights[k]) + [
            w for v, w in mt.node_weights[k].items() if v != tree.root
        ]
        count += sum(1 for w in mats if rank_mod_p(np.asarray(w), p) < min(w.shape))
    return count


def exact_unit(  # pragma: no mutate block (measurement)
    config: Mapping[str, Any], seed: int
) -> dict[str, Any]:
    """Certified ranks of ``I_w`` at ``N = config["N"]`` (``M = 2``, integer draws, mod p).

    Single trees (``T`` and ``T̄``) of uniform width ``r' = 1 .. M^2 + 1``,
    the mixed decomposition (mixture nodes: the blocks) and the two trees side
    by side, both at width ``r = M``; each configuration a witness search
    (:func:`~dltheory.claims.evidence.find_witness`: the scheduled draw and up
    to 3 retries) for the full rank ``M^(N/2)``; side by side all 4 draws.
    """
    from ..design import tree_min_cut
    from ..tensors import TreeTensor

    t0 = time.perf_counter()
    n, m = int(config["N"]), EXACT_M
    full = m ** (n // 2)
    ta, tb = trees(n)
    part = witness_partition(n)
    single = []
    for label, tree in (("T", ta), ("Tbar", tb)):
        for width in range(1, m * m + 2):

            def draw(s: int, tree: ModeTree = tree, width: int = width) -> tuple[int, int]:
                tt = TreeTensor.random(
                    tree, m, width, seed=s, integer=True, nonzero=True, int_range=EXACT_INT_RANGE
                )
                return tt.matricization_rank(part, method="modular"), singular_factors(tt)

            wit = find_witness(draw, draw_seeds(derive_seed(seed, label, width)), full)
            single.append(
                {
                    "tree": label,
                    "width": width,
                    "min_cut": int(tree_min_cut(tree, width, part, in_dim=m).value),
                    "bound": single_bound(n, width, m),
                    "witness": wit.to_json(),
                }
            )
    mix = blocks(ta, tb)

    def mixed(s: int, nodes: list[frozenset[int]] | None) -> MixedTensor:
        return MixedTensor.random(
            ta, tb, m, m, m, mix=nodes, seed=s, integer=True, int_range=EXACT_INT_RANGE
        )

    def draw_mixed(s: int) -> tuple[int, int]:
        mt = mixed(s, mix)
        return mt.matricization_rank(part, method="modular"), _mixed_singular(mt)

    wit = find_witness(draw_mixed, draw_seeds(derive_seed(seed, "mixed")), full)
    side_seeds = draw_seeds(derive_seed(seed, "side"))
    side = [mixed(s, None) for s in side_seeds]
    return {
        "part": "exact",
        "N": n,
        "M": m,
        "full_rank": full,
        "partition": list(part),
        "single": single,
        "mixed": {
            "width": m,
            "mixture_nodes": [sorted(s) for s in mix],
            "min_cut": int(mixed(0, mix).min_cut(part).value),
            "witness": wit.to_json(),
        },
        "side_by_side": {
            "width": m,
            "min_cut": int(side[0].min_cut(part).value),
            "ranks": [int(t.matricization_rank(part, method="modular")) for t in side],
            "singular_factors": [_mixed_singular(t) for t in side],
            "seeds": side_seeds,
        },
        "wall_s": time.perf_counter() - t0,
    }


def _needed_width(tree: ModeTree, part: tuple[int, ...], m: int, target: int) -> int | None:
    """Smallest uniform width whose min cut of ``part`` reaches ``target`` (None: not by M^2).

    A single tree's min cut grows with its width and is ``M^(N/2)`` (all legs)
    from ``M^2`` on, so the search runs over ``1 .. M^2`` by bisection.
    """
    from ..design import tree_min_cut

    lo, hi = 1, m * m
    if tree_min_cut(tree, hi, part, in_dim=m).value < target:
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        if tree_min_cut(tree, mid, part, in_dim=m).value >= target:
            hi = mid
        else:
            lo = mid + 1
    return lo


def cuts_unit(  # pragma: no mutate block (measurement)
    config: Mapping[str, Any],
) -> dict[str, Any]:
    """The single trees' min cut of ``I_w`` at the paper's scale (no ranks, no mixed tensor).

    Per ``N`` in ``config["ns"]`` and ``r`` in ``config["rs"]``, with
    ``M = r``: the min cut of a single tree of width ``r``
    (:func:`~dltheory.design.tree_min_cut`, the rank bound of every weight
    setting) against the full rank ``M^(N/2)``, which the mixed network reaches
    at width ``r = M`` (certified by exact ranks at ``N = 8, 16``), and the
    width ``r'`` a single tree needs for its min cut to reach it.  The mixed
    network's own min cut is not shown: it cuts only above the blocks, so it is
    the full rank with or without mixing and cannot tell them apart.
    """
    from ..design import tree_min_cut

    t0 = time.perf_counter()
    rows = []
    for n in config["ns"]:
        n = int(n)
        ta, tb = trees(n)
        part = witness_partition(n)
        for r in config["rs"]:
            r = m = int(r)
            full = m ** (n // 2)
            single = {}
            for label, tree in (("T", ta), ("Tbar", tb)):
                need = _needed_width(tree, part, m, full)
                single[label] = {
                    "log2_min_cut": math.log2(tree_min_cut(tree, r, part, in_dim=m).value),
                    "needed_width": need,
                    "needed_over_r2": None if need is None else need / r**2,
                }
            rows.append(
                {
                    "N": n,
                    "r": r,
                    "M": m,
                    "log2_full_rank": (n // 2) * math.log2(m),
                    "single": single,
                }
            )
    return {"part": "cuts", "rows": rows, "wall_s": time.perf_counter() - t0}


# ----------------------------------------------------------------------- training


def pad_signals(x: torch.Tensor) -> torch.Tensor:
    """``(n, 40, 1)`` signals zero-padded to ``(n, 64, 1)``: positions 12..51 hold the signal."""
    if x.ndim != 3 or x.shape[1] != SIGNAL:
        raise ValueError(f"x: expected shape (n, {SIGNAL}, s), got {tuple(x.shape)}")
    return nn.functional.pad(x, (0, 0, PAD, LENGTH - SIGNAL - PAD))


@functools.lru_cache(maxsize=4)
def padded_mnist1d(data_seed: int, num_samples: int) -> Any:
    """MNIST-1D (``load_mnist1d``, default split) with every signal padded to 64 positions."""
    from ..data import Dataset
    from ..data.mnist_1d import load_mnist1d

    ds = load_mnist1d(seed=data_seed, num_samples=num_samples)
    return Dataset(
        name="mnist1d-64",
        x_train=pad_signals(ds.x_train),
        y_train=ds.y_train,
        x_test=pad_signals(ds.x_test),
        y_test=ds.y_test,
        num_classes=ds.num_classes,
        source=f"{ds.source}; each signal zero-padded to {LENGTH} positions ({PAD} before)",
    )


def net_names(k_max: int) -> list[str]:
    """The trained networks: ``mixed-0 .. mixed-K`` and the two single trees."""
    return [f"mixed-{k}" for k in range(k_max + 1)] + ["single-a", "single-b"]


def mixed_count(k: int, width: int) -> int:
    """Parameters of ``mixed-k`` at ``width`` (:meth:`MixedDilatedNet.count_parameters`)."""
    from ..nets import MixedDilatedNet

    return MixedDilatedNet.count_parameters(
        LENGTH,
        1,
        width,
        CLASSES,
        interconnections=k,
        representation="affine",
        num_features=NUM_FEATURES,
    )


def expected_count(name: str, width: int) -> int:
    """Parameters of a trained net: ``count_parameters`` (mixed), or the single ConvAC's
    ``affine (2 M) + M r + 5 r^2 + 10 r`` (six shared levels and the output convolution)."""
    if name.startswith("mixed-"):
        return mixed_count(int(name.split("-")[1]), width)
    levels = LENGTH.bit_length() - 1
    return 2 * NUM_FEATURES + NUM_FEATURES * width + (levels - 1) * width**2 + width * CLASSES


def equal_param_width(k: int, width: int) -> int:
    """The largest width of ``mixed-k`` whose count is <= that of ``mixed-0`` at ``width``."""
    budget = mixed_count(0, width)
    lo, hi = 1, width  # mixing only adds weights: mixed-k at width w has >= mixed-0's count
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if mixed_count(k, mid) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return lo


def build_net(name: str, width: int, seed: int) -> nn.Module:
    """A trained network of the claim (ReLU, max pooling, affine representation, shared)."""
    from ..nets import ConvAC, MixedDilatedNet

    if name.startswith("mixed-"):
        return MixedDilatedNet(
            LENGTH,
            1,
            width,
            CLASSES,
            interconnections=int(name.split("-")[1]),
            pooling="max",
            representation="affine",
            num_features=NUM_FEATURES,
            seed=seed,
        )
    scheme = schemes(LENGTH)[0 if name == "single-a" else 1]
    return ConvAC(
        ModeTree.dilated(LENGTH, scheme),
        1,
        width,
        CLASSES,
        pooling="max",
        activation="relu",
        representation="affine",
        num_features=NUM_FEATURES,
        shared=True,
        seed=seed,
    )


def project_training(
    configs: Sequence[Mapping[str, Any]], results: list[dict[str, Any]], workers: int
) -> list[str]:
    """Measured ms per iteration per family (mixed / single) and width, and the projected
    training time of the training units ``configs`` on 1, 2 and ``workers`` workers.

    An unmeasured width costs ``t (w / w_0)^b`` from the nearest measured width ``w_0``, with
    ``b`` fitted on the family's smallest and largest measured widths (clamped to [0.5, 2]).
    """
    rate: dict[tuple[str, int], list[float]] = {}
    for r in results:
        if r["part"] == "train" and r.get("seconds_per_iteration"):
            fam = str(r["net"]).split("-")[0]
            rate.setdefault((fam, int(r["width"])), []).append(float(r["seconds_per_iteration"]))
    med = {k: statistics.median(v) for k, v in rate.items()}
    lines = [
        f"measured: {fam} width {w}: {t * 1e3:.2f} ms/iteration ({len(rate[(fam, w)])} runs)"
        for (fam, w), t in sorted(med.items())
    ]
    total = longest = 0.0
    for c in configs:
        fam, width = str(c["net"]).split("-")[0], int(c["width"])
        known = sorted((w, t) for (f, w), t in med.items() if f == fam)
        if not known:
            continue
        b = 1.0
        if len(known) >= 2 and known[-1][0] > known[0][0]:
            (w0, t0), (w1, t1) = known[0], known[-1]
            b = min(2.0, max(0.5, math.log(t1 / t0) / math.log(w1 / w0)))
        w, t = min(known, key=lambda kt: abs(math.log(kt[0] / width)))
        est = t * (width / w) ** b * int(c["iterations"])
        total, longest = total + est, max(longest, est)
    for k in sorted({1, 2, max(1, int(workers))}):
        lines.append(
            f"projected: {total / 3600:.2f} h of training; on {k} workers ~ "
            f"{max(total / k, longest) / 3600:.2f} h wall"
        )
    return lines
