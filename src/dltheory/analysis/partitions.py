"""Named partitions of the input positions used throughout the papers.

All return sorted tuples of positions (2D positions flattened row-major).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..trees import MAX_TREE_NODES
from ..validation import check_int, check_ints, check_seed

__all__ = ["odd_even", "left_right", "interleaved_2d", "block", "random_partition"]


def _n(n: Any, name: str = "n") -> int:
    return check_int(
        n, name, minimum=2, maximum=MAX_TREE_NODES, fix="a bipartition needs >= 2 positions"
    )


def _shape(shape: Any, name: str = "shape") -> tuple[int, int]:
    h, w = check_ints(shape, name, minimum=1, length=2)
    if h * w > MAX_TREE_NODES:
        raise ValueError(f"{name}: a {h}x{w} grid has more positions than a tree can hold")
    return h, w


def odd_even(n: int) -> tuple[int, ...]:
    """Odd positions 1, 3, 5, ...: the interleaved partition of Cohen et al., COLT'16."""
    return tuple(range(1, _n(n), 2))


def left_right(n: int | tuple[int, int]) -> tuple[int, ...]:
    """The first half of a sequence, or the left half of an ``(H, W)`` grid."""
    if isinstance(n, (tuple, list)):
        h, w = _shape(n, "n")
        if w < 2:
            raise ValueError(f"n: a left/right split needs a width >= 2, got shape {(h, w)}")
        return tuple(i * w + j for i in range(h) for j in range(w // 2))
    return tuple(range(_n(n) // 2))


def interleaved_2d(shape: tuple[int, int]) -> tuple[int, ...]:
    """Positions ``(i, j)`` with both ``i`` and ``j`` even (one of four 2x2-interleaved classes)."""
    h, w = _shape(shape)
    if h * w < 2:
        raise ValueError(f"shape: a bipartition needs >= 2 positions, got {(h, w)}")
    return tuple(i * w + j for i in range(0, h, 2) for j in range(0, w, 2))


def block(
    shape: tuple[int, int], top_left: tuple[int, int], size: tuple[int, int]
) -> tuple[int, ...]:
    """A contiguous ``size`` block of a grid starting at ``top_left``."""
    h, w = _shape(shape)
    a, b = check_ints(top_left, "top_left", minimum=0, length=2)
    bh, bw = check_ints(size, "size", minimum=1, length=2)
    if not (0 <= a and 0 <= b and a + bh <= h and b + bw <= w and bh > 0 and bw > 0):
        raise ValueError(
            f"top_left, size: block {size} at {top_left} does not fit in the grid {shape}"
        )
    return tuple((a + i) * w + (b + j) for i in range(bh) for j in range(bw))


def random_partition(n: int, seed: int | None = 0, size: int | None = None) -> tuple[int, ...]:
    """A uniformly random subset of ``size`` positions (``n // 2`` by default)."""
    n = _n(n)
    k = n // 2 if size is None else check_int(size, "size", minimum=1, maximum=n - 1)
    rng = np.random.default_rng(None if seed is None else check_seed(seed))
    return tuple(sorted(int(i) for i in rng.choice(n, size=k, replace=False)))
