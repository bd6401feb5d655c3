"""The position-major, block-ordered forward pass of :class:`~dltheory.nets.ConvAC`.

Every group's output (one 1x1 convolution, Cohen, Sharir & Shashua, COLT'16,
Sec. 3) is an ``(n, B, r)`` tensor, positions first, with its positions in a
slot order chosen top-down by :func:`plan_blocks`: for a level whose windows
all have ``k`` children (grids, balanced and dilated trees), child ``c`` of
window ``j`` sits at slot ``c * n + j``, so the pooling input is a reshape to
``(k, n, B, r)`` and pooling reduces over the first axis (contiguous blocks,
no gather, no concatenation).  Other levels gather their children through a
padded index.  Product pooling runs in linear space with per-position
power-of-two scales (:mod:`dltheory.nets.scaled`); max and average pooling
are the plain (ReLU) network.

One-hot inputs.  With ``M`` levels per position and first-level windows of
``k`` positions, the first pooling sees only ``M**k`` distinct inputs (16 for
the binary 32x32 images of Cohen & Shashua, ICLR'17, with 2x2 windows), so the
first convolution, the first pooling and the next convolution are computed
once per pattern on an ``M**k``-row table and gathered per window: the same
numbers (the same operations on the same values), without the 1024-position
tensors.  A window with more patterns (the shallow nets' single window over
all 1024 pixels) is pooled from the number of its children at each level,
since product, average and maximum do not depend on the children's order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import reduce
from typing import TYPE_CHECKING, Any

import torch

from .representation import Affine, OneHot, Representation, Similarity
from .scaled import LN2, normalize, pool_product

if TYPE_CHECKING:
    from .convac import ConvAC

__all__ = ["SPLIT_BYTES", "TABLE_MAX", "BlockPlan", "PermuteRows", "Table", "plan_blocks", "run"]

#: Size from which a convolution feeding a uniform pooling is computed block by block: the C
#: allocator maps tensors of 32 MiB and more afresh (page faults) on every allocation.
SPLIT_BYTES = 2**24
#: Most patterns ``M**k`` of a tabulated first level.
TABLE_MAX = 256

# a group's output: its tensor (or its blocks of positions), exponents, exact-zero positions
_Out = tuple[torch.Tensor | list[torch.Tensor], torch.Tensor | None, torch.Tensor | None]


@dataclass(frozen=True)
class Table:
    """A first level computed per input pattern, or per count of each level.

    ``digits[c, p]`` is child ``c``'s level in pattern ``p`` (``M**k <=``
    :data:`TABLE_MAX` patterns); ``digits is None`` for windows too large to
    tabulate, pooled from the counts of each level instead.
    """

    leaf_group: int
    levels: int
    arity: int
    digits: torch.Tensor | None  # (k, M**k), long
    powers: torch.Tensor | None  # (k,), long: M**c


@dataclass(frozen=True)
class BlockPlan:
    """Where every node sits in the position-major ``(n, B, r)`` tensors.

    ``rows[gi]`` maps the group's slots to its rows (its node order), or is
    ``None`` for the same order; ``leaf_positions`` lists the input positions
    in slot order; ``index[level]`` is ``None`` where the level's windows are
    blocks (child ``c`` of window ``j`` at slot ``c * n + j``), else a padded
    ``(k, n)`` gather into the concatenated feeders; ``table`` is set where the
    first level is tabulated.
    """

    rows: list[torch.Tensor | None]
    leaf_positions: torch.Tensor | None
    arity: list[int]
    index: list[torch.Tensor | None]
    table: Table | None = None
    leaf_inverse: torch.Tensor | None = None  # the inverse permutation of leaf_positions


def plan_blocks(
    children: list[tuple[int, ...]],
    group_nodes: list[tuple[int, ...]],
    root_group: int,
    leaf_groups: list[int],
    levels: list[tuple[list[int], list[int]]],
    one_hot_levels: int | None = None,
) -> BlockPlan:
    """Choose each group's slot order, top-down, so that uniform levels pool by a reshape.

    Parameters
    ----------
    children : list of tuples
        ``children[v]`` of every node (leaves: empty).
    group_nodes : list of tuples
        The nodes of every group (one 1x1 convolution each), in row order.
    root_group, leaf_groups
        The group holding the root, and the groups of leaves (in input order).
    levels : list of (feeders, members)
        Per level (bottom-up), the groups feeding its pooling and the groups
        of its nodes.
    one_hot_levels : int, optional
        ``M`` of a one-hot representation with shared weights: a uniform first
        level fed by all the leaves is then computed per pattern (``M**k`` at
        most :data:`TABLE_MAX`) or from the counts of each level.
    """
    order: dict[int, list[int]] = {root_group: list(group_nodes[root_group])}
    arity: list[int] = [0] * len(levels)
    index: list[torch.Tensor | None] = [None] * len(levels)
    for lvl in reversed(range(len(levels))):
        feeders, members = levels[lvl]
        parents = [v for gi in members for v in order[gi]]
        ks = {len(children[v]) for v in parents}
        k = max(ks)
        arity[lvl] = k
        if len(feeders) == 1 and len(ks) == 1:
            n = len(parents)
            slots = [0] * (k * n)
            for j, v in enumerate(parents):
                for c, child in enumerate(children[v]):
                    slots[c * n + j] = child
            order[feeders[0]] = slots
            continue
        for gi in feeders:
            order[gi] = list(group_nodes[gi])
        slot = {v: s for s, v in enumerate(v for gi in feeders for v in order[gi])}
        idx = torch.full((k, len(parents)), len(slot), dtype=torch.long)  # pad: a neutral row
        for j, v in enumerate(parents):
            for c, child in enumerate(children[v]):
                idx[c, j] = slot[child]
        index[lvl] = idx
    rows: list[torch.Tensor | None] = []
    for gi, nodes in enumerate(group_nodes):
        where = {v: r for r, v in enumerate(nodes)}
        perm = [where[v] for v in order[gi]]
        rows.append(None if perm == list(range(len(nodes))) else torch.tensor(perm))
    positions = [v for gi in leaf_groups for v in order[gi]]
    leaf = None if positions == list(range(len(positions))) else torch.tensor(positions)
    table = None
    m = one_hot_levels
    if m is not None and levels and [leaf_groups] == [levels[0][0]] and index[0] is None:
        k = arity[0]
        table = Table(leaf_groups[0], m, k, None, None)
        if k * math.log(m) <= math.log(TABLE_MAX):
            patterns = torch.arange(m**k)
            powers = torch.tensor([m**c for c in range(k)])
            digits = (patterns[None, :] // powers[:, None]) % m
            table = Table(leaf_groups[0], m, k, digits, powers)
    inverse = None if leaf is None else torch.argsort(leaf)
    return BlockPlan(rows, leaf, arity, index, table, inverse)


# ------------------------------------------------------------------ the forward pass
class PermuteRows(torch.autograd.Function):
    """``t[perm]`` along axis 0 for a permutation, whose gradient is ``g[perm^-1]``.

    (``index_select`` would zero-fill and scatter-add its gradient instead.)
    """

    @staticmethod
    def forward(ctx: Any, t: torch.Tensor, perm: torch.Tensor, inverse: torch.Tensor) -> Any:
        ctx.inverse = inverse
        return t.index_select(0, perm)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        return g.index_select(0, ctx.inverse), None, None


def _conv(net: ConvAC, gi: int, q: torch.Tensor, blocks: int) -> torch.Tensor | list[torch.Tensor]:
    """Group ``gi``'s convolution (bias, activation) of ``q`` (``(n, B, in)``, or a table).

    With ``blocks > 1`` the output comes as that many consecutive blocks of
    positions, one matrix product each.  The root of a positive product net
    returns ``log(h / 2**E)`` (its sum is positive; an underflow to 0 gives the
    log of float's smallest normal number instead of ``-inf``).
    """
    plan = net._blocks
    assert plan is not None
    grp = net._groups[gi]
    if net.positive and gi == net._root_group:
        w = net._weight(gi)
        u = q @ (w if net.shared else w[0])
        return torch.log(u.clamp_min(torch.finfo(u.dtype).tiny))
    w = net._weight(gi)
    bias = net.biases[net._bias_of[gi]] if gi in net._bias_of else None
    rows = plan.rows[gi]
    if not net.shared and rows is not None:
        w = w.index_select(0, rows.to(w.device))
        bias = None if bias is None else bias.index_select(0, rows.to(w.device))
    relu = net.activation == "relu" and grp.target_level >= 0
    size = q.shape[0] // blocks
    qs = q.split(size) if blocks > 1 else [q]
    ws = w.split(size) if blocks > 1 and not net.shared else [w] * blocks
    bs = [bias] * blocks if bias is None or net.shared else list(bias.split(size))
    out = []
    for qb, wb, bb in zip(qs, ws, bs, strict=True):
        u = qb @ wb if net.shared else torch.bmm(qb, wb)
        if bb is not None:
            u = u.add_(bb if net.shared else bb[:, None, :])
        out.append(u.relu_() if relu else u)
    return out if blocks > 1 else out[0]


def _blocks_for(net: ConvAC, gi: int, positions: int, batch: int, itemsize: int) -> int:
    """How many blocks group ``gi``'s output is computed in (see :data:`SPLIT_BYTES`)."""
    plan = net._blocks
    assert plan is not None
    grp = net._groups[gi]
    target = grp.target_level
    if target < 0 or plan.index[target] is not None or plan.arity[target] > 4:
        return 1
    if net.pooling == "max" or positions * batch * grp.out_width * itemsize < SPLIT_BYTES:
        return 1  # max pooling: one amax over the blocks splits ties as before
    return plan.arity[target]


def _leaf_input(
    net: ConvAC, loc: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """The representation of every position ``(B, N, M)``, scaled for product pooling:
    ``(q, e, zero)``."""
    rep = net.rep
    if isinstance(rep, Similarity) and net.pooling == "product":
        logf = rep._log_forward(loc)  # exp would underflow: scale in log-space
        with torch.no_grad():
            e = torch.ceil(logf.amax(dim=-1, keepdim=True) / LN2)
        return torch.exp(logf - e * LN2), e, None
    f = _representation(rep, loc)
    if net.pooling != "product" or isinstance(rep, OneHot) or rep.positive:
        # (one-hot and sigmoid values are in [0, 1]; a row that underflows is recomputed)
        return f, None, None
    return normalize(f)


def _representation(rep: Representation, loc: torch.Tensor) -> torch.Tensor:
    """``rep._forward(loc)``; an affine map of image channels as one batched product.

    For images ``loc`` is a ``(B, N, s)`` view of ``(B, s, N)`` memory, where
    ``nn.Linear`` first copies it and then multiplies with ``s``-wide rows; the
    same map computed as ``A @ X_b + c`` runs along contiguous rows of positions
    (about twice as fast, forward and backward, at ``s = M = 3``).
    """
    if type(rep) is not Affine or loc.stride(1) != 1:
        return rep._forward(loc)
    xb = loc.transpose(1, 2)  # (B, s, N), contiguous
    w, b = rep.linear.weight, rep.linear.bias
    z = torch.baddbmm(b[None, :, None], w.expand(loc.shape[0], -1, -1), xb)
    out: torch.Tensor = rep.act(z)
    return out.transpose(1, 2)


def _pool(
    net: ConvAC,
    lvl: int,
    xv: torch.Tensor | list[torch.Tensor],
    ev: torch.Tensor | None,
    zv: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """Pool the children ``(k, n, ...)`` (or their list) of level ``lvl``."""
    if net.pooling == "product":
        return pool_product(xv, ev, zv, positive=net.positive)
    assert net._blocks is not None
    if isinstance(xv, list):  # average only (see _blocks_for)
        return reduce(torch.add, xv) * (1.0 / len(xv)), None, None
    if net.pooling == "max":
        return xv.amax(dim=0), None, None
    if net._blocks.index[lvl] is None:
        return xv.mean(dim=0), None, None
    counts = net._levels[lvl].counts.to(xv)
    return xv.sum(dim=0) / counts.reshape((-1,) + (1,) * (xv.dim() - 2)), None, None


def _tabulate(net: ConvAC, table: Table, loc: torch.Tensor, outs: dict[int, _Out]) -> None:
    """The first level of a one-hot net, through its ``M**k`` patterns (see the module notes)."""
    rep = net.rep
    assert isinstance(rep, OneHot)
    idx = rep._index(loc)  # (N, B), checked
    k = table.arity
    device = idx.device
    w = net.weights[table.leaf_group]
    eye = torch.eye(table.levels, dtype=w.dtype, device=w.device)
    leaf = _conv(net, table.leaf_group, eye, 1)  # (M, r): each level's convolution output
    assert isinstance(leaf, torch.Tensor)
    if table.digits is None or table.powers is None:
        counts = torch.nn.functional.one_hot(idx, table.levels).to(w.dtype)
        counts = counts.reshape((k, -1) + tuple(counts.shape[1:])).sum(0)  # (n, B, M)
        q, e, zero = _pool_counts(net, counts, leaf)
        start = 0
        for gi in net._levels[0].members:
            n = len(net._groups[gi].nodes)
            part = slice(start, start + n)
            start += n
            ep, zp = (None if t is None else t[part] for t in (e, zero))
            outs[gi] = (_conv(net, gi, q[part], 1), ep, zp)
        return
    codes = (idx.reshape(k, -1, idx.shape[-1]) * table.powers.to(device)[:, None, None]).sum(0)
    digits = table.digits.to(device)
    children = torch.stack([leaf[digits[c]] for c in range(k)])  # (k, M**k, r)
    pooled, e_tab, _ = _pool(net, 0, children, None, None)
    start = 0
    for gi in net._levels[0].members:
        n = len(net._groups[gi].nodes)
        rows = codes[start : start + n]
        start += n
        tab = _conv(net, gi, pooled, 1)
        assert isinstance(tab, torch.Tensor)
        blocks = _blocks_for(net, gi, n, rows.shape[1], tab.element_size())
        parts = rows.split(n // blocks) if blocks > 1 else [rows]
        us = [torch.nn.functional.embedding(part, tab) for part in parts]
        e = None if e_tab is None else e_tab[rows]
        outs[gi] = (us if blocks > 1 else us[0], e, None)


def _pool_counts(
    net: ConvAC, counts: torch.Tensor, leaf: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """Pool windows whose children take ``M`` values ``leaf[m]``, from the counts ``(n, B, M)``.

    Every pooling is symmetric in its children: a product is
    ``prod_m leaf[m] ** count_m`` (through log-magnitudes in float64, then
    scaled: exact to float rounding for any window size), an average
    ``counts @ leaf / k``, a maximum the largest ``leaf[m]`` with ``count_m > 0``.
    """
    if net.pooling == "average":
        return (counts / counts.sum(dim=-1, keepdim=True)) @ leaf, None, None
    if net.pooling == "max":
        present = counts > 0
        rows = [torch.where(present[..., m : m + 1], leaf[m], -torch.inf) for m in range(len(leaf))]
        return reduce(torch.maximum, rows), None, None
    big = leaf.double()
    mag = big.abs()
    nonzero = mag > 0
    logp = counts.double() @ torch.log(torch.where(nonzero, mag, torch.ones_like(mag)))
    sign: torch.Tensor | None = None  # None: every product is positive
    with torch.no_grad():
        c = counts.double()
        if bool((big < 0).any()):  # the parity of the negative factors
            sign = 1.0 - 2.0 * ((c @ (big < 0).double()).long() % 2).double()
        if not bool(nonzero.all()):  # a factor that is exactly 0
            dead = (c @ (~nonzero).double()) > 0
            sign = (torch.ones_like(logp) if sign is None else sign).masked_fill(dead, 0.0)
        live = logp if sign is None else logp.masked_fill(sign == 0, -math.inf)
        shift = live.amax(dim=-1, keepdim=True)
        shift = torch.where(torch.isfinite(shift), shift, torch.zeros_like(shift))
        e = torch.ceil(shift / LN2)
    if sign is None:
        return torch.exp(logp - e * LN2).to(leaf.dtype), e.to(leaf.dtype), None
    q = (sign * torch.exp(logp.masked_fill(sign == 0, -math.inf) - e * LN2)).to(leaf.dtype)
    zero = (sign == 0).all(dim=-1, keepdim=True)
    return q, e.to(leaf.dtype), (zero if bool(zero.any()) else None)


def _rows(u: torch.Tensor | list[torch.Tensor]) -> int:
    return sum(len(b) for b in u) if isinstance(u, list) else len(u)


def _zeros(u: torch.Tensor | list[torch.Tensor], dtype: torch.dtype | None = None) -> torch.Tensor:
    """``(n, B, 1)`` zeros beside a group output ``u`` of ``n`` positions."""
    ref = u[0] if isinstance(u, list) else u
    shape = (_rows(u),) + tuple(ref.shape[1:-1]) + (1,)
    return ref.new_zeros(shape, dtype=dtype or ref.dtype)


def _children(
    net: ConvAC, lvl: int, parts: list[_Out]
) -> tuple[torch.Tensor | list[torch.Tensor], torch.Tensor | None, torch.Tensor | None]:
    """Level ``lvl``'s pooling input from its feeders: ``(k, n, B, r)`` (or blocks), exponents."""
    plan = net._blocks
    assert plan is not None
    k, index = plan.arity[lvl], plan.index[lvl]
    ex = z = None
    if len(parts) == 1:
        ex, z = parts[0][1], parts[0][2]
    else:
        if any(p[1] is not None for p in parts):
            ex = torch.cat([_zeros(p[0]) if p[1] is None else p[1] for p in parts])
        if any(p[2] is not None for p in parts):
            z = torch.cat([_zeros(p[0], torch.bool) if p[2] is None else p[2] for p in parts])
    if index is None:
        u = parts[0][0]
        xv = u if isinstance(u, list) else u.reshape((k, -1) + tuple(u.shape[1:]))
        ev = None if ex is None else ex.reshape((k, -1) + tuple(ex.shape[1:]))
        zv = None if z is None else z.reshape((k, -1) + tuple(z.shape[1:]))
        return xv, ev, zv
    blocks = [b for p in parts for b in (p[0] if isinstance(p[0], list) else [p[0]])]
    u = torch.cat(blocks) if len(blocks) > 1 else blocks[0]
    neutral = {"product": 1.0, "max": -torch.inf, "average": 0.0}[net.pooling]
    idx = index.to(u.device)
    xv = torch.cat([u, u.new_full((1,) + tuple(u.shape[1:]), neutral)])[idx]
    ev = None if ex is None else torch.cat([ex, ex.new_zeros((1,) + ex.shape[1:])])[idx]
    zv = None if z is None else torch.cat([z, z.new_zeros((1,) + z.shape[1:])])[idx]
    return xv, ev, zv


def run(net: ConvAC, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Root outputs ``(u (B, out), E (B, 1))`` with ``h = 2**E u`` for product pooling
    (``u = log(h / 2**E)`` for positive weights), ``(h, None)`` for max / average pooling.
    """
    plan = net._blocks
    assert plan is not None
    loc = net.local_vectors(x)  # (B, N, s); for images a view of (B, s, N)

    def position_major(t: Any) -> Any:  # (B, N, ...) -> (N, B, ...) in slot order
        if t is None:
            return None
        t = t.transpose(0, 1)
        if plan.leaf_positions is None:
            return t
        perm = plan.leaf_positions.to(t.device)
        if not t.requires_grad or plan.leaf_inverse is None:
            return t.index_select(0, perm)
        return PermuteRows.apply(t, perm, plan.leaf_inverse.to(t.device))

    outs: dict[int, _Out] = {}

    def convolve(gi: int, q: Any, e: Any, zero: Any, start: int, stop: int) -> None:
        if (start, stop) != (0, len(q)):  # a full-range slice would cost a copy backward
            q, e = q[start:stop], None if e is None else e[start:stop]
            zero = None if zero is None else zero[start:stop]
        blocks = _blocks_for(net, gi, q.shape[0], q.shape[1], q.element_size())
        outs[gi] = (_conv(net, gi, q, blocks), e, zero)

    first = 0
    if plan.table is not None:
        _tabulate(net, plan.table, position_major(loc), outs)
        first = 1
    else:  # the representation and its scales before the transposition: for images the
        # per-position reductions then run along contiguous rows of positions
        q, e, zero = (position_major(t) for t in _leaf_input(net, loc))
        start = 0
        for gi in net._leaf_groups:
            n = len(net._groups[gi].nodes)
            convolve(gi, q, e, zero, start, start + n)
            start += n
    for lvl in range(first, len(net._levels)):
        level = net._levels[lvl]
        xv, ev, zv = _children(net, lvl, [outs.pop(gi) for gi in level.feeders])
        qp, ep, zp = _pool(net, lvl, xv, ev, zv)
        start = 0
        for gi in level.members:
            n = len(net._groups[gi].nodes)
            convolve(gi, qp, ep, zp, start, start + n)
            start += n
    u, e, _ = outs[net._root_group]
    assert isinstance(u, torch.Tensor)
    if net.pooling != "product":
        return u[0], None
    return u[0], (u.new_zeros(u.shape[1:-1] + (1,)) if e is None else e[0])
