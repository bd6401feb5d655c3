from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

import dltheory as dt
from tests.strategies import mode_trees


def test_balanced_structure() -> None:
    t = dt.ModeTree.balanced(16)
    assert t.num_leaves == 16 and t.depth == 4
    assert [len(level) for level in t.levels()] == [8, 4, 2, 1]
    assert t.leaves(t.root) == tuple(range(16))
    assert t.children(t.levels()[0][0]) == (0, 1)
    assert dt.ModeTree.balanced(27, arity=3).depth == 3


def test_flat_chain_nested() -> None:
    assert dt.ModeTree.flat(5).depth == 1
    assert dt.ModeTree.flat(5).children(5) == (0, 1, 2, 3, 4)
    c = dt.ModeTree.chain(5)
    assert c.depth == 4 and c.to_nested() == [[[[0, 1], 2], 3], 4]
    t = dt.ModeTree.from_nested([[0, 1], [2, 3]])
    assert t.depth == 2 and t.to_nested() == [[0, 1], [2, 3]]
    assert dt.ModeTree.from_nested([[0, 2], [1, 3]]).leaves(4) == (0, 2)


def test_grid_square_and_mirror() -> None:
    sq = dt.ModeTree.grid((4, 4), window=(2, 2))
    assert sq.depth == 2 and sq.shape == (4, 4)
    assert [sq.leaves(v) for v in sq.levels()[0]] == [
        (0, 1, 4, 5),
        (2, 3, 6, 7),
        (8, 9, 12, 13),
        (10, 11, 14, 15),
    ]
    mi = dt.ModeTree.grid((4, 4), window=(2, 2), geometry="mirror")
    first = [mi.leaves(v) for v in mi.levels()[0]]
    assert first == [(0, 3, 12, 15), (1, 2, 13, 14), (4, 7, 8, 11), (5, 6, 9, 10)]
    assert mi.depth == 2
    big = dt.ModeTree.grid((32, 32), window=(2, 2))
    assert big.num_leaves == 1024 and big.depth == 5
    assert dt.ModeTree.grid((4, 8), window=(2, 2)).depth == 3  # top window shrinks to 1x2


def _simulated_mirror_windows(h: int, w: int) -> list[set[frozenset[int]]]:
    """Leaf sets per level by the authors' recipe: permute the map, then pool 2x2 stride 2."""
    cur = np.empty((h, w), dtype=object)
    for i in range(h):
        for j in range(w):
            cur[i, j] = frozenset([i * w + j])
    out = []
    while cur.size > 1:
        n, m = cur.shape

        def s(k: int, size: int) -> int:
            return k // 2 if k % 2 == 0 else size - 1 - k // 2

        perm = np.empty_like(cur)
        for a in range(n):
            for b in range(m):
                perm[a, b] = cur[s(a, n), s(b, m)]
        eh, ew = min(2, n), min(2, m)
        nxt = np.empty((n // eh, m // ew), dtype=object)
        for a in range(n // eh):
            for b in range(m // ew):
                nxt[a, b] = frozenset().union(
                    *perm[a * eh : a * eh + eh, b * ew : b * ew + ew].flat
                )
        out.append(set(nxt.flat))
        cur = nxt
    return out


@pytest.mark.parametrize("shape", [(32, 32), (8, 8), (4, 16), (2, 8), (1, 8), (16, 1)])
def test_mirror_windows_follow_the_authors_permutation_at_every_level(
    shape: tuple[int, int],
) -> None:
    tree = dt.ModeTree.grid(shape, geometry="mirror")
    levels = tree.levels()
    expected = _simulated_mirror_windows(*shape)
    assert len(levels) == len(expected)
    for got, want in zip(levels, expected, strict=True):
        assert {frozenset(tree.leaves(v)) for v in got} == want


def test_mirror_level_two_joins_the_papers_rows() -> None:
    tree = dt.ModeTree.grid((32, 32), geometry="mirror")
    corner = [v for v in tree.levels()[1] if 0 in tree.leaves(v)][0]
    rows = {x // 32 for x in tree.leaves(corner)}
    cols = {x % 32 for x in tree.leaves(corner)}
    assert rows == cols == {0, 15, 16, 31}
    # the first-level-only variant joins neighbouring quadrant cells instead
    first = dt.ModeTree.grid((32, 32), geometry="mirror-square")
    corner = [v for v in first.levels()[1] if 0 in first.leaves(v)][0]
    assert {x // 32 for x in first.leaves(corner)} == {0, 1, 30, 31}
    assert dt.trees.mirror_order(8) == [0, 7, 1, 6, 2, 5, 3, 4]


def test_mirror_needs_two_by_two_windows_and_power_of_two_sides() -> None:
    with pytest.raises(ValueError, match=r"window: mirror pooling .* window=\(2, 2\)"):
        dt.ModeTree.grid((8, 8), window=(2, 4), geometry="mirror")
    with pytest.raises(ValueError, match="shape: mirror pooling needs sides that are powers of 2"):
        dt.ModeTree.grid((12, 8), geometry="mirror")
    assert dt.ModeTree.grid((4, 12), (2, 3), geometry="mirror-square").num_leaves == 48


def test_dilated() -> None:
    contiguous = dt.ModeTree.dilated(8, [1, 2, 4])
    assert contiguous.to_nested() == dt.ModeTree.balanced(8).to_nested()
    rev = dt.ModeTree.dilated(8, [4, 2, 1])
    assert [rev.leaves(v) for v in rev.levels()[0]] == [(0, 4), (1, 5), (2, 6), (3, 7)]
    assert [rev.leaves(v) for v in rev.levels()[1]] == [(0, 2, 4, 6), (1, 3, 5, 7)]
    assert dt.ModeTree.dilated(9, [1, 3], kernel=3).depth == 2


def test_repr_and_draw() -> None:
    t = dt.ModeTree.balanced(8)
    assert repr(t) == "ModeTree(balanced, num_leaves=8, depth=3)"
    text = t.draw()
    assert "leaf 7" in text and "node 14 [0..7]" in text
    big = dt.ModeTree.grid((32, 32)).draw(max_lines=10)
    assert big.count("\n") <= 12 and "nodes in all" in big


@settings(max_examples=60, deadline=None)
@given(mode_trees(max_leaves=12))
def test_tree_invariants(tree: dt.ModeTree) -> None:
    n = tree.num_leaves
    assert tree.leaves(tree.root) == tuple(range(n))
    for v in tree.internal_nodes:
        kids = tree.children(v)
        assert all(c < v and tree.parent(c) == v for c in kids)
        under = sorted(x for c in kids for x in tree.leaves(c))
        assert tuple(under) == tree.leaves(v)
    assert dt.ModeTree.from_nested(tree.to_nested()) == tree
    assert sum(len(lv) for lv in tree.levels()) == tree.num_nodes - n


def test_resolve_ranks() -> None:
    t = dt.ModeTree.balanced(8)
    assert set(t.resolve_ranks(3).values()) == {3}
    w = t.resolve_ranks([2, 3, 4])
    assert w[t.root] == 4 and w[t.levels()[0][0]] == 2
    assert t.resolve_ranks({v: 5 for v in t.internal_nodes})[t.root] == 5


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: dt.ModeTree.flat(0), "n: expected an integer >= 1, got 0"),
        (lambda: dt.ModeTree.balanced(6), "n: 6 is not a power"),
        (lambda: dt.ModeTree.chain(-1), "n:"),
        (lambda: dt.ModeTree.grid((6, 6), window=(4, 4)), "window: grid"),
        (lambda: dt.ModeTree.grid((12, 12), window=(2, 2)), "window: grid .* level 2"),
        (lambda: dt.ModeTree.grid((3, 4), geometry="mirror"), "shape: mirror pooling"),
        (lambda: dt.ModeTree.grid((3, 3), window=(3, 1)), "window: .* cannot pool"),
        (lambda: dt.ModeTree.grid((4, 4), geometry="round"), "geometry"),
        (lambda: dt.ModeTree.grid((0, 4)), "shape: sides"),
        (lambda: dt.ModeTree.from_nested([[0, 1], [1, 2]]), "nested: .*repeated: \\[1\\]"),
        (lambda: dt.ModeTree.from_nested([[0, 1], [3]]), "nested: .*missing: \\[2\\]"),
        (lambda: dt.ModeTree.from_nested([[0], []]), "nested: empty group"),
        (lambda: dt.ModeTree.dilated(8, [1, 1, 1]), "dilations:"),
        (lambda: dt.ModeTree.dilated(8, [1, 2]), r"dilations: .*pools 2\*\*2 positions, not n = 8"),
        (lambda: dt.ModeTree.balanced(8).resolve_ranks(0), "ranks: width .* >= 1"),
        (lambda: dt.ModeTree.balanced(8).resolve_ranks([2, 2]), "ranks: got 2 per-level"),
        (lambda: dt.ModeTree.balanced(8).check_partition([0, 9]), "I: positions \\[9\\]"),
        (lambda: dt.ModeTree.balanced(8).check_partition([]), "I: a bipartition"),
        (lambda: dt.ModeTree.balanced(4).check_partition(range(4)), "I: a bipartition"),
        (lambda: dt.ModeTree.balanced(4).check_partition([1, 1]), "I: a position is listed"),
    ],
)
def test_bad_input_value_errors(call, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(
    "call",
    [
        lambda: dt.ModeTree.flat(2.5),
        lambda: dt.ModeTree.from_nested([[0, "a"]]),
        lambda: dt.ModeTree.grid(16),
        lambda: dt.ModeTree.balanced(4).check_partition("01"),
        lambda: dt.ModeTree.balanced(4).check_partition([0.5]),
        lambda: dt.ModeTree.balanced(4).resolve_ranks("big"),
    ],
)
def test_bad_input_type_errors(call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TypeError):
        call()


def test_long_and_deep_trees_without_recursion() -> None:
    import sys

    n = 3 * sys.getrecursionlimit()  # deeper than any recursive walk could go
    chain = dt.ModeTree.chain(n)
    assert chain.depth == n - 1 and chain.num_leaves_under(chain.root) == n
    again = dt.ModeTree.from_nested(chain.to_nested())  # to_nested and from_nested: iterative
    assert again == chain and hash(again) == hash(chain)
    assert chain != dt.ModeTree.balanced(4) and chain != dt.ModeTree.chain(n - 1)
    nested: list = [0, 1]
    for i in range(2, n):
        nested = [nested, i]
    assert dt.ModeTree.from_nested(nested) == chain
    assert chain.leaves(chain.root) == tuple(range(n))
    assert chain.leaves(n) == (0, 1) and chain.parent(n) == n + 1
    assert "node" in chain.draw(max_lines=5)


def test_leaf_ranges_match_the_windows() -> None:
    for tree in (
        dt.ModeTree.grid((4, 4), geometry="mirror"),
        dt.ModeTree.from_nested([[3, [0, 5]], [[1], 4, 2]]),
        dt.ModeTree.dilated(8, [4, 2, 1]),
    ):
        order = tree.dfs_leaves()
        assert sorted(order) == list(range(tree.num_leaves))
        for v in tree.nodes:
            kids = tree.children(v)
            expect = (v,) if not kids else tuple(sorted(x for c in kids for x in tree.leaves(c)))
            assert tree.leaves(v) == expect and tree.num_leaves_under(v) == len(expect)
            run = [order.index(x) for x in expect]  # a contiguous run of the DFS order
            assert max(run) - min(run) + 1 == len(run)


def test_memory_is_linear_and_huge_trees_are_refused_before_allocating() -> None:
    import tracemalloc

    def peak(call) -> int:  # type: ignore[no-untyped-def]
        tracemalloc.start()
        try:
            call()
        except ValueError:
            pass
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    small, large = peak(lambda: dt.ModeTree.chain(5_000)), peak(lambda: dt.ModeTree.chain(20_000))
    assert large < 6 * small  # x4 positions: about x4 memory, not x16 (quadratic leaf tuples)
    for call, name in (
        (lambda: dt.ModeTree.flat(10**9), "n"),
        (lambda: dt.ModeTree.balanced(2**40), "n"),
        (lambda: dt.ModeTree.chain(10**8), "n"),
        (lambda: dt.ModeTree.grid((2**15, 2**15)), "shape"),
        (lambda: dt.ModeTree.dilated(2**30, [1] * 30), "n"),
    ):
        with pytest.raises(ValueError, match=rf"^{name}: this needs about .* above the limit"):
            call()
        assert peak(call) < 1_000_000
    with pytest.raises(TypeError, match="n: expected an integer >= 1, got True"):
        dt.ModeTree.flat(True)
    with pytest.raises(TypeError, match="v: expected an integer"):
        dt.ModeTree.flat(3).children(1.0)  # type: ignore[arg-type]
