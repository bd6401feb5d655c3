"""Pooling geometries as successive groupings of positions: the levels of a :class:`ModeTree`.

Each function returns ``levels``: ``levels[k]`` groups the nodes of level
``k - 1`` (level ``-1`` being the positions) into the windows of level ``k``,
as :meth:`ModeTree._from_groups` takes them.  The arguments are checked by the
:class:`~dltheory.trees.ModeTree` constructors that call these; what can only
be found while grouping (a window that does not divide a side, a dilation
scheme that does not tile) is refused here, naming the argument.

Square and mirror pooling: Cohen & Shashua, "Inductive Bias of Deep
Convolutional Networks through Pooling Geometry", ICLR 2017 (Sec. 6 and the
authors' code); dilated networks: Cohen, Tamari & Shashua, ICLR 2018 (Sec. 3).
"""

from __future__ import annotations

from collections.abc import Sequence

from .validation import check_int

__all__ = ["Levels", "dilated_levels", "mirror_levels", "mirror_order", "square_levels"]

#: ``levels[k][g]``: the indices (among the nodes of level ``k - 1``) pooled by window ``g``.
Levels = list[list[list[int]]]


def mirror_order(n: int) -> list[int]:
    """The mirror permutation ``s_n`` of Cohen & Shashua's mirror pooling (ICLR'17).

    ``s_n(2k) = k`` and ``s_n(2k + 1) = n - 1 - k``: position ``2k`` of the
    permuted axis holds row ``k`` and position ``2k + 1`` its mirror image
    ``n - 1 - k``, so a stride-2 window then joins a row with its mirror.

    >>> mirror_order(8)
    [0, 7, 1, 6, 2, 5, 3, 4]
    """
    n = check_int(n, "n", minimum=1)
    return [k // 2 if k % 2 == 0 else n - 1 - k // 2 for k in range(n)]


def square_levels(H: int, W: int, window: tuple[int, int], *, first_mirror: bool) -> Levels:
    """Contiguous ``h x w`` windows at every level of an ``H x W`` grid (row-major positions).

    Windows shrink to the remaining side at the top.  With ``first_mirror``
    each position is first pooled with its mirror images ``(i, j), (i, W-1-j),
    (H-1-i, j), (H-1-i, W-1-j)`` (``geometry="mirror-square"``; even sides or 1).
    """
    h, w = window
    levels: Levels = []
    if first_mirror:
        for side, name in ((H, "H"), (W, "W")):
            if side > 1 and side % 2:
                raise ValueError(f"shape: mirror pooling needs even sides (or 1); {name} = {side}")
        qh, qw = (H + 1) // 2, (W + 1) // 2
        groups = []
        for i in range(qh):
            for j in range(qw):
                pts = {(i, j), (i, W - 1 - j), (H - 1 - i, j), (H - 1 - i, W - 1 - j)}
                groups.append(sorted(a * W + b for a, b in pts))
        levels.append(groups)
        cur_h, cur_w = qh, qw
    else:
        cur_h, cur_w = H, W
    shape = (H, W)
    level = len(levels)
    while cur_h * cur_w > 1:
        eh, ew = min(h, cur_h), min(w, cur_w)
        if eh * ew == 1:
            raise ValueError(
                f"window: {window!r} cannot pool the remaining {cur_h}x{cur_w} grid at level "
                f"{level} of grid {shape!r}; use a window that spans both sides"
            )
        if cur_h % eh or cur_w % ew:
            raise ValueError(
                f"window: grid {shape!r} is not divisible by window {window!r} at pooling "
                f"level {level} (remaining grid {cur_h}x{cur_w}); use sides that are powers "
                "of the window"
            )
        nh, nw = cur_h // eh, cur_w // ew
        levels.append(
            [
                [(bi * eh + a) * cur_w + (bj * ew + b) for a in range(eh) for b in range(ew)]
                for bi in range(nh)
                for bj in range(nw)
            ]
        )
        cur_h, cur_w = nh, nw
        level += 1
    return levels or [[[0]]]


def mirror_levels(H: int, W: int, window: tuple[int, int]) -> Levels:
    """The authors' mirror pooling: permute by ``s_n`` before every 2x2 pooling."""
    if window != (2, 2):
        raise ValueError(
            f"window: mirror pooling permutes before 2x2 pooling; use window=(2, 2), got {window!r}"
        )
    for side, name in ((H, "H"), (W, "W")):
        if side & (side - 1):
            raise ValueError(
                f"shape: mirror pooling needs sides that are powers of 2 (or 1); {name} = {side}"
            )
    levels: Levels = []
    cur_h, cur_w = H, W
    while cur_h * cur_w > 1:
        rows, cols = mirror_order(cur_h), mirror_order(cur_w)
        eh, ew = min(2, cur_h), min(2, cur_w)
        nh, nw = cur_h // eh, cur_w // ew
        levels.append(
            [
                [
                    rows[bi * eh + a] * cur_w + cols[bj * ew + b]
                    for a in range(eh)
                    for b in range(ew)
                ]
                for bi in range(nh)
                for bj in range(nw)
            ]
        )
        cur_h, cur_w = nh, nw
    return levels or [[[0]]]


def dilated_levels(n: int, ds: Sequence[int], kernel: int) -> Levels:
    """Layer l pools each node (a set S of positions) with S + d_l, ..., S + (kernel - 1) d_l.

    ``kernel ** len(ds) == n`` is checked by the caller; a scheme that does not
    tile the positions into one tree is refused naming ``dilations``.
    """
    sets: list[frozenset[int]] = [frozenset([i]) for i in range(n)]
    levels: Levels = []
    for d in ds:
        index = {min(s): k for k, s in enumerate(sets)}
        used: set[int] = set()
        groups = []
        for k in sorted(range(len(sets)), key=lambda k: min(sets[k])):
            if k in used:
                continue
            group = [k]
            for t in range(1, kernel):
                target = frozenset(x + t * d for x in sets[k])
                j = index.get(min(target))
                if j is None or sets[j] != target or j in used:
                    raise ValueError(
                        f"dilations: dilation {d} cannot pair positions {sorted(sets[k])} "
                        f"with {sorted(target)}; the scheme {list(ds)} does not tile {n} positions"
                    )
                group.append(j)
            used.update(group)
            groups.append(group)
        levels.append(groups)
        sets = [frozenset().union(*(sets[k] for k in g)) for g in groups]
    if len(sets) != 1:
        raise ValueError(
            f"dilations: the scheme {list(ds)} leaves {len(sets)} nodes at the top; "
            f"it needs kernel**len(dilations) == n ({kernel}**{len(ds)} != {n})"
        )
    return levels
