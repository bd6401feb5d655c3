"""Named partitions of the input positions used throughout the papers.

All return sorted tuples of positions (2D positions flattened row-major).
"""

from __future__ import annotations

import numpy as np

__all__ = ["odd_even", "left_right", "interleaved_2d", "block", "random_partition"]


def _n(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"n: a bipartition needs an int >= 2 positions, got {n!r}")
    return n


def odd_even(n: int) -> tuple[int, ...]:
    """Odd positions 1, 3, 5, ...: the interleaved partition of Cohen et al., COLT'16."""
    return tuple(range(1, _n(n), 2))


def left_right(n: int | tuple[int, int]) -> tuple[int, ...]:
    """The first half of a sequence, or the left half of an ``(H, W)`` grid."""
    if isinstance(n, tuple):
        h, w = n
        return tuple(i * w + j for i in range(h) for j in range(w // 2))
    return tuple(range(_n(n) // 2))


def interleaved_2d(shape: tuple[int, int]) -> tuple[int, ...]:
    """Positions ``(i, j)`` with both ``i`` and ``j`` even (one of four 2x2-interleaved classes)."""
    h, w = shape
    return tuple(i * w + j for i in range(0, h, 2) for j in range(0, w, 2))


def block(
    shape: tuple[int, int], top_left: tuple[int, int], size: tuple[int, int]
) -> tuple[int, ...]:
    """A contiguous ``size`` block of a grid starting at ``top_left``."""
    h, w = shape
    (a, b), (bh, bw) = top_left, size
    if not (0 <= a and 0 <= b and a + bh <= h and b + bw <= w and bh > 0 and bw > 0):
        raise ValueError(f"size: block {size} at {top_left} does not fit in the grid {shape}")
    return tuple((a + i) * w + (b + j) for i in range(bh) for j in range(bw))


def random_partition(n: int, seed: int | None = 0, size: int | None = None) -> tuple[int, ...]:
    """A uniformly random subset of ``size`` positions (``n // 2`` by default)."""
    n = _n(n)
    k = n // 2 if size is None else size
    if not 0 < k < n:
        raise ValueError(f"size: expected 0 < size < {n}, got {size}")
    rng = np.random.default_rng(seed)
    return tuple(sorted(int(i) for i in rng.choice(n, size=k, replace=False)))
