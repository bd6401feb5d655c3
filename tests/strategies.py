"""Hypothesis strategies and brute-force references shared by the tests."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from hypothesis import strategies as st

import dltheory as dt


def _split(draw: Any, items: list[int]) -> Any:
    if len(items) == 1:
        return items[0]
    k = draw(st.integers(2, min(4, len(items))))
    cuts = sorted(draw(st.sets(st.integers(1, len(items) - 1), min_size=k - 1, max_size=k - 1)))
    bounds = [0, *cuts, len(items)]
    return [_split(draw, items[a:b]) for a, b in zip(bounds, bounds[1:], strict=False)]


@st.composite
def mode_trees(draw: Any, max_leaves: int = 10) -> dt.ModeTree:
    """Random trees of every kind with 2..max_leaves leaves."""
    kind = draw(
        st.sampled_from(
            ["flat", "balanced", "chain", "square", "mirror", "mirror-square", "dilated", "nested"]
        )
    )
    if kind == "flat":
        return dt.ModeTree.flat(draw(st.integers(2, max_leaves)))
    if kind == "chain":
        return dt.ModeTree.chain(draw(st.integers(2, max_leaves)))
    if kind == "balanced":
        arity = draw(st.sampled_from([2, 3]))
        sizes = [arity**k for k in range(1, 5) if arity**k <= max_leaves]
        return dt.ModeTree.balanced(draw(st.sampled_from(sizes)), arity=arity)
    if kind == "square":
        shape = draw(st.sampled_from([(2, 2), (2, 4), (4, 2), (2, 3), (2, 6), (1, 4)]))
        window = {(2, 3): (2, 3), (2, 6): (2, 3)}.get(shape, (2, 2))
        return dt.ModeTree.grid(shape, window=window)
    if kind == "mirror":
        shape = draw(st.sampled_from([(2, 2), (2, 4), (4, 2), (1, 4)]))
        return dt.ModeTree.grid(shape, window=(2, 2), geometry="mirror")
    if kind == "mirror-square":
        shape = draw(st.sampled_from([(2, 4), (4, 2), (1, 4)]))
        return dt.ModeTree.grid(shape, window=(2, 2), geometry="mirror-square")
    if kind == "dilated":
        n = draw(st.sampled_from([4, 8]))
        ds = draw(st.permutations([2**k for k in range(n.bit_length() - 1)]))
        return dt.ModeTree.dilated(n, ds)
    n = draw(st.integers(2, max_leaves))
    perm = draw(st.permutations(list(range(n))))
    nested = _split(draw, list(perm))
    return dt.ModeTree.from_nested(nested if isinstance(nested, list) else [nested])


@st.composite
def tensors_and_partitions(
    draw: Any, integer: bool = False, max_dense: int = 2**12
) -> tuple[dt.TreeTensor, tuple[int, ...]]:
    tree = draw(mode_trees(max_leaves=12))
    n = tree.num_leaves
    m = draw(st.integers(1, 3))
    while m > 1 and m**n > max_dense:
        m -= 1
    widths = {v: draw(st.integers(1, 4)) for v in tree.internal_nodes}
    seed = draw(st.integers(0, 2**16))
    tt = dt.TreeTensor.random(tree, in_dim=m, ranks=widths, seed=seed, integer=integer, int_range=3)
    part = draw(st.sets(st.integers(0, n - 1), min_size=1, max_size=n - 1))
    return tt, tuple(sorted(part))


def exact_rank(rows: list[list[int]]) -> int:
    """Rank over the rationals by Gaussian elimination with exact fractions."""
    a = [[Fraction(int(x)) for x in row] for row in rows]
    rank, ncols = 0, len(a[0]) if a else 0
    for col in range(ncols):
        piv = next((r for r in range(rank, len(a)) if a[r][col] != 0), None)
        if piv is None:
            continue
        a[rank], a[piv] = a[piv], a[rank]
        for r in range(rank + 1, len(a)):
            if a[r][col] != 0:
                f = a[r][col] / a[rank][col]
                a[r] = [x - f * y for x, y in zip(a[r], a[rank], strict=True)]
        rank += 1
    return rank
