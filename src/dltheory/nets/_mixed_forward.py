"""The structure and level-by-level forward pass of :class:`~dltheory.nets.mixed.MixedDilatedNet`.

Cohen, Tamari & Shashua, "Boosting Dilated Convolutional Networks with Mixed
Tensor Decompositions", ICLR 2018, eq. (4) and Fig. 3.  Both trees are dilated
trees with size-2 windows, so level ``l`` of either tree has ``N / 2**(l+1)``
nodes of ``2**(l+1)`` positions each.  Every value is a position-major
``(nodes, batch, channels)`` tensor whose rows are in *block order*, chosen
top-down per tree (:func:`_block_orders`): the two children of the node in row
``j`` sit in rows ``j`` and ``n_l + j`` of the level below, so pooling is a
reduction over the first axis of a ``(2, n_l, B, r)`` view, without a gather.
The only permutation of a tree without mixture nodes is that of its input
positions; a level costs one pooling and one batched matrix product per tree.

Mixture nodes.  At a level with mixture nodes, the pooled channels of both
trees at those nodes are taken in one order (tree a's rows), concatenated
``[p^a ; p^b]`` and fed to each tree's mixture convolution; tree b's rows are
gathered into that order and its outputs put back into its own (both are the
identity where the two trees agree above the level, as for the paper's ``T``
and ``T̄``).  For product pooling every position carries a power-of-two scale
``2**E`` (:mod:`dltheory.nets.scaled`); the two trees' scales at a mixture node
are brought to the larger of the two before concatenating (an exact rescale by
a power of two; the smaller side may underflow to 0 only where it is below
float precision relative to the other).

Structure helpers live here too: the dilated trees with errors naming the
argument (:func:`dilated_tree`), the per-level widths, the weights' shapes
(:func:`weight_shapes`) and their mapping to the nodes of a
:class:`~dltheory.mixed.MixedTensor` (:func:`node_matrices`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from ..trees import ModeTree
from ..validation import check_array, check_int, check_ints, describe
from .blockwise import PermuteRows
from .representation import Representation, Similarity
from .scaled import LN2, normalize, pool_product

__all__ = [
    "LevelPlan",
    "MixedPlan",
    "TreeLevel",
    "build_plan",
    "check_inputs",
    "check_widths",
    "dilated_tree",
    "ldexp",
    "node_matrices",
    "run_pooled",
    "run_product",
    "scaled_features",
    "weight_shapes",
]

_Scaled = tuple[torch.Tensor, torch.Tensor | None]
#: a permutation of rows and its inverse
_Perm2 = tuple[torch.Tensor, torch.Tensor]


def _permute(t: torch.Tensor, perm: _Perm2 | None) -> torch.Tensor:
    if perm is None:
        return t
    if not t.requires_grad:
        return t.index_select(0, perm[0])
    out: torch.Tensor = PermuteRows.apply(t, perm[0], perm[1])
    return out


def _as_perm(order: Sequence[int]) -> _Perm2 | None:
    """A permutation and its inverse as index tensors, or None for the identity."""
    if list(order) == list(range(len(order))):
        return None
    perm = torch.tensor(list(order), dtype=torch.long)
    return perm, torch.argsort(perm)


def _as_index(idx: Sequence[int], total: int) -> torch.Tensor | None:
    """Rows ``idx`` of a ``total``-row tensor as an index, or None when they are all, in order."""
    if list(idx) == list(range(total)):
        return None
    return torch.tensor(list(idx), dtype=torch.long)


@dataclass(frozen=True)
class TreeLevel:
    """One tree at one level: its node order, which of its nodes mix."""

    nodes: tuple[int, ...]  # node ids in row order
    plain: torch.Tensor | None  # rows of the plain nodes (None: all rows, in order)
    mixed: torch.Tensor | None  # rows of the mixture nodes, in tree a's row order of their sets
    order: _Perm2 | None  # cat([plain, mixed]) -> row order
    num_plain: int
    num_mixed: int


@dataclass(frozen=True)
class LevelPlan:
    """Level ``l`` of both trees: widths in and out, the two trees' rows."""

    trees: tuple[TreeLevel, TreeLevel]
    size: int  # nodes per tree at this level
    in_width: int
    out_width: int
    top: bool  # the root level (no activation after its convolution)


def _move(x: Any, device: torch.device) -> Any:
    if x is None:
        return None
    if isinstance(x, tuple):
        return tuple(t.to(device) for t in x)
    return x.to(device)


@dataclass(frozen=True)
class MixedPlan:
    """Every level of both trees, bottom-up, and each tree's leaf order."""

    levels: tuple[LevelPlan, ...]
    #: per tree: the positions in row order of its leaf level (None: 0 .. N-1)
    leaves: tuple[_Perm2 | None, _Perm2 | None]

    def to(self, device: torch.device) -> MixedPlan:
        """The same plan with its index tensors on ``device``."""
        levels = []
        for lv in self.levels:
            a, b = (
                replace(
                    tl,
                    plain=_move(tl.plain, device),
                    mixed=_move(tl.mixed, device),
                    order=_move(tl.order, device),
                )
                for tl in lv.trees
            )
            levels.append(replace(lv, trees=(a, b)))
        return MixedPlan(
            tuple(levels), (_move(self.leaves[0], device), _move(self.leaves[1], device))
        )


def _block_orders(tree: ModeTree) -> list[list[int]]:
    """Rows of every level, top-down forced: window ``j``'s children at rows ``j`` and ``n + j``.

    Entry 0 lists the positions (the leaf level), entry ``l + 1`` the nodes of level ``l``.
    """
    orders = [[tree.root]]
    for _ in range(tree.depth):
        kids = [tree.children(v) for v in orders[0]]
        orders.insert(0, [k[0] for k in kids] + [k[1] for k in kids])
    return orders


def build_plan(
    trees: tuple[ModeTree, ModeTree],
    widths: Sequence[int],
    out_dim: int,
    mix: Sequence[frozenset[int]],
) -> MixedPlan:
    """The row orders of every level of two dilated trees with size-2 windows (no weights).

    Rows follow :func:`_block_orders`, so every pooling is a reshape; a level's
    mixture sets are taken in tree a's row order.
    """
    orders = [_block_orders(t) for t in trees]
    rows_t = [{v: j for lv in o for j, v in enumerate(lv)} for o in orders]
    node_of = [{frozenset(t.leaves(v)): v for v in t.internal_nodes} for t in trees]
    depth = len(widths)
    out: list[LevelPlan] = []
    for lvl in range(depth):
        size = len(orders[0][lvl + 1])
        sets = [s for s in mix if len(s) == 2 ** (lvl + 1)]
        sets.sort(key=lambda s: rows_t[0][node_of[0][s]])
        per_tree: list[TreeLevel] = []
        for t in (0, 1):
            mixed = [rows_t[t][node_of[t][s]] for s in sets]
            taken = set(mixed)
            plain = [j for j in range(size) if j not in taken]
            position = {j: i for i, j in enumerate(plain + mixed)}
            per_tree.append(
                TreeLevel(
                    nodes=tuple(orders[t][lvl + 1]),
                    plain=_as_index(plain, size),
                    mixed=_as_index(mixed, size) if mixed else None,
                    order=_as_perm([position[j] for j in range(size)]),
                    num_plain=len(plain),
                    num_mixed=len(mixed),
                )
            )
        top = lvl == depth - 1
        out.append(
            LevelPlan(
                trees=(per_tree[0], per_tree[1]),
                size=size,
                in_width=widths[lvl],
                out_width=out_dim if top else widths[lvl + 1],
                top=top,
            )
        )
    return MixedPlan(tuple(out), (_as_perm(orders[0][0]), _as_perm(orders[1][0])))


# ------------------------------------------------------------ structure and weights
def dilated_tree(n: int, ds: Any, name: str) -> tuple[tuple[int, ...], ModeTree]:
    """The dilated tree of a scheme, its errors naming ``name``."""
    levels = n.bit_length() - 1
    if isinstance(ds, Mapping):
        raise TypeError(f"{name}: expected a sequence of {levels} dilations, got {describe(ds)}")
    fix = f"one dilation >= 1 per layer; n = {n} positions need {levels} layers of size-2 filters"
    dil = check_ints(ds, name, minimum=1, fix=fix)
    if len(dil) != levels:
        raise ValueError(
            f"{name}: expected {levels} dilations, got {len(dil)}; the scheme pools "
            f"2**{len(dil)} positions, the net has n = {n} (both schemes must cover the same "
            "positions)"
        )
    try:
        tree = ModeTree.dilated(n, dil)
    except ValueError as exc:
        text = str(exc).removeprefix("dilations: ")
        raise ValueError(f"{name}: {text}") from None
    return dil, tree


def check_widths(width: Any, n: int) -> tuple[int, ...]:
    """One width per level of the ``log2 n`` levels, from an int or a sequence."""
    levels = n.bit_length() - 1
    if isinstance(width, Mapping):
        raise TypeError(
            f"width: expected an int or one width per level, got {describe(width)}; "
            "both trees take the same per-level widths"
        )
    if (isinstance(width, np.ndarray) and width.ndim > 0) or (
        isinstance(width, Sequence) and not isinstance(width, (str, bytes))
    ):
        widths = check_ints(
            width,
            "width",
            minimum=1,
            length=levels,
            fix=f"one width >= 1 per level; n = {n} gives {levels} levels",
        )
    else:
        widths = (check_int(width, "width", minimum=1, fix="a width >= 1, or one per level"),)
        widths = widths * levels
    return widths


def check_inputs(x: Any, n: int, in_dim: int) -> None:
    """Refuse all but a real, finite, non-empty ``(batch, n, in_dim)`` tensor."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x: expected a torch.Tensor (batch, {n}, {in_dim}), got {describe(x)}")
    known_finite = x.is_floating_point() and bool(torch.isfinite(x.sum()))
    check_array(x, "x", ndim=3, finite=not known_finite)
    if x.shape[0] == 0 or tuple(x.shape[1:]) != (n, in_dim):
        raise ValueError(
            f"x: expected a non-empty batch of shape (batch, {n}, {in_dim}), got {tuple(x.shape)}"
        )


def weight_shapes(
    n: int,
    m: int,
    widths: tuple[int, ...],
    out_dim: int,
    mix: tuple[frozenset[int], ...],
    shared: bool,
) -> dict[str, tuple[int, ...]]:
    """Every weight's shape: per tree a leaf convolution, per level plain and mixture ones."""
    levels = len(widths)
    shapes: dict[str, tuple[int, ...]] = {}
    for tag in "ab":
        shapes[f"{tag}_leaf"] = (m, widths[0]) if shared else (n, m, widths[0])
        for lvl in range(levels):
            nodes = n >> (lvl + 1)
            mixed = sum(1 for s in mix if len(s) == 2 ** (lvl + 1))
            cols = out_dim if lvl == levels - 1 else widths[lvl + 1]
            if nodes > mixed:
                rows = (widths[lvl], cols)
                shapes[f"{tag}_{lvl}"] = rows if shared else (nodes - mixed, *rows)
            if mixed:
                rows = (2 * widths[lvl], cols)
                shapes[f"{tag}_{lvl}_mix"] = rows if shared else (mixed, *rows)
    return shapes


def node_matrices(
    plan: MixedPlan, w: Mapping[str, np.ndarray], n: int, shared: bool
) -> list[tuple[list[np.ndarray], dict[int, np.ndarray]]]:
    """Per tree: the leaf matrices by position and ``{node id: matrix}``, from the weights."""
    out = []
    for t, tag in enumerate("ab"):
        lw = w[f"{tag}_leaf"]
        leaves = [lw if shared else lw[i] for i in range(n)]
        nodes: dict[int, np.ndarray] = {}
        for lvl, lv in enumerate(plan.levels):
            tl = lv.trees[t]
            taken = [] if tl.mixed is None else tl.mixed.tolist()
            if tl.num_mixed and not taken:
                taken = list(range(lv.size))
            plain = [j for j in range(lv.size) if j not in set(taken)]
            for key, rows in ((f"{tag}_{lvl}", plain), (f"{tag}_{lvl}_mix", taken)):
                for k, j in enumerate(rows):
                    nodes[tl.nodes[j]] = w[key] if shared else w[key][k]
        out.append((leaves, nodes))
    return out


# ------------------------------------------------------------------ the forward pass
def scaled_features(
    rep: Representation, loc: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """The features ``f = 2**e q`` position-major: ``(q, e, zero)``, ``(N, B, .)``.

    Similarity features are scaled in log-space (their ``exp`` may underflow).
    """
    e: torch.Tensor | None
    zero: torch.Tensor | None = None
    if isinstance(rep, Similarity):
        logf = rep._log_forward(loc)
        with torch.no_grad():
            shift = torch.ceil(logf.amax(dim=-1, keepdim=True) / LN2)
        q, e = torch.exp(logf - shift * LN2), shift
    else:
        q, e, zero = normalize(rep._forward(loc))
    return (
        q.transpose(0, 1),
        None if e is None else e.transpose(0, 1),
        None if zero is None else zero.transpose(0, 1),
    )


def ldexp(u: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
    """``u * 2**e`` in two steps (``2**e`` alone may overflow where the product does not)."""
    half = torch.floor(e / 2)
    out = u * torch.exp2(half) * torch.exp2(e - half)
    return torch.where(u == 0, torch.zeros_like(out), out)


def _conv(p: torch.Tensor, w: torch.Tensor, shared: bool) -> torch.Tensor:
    """A 1x1 convolution of ``(n, B, r)`` with ``(r, r')`` (shared) or ``(n, r, r')`` weights."""
    return p @ w if shared else torch.bmm(p, w)


def _rows(t: torch.Tensor, idx: torch.Tensor | None) -> torch.Tensor:
    return t if idx is None else t.index_select(0, idx)


def _assemble(
    tl: TreeLevel,
    pooled: torch.Tensor,
    mixed: torch.Tensor | None,
    w: Mapping[str, torch.Tensor],
    key: str,
    shared: bool,
) -> torch.Tensor:
    """One tree's convolutions at one level, in its row order."""
    parts = []
    if tl.num_plain:
        parts.append(_conv(_rows(pooled, tl.plain), w[key], shared))
    if tl.num_mixed:
        assert mixed is not None
        parts.append(_conv(mixed, w[key + "_mix"], shared))
    u = parts[0] if len(parts) == 1 else torch.cat(parts)
    return _permute(u, tl.order)


def _exponents(tl: TreeLevel, e: torch.Tensor, em: torch.Tensor | None) -> torch.Tensor:
    parts = []
    if tl.num_plain:
        parts.append(_rows(e, tl.plain))
    if tl.num_mixed:
        assert em is not None
        parts.append(em)
    out = parts[0] if len(parts) == 1 else torch.cat(parts)
    return out if tl.order is None else out.index_select(0, tl.order[0])


def _leaf_conv(
    plan: MixedPlan, w: Mapping[str, torch.Tensor], q: torch.Tensor, t: int, shared: bool
) -> tuple[torch.Tensor, _Perm2 | None]:
    """Tree ``t``'s leaf convolution in its leaf row order (weights stored by position)."""
    perm = plan.leaves[t]
    weight = w[f"{'ab'[t]}_leaf"]
    if not shared:
        weight = _permute(weight, perm)
    return _conv(_permute(q, perm), weight, shared), perm


def run_product(
    plan: MixedPlan,
    w: Mapping[str, torch.Tensor],
    q: torch.Tensor,
    e: torch.Tensor | None,
    zero: torch.Tensor | None,
    shared: bool,
) -> tuple[_Scaled, _Scaled]:
    """Both trees' root outputs ``(u, E)`` (``h_t = 2**E u``) for product pooling.

    ``q`` ``(N, B, M)`` are the scaled features (``f = 2**e q``), ``e`` and
    ``zero`` ``(N, B, 1)`` their exponents and exactly-zero positions (or None).
    """
    e0 = q.new_zeros(q.shape[:-1] + (1,)) if e is None else e
    us, es, zs = [], [], []
    for t in (0, 1):
        u, perm = _leaf_conv(plan, w, q, t, shared)
        us.append(u)
        es.append(_permute(e0, perm))
        zs.append(None if zero is None else _permute(zero, perm))
    batch = q.shape[1]
    for lvl, lv in enumerate(plan.levels):
        n = lv.size
        ps, eps, zps = [], [], []
        for t in (0, 1):
            x = us[t].reshape(2, n, batch, -1)
            ex = es[t].reshape(2, n, batch, 1)
            z = zs[t]
            p, ep, zp = pool_product(x, ex, None if z is None else z.reshape(2, n, batch, 1))
            ps.append(p)
            eps.append(ex.sum(dim=0) if ep is None else ep)
            zps.append(zp)
        mixed = em = zm = None
        ta, tb = lv.trees
        if ta.num_mixed:
            ea, eb = _rows(eps[0], ta.mixed), _rows(eps[1], tb.mixed)
            em = torch.maximum(ea, eb)
            pa = _rows(ps[0], ta.mixed) * torch.exp2(ea - em)
            pb = _rows(ps[1], tb.mixed) * torch.exp2(eb - em)
            mixed = torch.cat([pa, pb], dim=-1)
            za, zb = zps
            if za is not None and zb is not None:
                zm = _rows(za, ta.mixed) & _rows(zb, tb.mixed)
        for t, tag in enumerate("ab"):
            tl = lv.trees[t]
            us[t] = _assemble(tl, ps[t], mixed, w, f"{tag}_{lvl}", shared)
            es[t] = _exponents(tl, eps[t], em)
            z = zps[t]
            if z is not None and em is not None:
                z = _exponents(tl, z, torch.zeros_like(em, dtype=torch.bool) if zm is None else zm)
            zs[t] = z
    return (us[0][0], es[0][0]), (us[1][0], es[1][0])


def run_pooled(
    plan: MixedPlan,
    w: Mapping[str, torch.Tensor],
    f: torch.Tensor,
    pooling: str,
    shared: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Both trees' root outputs for max / average pooling (conv -> ReLU -> pool).

    ``f`` ``(N, B, M)`` are the features; every convolution but the roots' is
    followed by a ReLU.
    """
    us = [_leaf_conv(plan, w, f, t, shared)[0].relu() for t in (0, 1)]
    batch = f.shape[1]
    for lvl, lv in enumerate(plan.levels):
        ps = []
        for t in (0, 1):
            x = us[t].reshape(2, lv.size, batch, -1)
            ps.append(x.amax(dim=0) if pooling == "max" else x.mean(dim=0))
        ta, tb = lv.trees
        mixed = None
        if ta.num_mixed:
            mixed = torch.cat([_rows(ps[0], ta.mixed), _rows(ps[1], tb.mixed)], dim=-1)
        for t, tag in enumerate("ab"):
            u = _assemble(lv.trees[t], ps[t], mixed, w, f"{tag}_{lvl}", shared)
            us[t] = u if lv.top else u.relu()
    return us[0][0], us[1][0]
