"""Mode trees: the pooling geometry shared by networks, decompositions and analyses.

A :class:`ModeTree` is a rooted tree whose leaves are the input positions
``0 .. N-1`` and whose internal nodes are pooling windows.  It is the one
object that a ConvAC, its coefficient tensor (a hierarchical decomposition) and
every separation-rank analysis have in common (Cohen, Sharir & Shashua,
COLT'16; Cohen & Shashua, ICLR'17; Cohen, Tamari & Shashua, ICLR'18).

Node numbering
--------------
Leaves are nodes ``0 .. N-1`` (node ``i`` *is* position ``i``).  Internal
nodes are numbered ``N, N+1, ...`` so that every child has a smaller id than
its parent (a topological order) and the root is the last node.  2D positions are flattened
row-major.

Storage
-------
Every operation is iterative (no recursion, so a chain of 10^5 positions --
the tensor-train / recurrent case -- can be built, compared, hashed and
drawn), and the leaf sets are stored once: the leaves in depth-first order,
and per node the range ``[start, stop)`` of that order under it, so memory is
linear in the number of nodes.  Trees above :data:`MAX_TREE_NODES` nodes are
refused before anything is allocated.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence, Sized
from typing import Any, Literal

import numpy as np

from ._geometry import dilated_levels, mirror_levels, mirror_order, square_levels
from .validation import check_choice, check_int, check_ints, check_size

__all__ = ["GRID_GEOMETRIES", "MAX_TREE_NODES", "ModeTree", "Ranks", "mirror_order"]

#: Largest tree (nodes, leaves included) a constructor builds: ~2^22 nodes take ~0.5 GB.
MAX_TREE_NODES = 2**22
#: Pooling geometries of :meth:`ModeTree.grid`.
GRID_GEOMETRIES: tuple[str, ...] = ("square", "mirror", "mirror-square")

#: Widths of the internal nodes: one int for all, one int per level
#: (level 0 pools leaves), or a mapping internal node -> width.
Ranks = int | Sequence[int] | Mapping[int, int]


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


class ModeTree:
    """A rooted tree over the input positions ``0 .. N-1``.

    Build one with a named constructor (:meth:`flat`, :meth:`balanced`,
    :meth:`chain`, :meth:`grid`, :meth:`dilated`) or from any nested list
    (:meth:`from_nested`).

    Parameters
    ----------
    children : sequence of sequences of int
        ``children[v]`` lists the children of node ``v``; leaves (the first
        ``num_leaves`` nodes) have none.  Use the constructors instead.
    num_leaves : int
        Number of input positions N.
    kind : str, optional
        A name for the geometry, shown in the ``repr``.
    shape : tuple of int, optional
        The 2D grid shape for grid trees (positions flattened row-major).

    Examples
    --------
    >>> tree = ModeTree.balanced(8)
    >>> tree.num_leaves, tree.depth
    (8, 3)
    >>> tree.leaves(tree.root)
    (0, 1, 2, 3, 4, 5, 6, 7)
    """

    def __init__(
        self,
        children: Sequence[Sequence[int]],
        num_leaves: int,
        kind: str = "custom",
        shape: tuple[int, ...] | None = None,
    ) -> None:
        n = check_int(num_leaves, "num_leaves", minimum=1)
        if isinstance(children, (str, bytes)) or not isinstance(children, Sequence):
            raise TypeError(f"children: expected a sequence of child lists, got {children!r}")
        check_size(len(children), "children", limit=MAX_TREE_NODES, what="tree nodes")
        kids_all: list[tuple[int, ...]] = []
        for v, kids in enumerate(children):
            if isinstance(kids, (str, bytes)) or not isinstance(kids, Sequence):
                raise TypeError(f"children: entry {v} is not a sequence of node ids: {kids!r}")
            t = tuple(kids)
            if not all(type(c) is int for c in t):  # fast path for the constructors' ints
                t = tuple(check_int(c, f"children[{v}]") for c in t)
            kids_all.append(t)
        self._children: tuple[tuple[int, ...], ...] = tuple(kids_all)
        self._n = n
        self.kind = kind
        self.shape = shape
        total = len(self._children)
        if total <= n:
            raise ValueError("children: a mode tree needs at least one internal node (the root)")
        par = [-1] * total
        hgt = [0] * total
        cnt = [1] * total
        for v in range(total):
            kids = self._children[v]
            if v < n:
                if kids:
                    raise ValueError(f"children: leaf {v} cannot have children")
                continue
            if not kids:
                raise ValueError(f"children: internal node {v} has no children")
            h, k = 0, 0
            for c in kids:
                if not (0 <= c < v):
                    raise ValueError(
                        f"children: node {v} lists child {c}; children must precede parents"
                    )
                if par[c] != -1:
                    raise ValueError(f"children: node {c} has two parents")
                par[c] = v
                if hgt[c] > h:
                    h = hgt[c]
                k += cnt[c]
            hgt[v], cnt[v] = h + 1, k
        parent = np.asarray(par, dtype=np.int64)
        height = np.asarray(hgt, dtype=np.int64)
        size = np.asarray(cnt, dtype=np.int64)
        roots = np.flatnonzero(parent == -1)
        if roots.size != 1 or roots[0] != total - 1:
            raise ValueError(
                f"children: expected a single root (the last node), found {roots[:5].tolist()}"
            )
        # leaves in depth-first order; node v spans order[start[v]:start[v] + size[v]]
        first = [0] * total
        for v in range(total - 1, n - 1, -1):
            offset = first[v]
            for c in self._children[v]:
                first[c] = offset
                offset += cnt[c]
        start = np.asarray(first, dtype=np.int64)
        order = np.empty(n, dtype=np.int64)
        order[start[:n]] = np.arange(n)
        self._parent = parent
        self._height = height
        self._start = start
        self._size = size
        self._order = order
        self._key: tuple[int, ...] | None = None

    # ------------------------------------------------------------------ basics
    @property
    def num_leaves(self) -> int:
        """Number of input positions N."""
        return self._n

    @property
    def num_nodes(self) -> int:
        """Number of nodes, leaves included."""
        return len(self._children)

    @property
    def root(self) -> int:
        """Id of the root (always the last node)."""
        return len(self._children) - 1

    @property
    def depth(self) -> int:
        """Number of pooling levels: the height of the root (a leaf has height 0)."""
        return int(self._height[-1])

    @property
    def nodes(self) -> range:
        """All node ids, children before parents."""
        return range(len(self._children))

    @property
    def internal_nodes(self) -> range:
        """Internal node ids, children before parents."""
        return range(self._n, len(self._children))

    def children(self, v: int) -> tuple[int, ...]:
        """Children of node ``v`` (empty for a leaf)."""
        return self._children[self._check_node(v)]

    def parent(self, v: int) -> int | None:
        """Parent of node ``v``, ``None`` for the root."""
        p = int(self._parent[self._check_node(v)])
        return None if p < 0 else p

    def leaves(self, v: int | None = None) -> tuple[int, ...]:
        """Sorted input positions under node ``v`` (the root by default)."""
        u = self.root if v is None else self._check_node(v)
        lo = int(self._start[u])
        return tuple(sorted(self._order[lo : lo + int(self._size[u])].tolist()))

    def num_leaves_under(self, v: int) -> int:
        """Number of input positions under node ``v`` (without listing them)."""
        return int(self._size[self._check_node(v)])

    def dfs_leaves(self) -> tuple[int, ...]:
        """The positions in depth-first order: every node's leaves are a contiguous run."""
        return tuple(self._order.tolist())

    def is_leaf(self, v: int) -> bool:
        """Whether node ``v`` is an input position."""
        return self._check_node(v) < self._n

    def height(self, v: int) -> int:
        """Length of the longest path from ``v`` down to a leaf."""
        return int(self._height[self._check_node(v)])

    def level(self, v: int) -> int:
        """Level of an internal node: ``height - 1``, so nodes pooling leaves are level 0.

        Per-level widths ``ranks=[r0, r1, ...]`` are indexed by this level, as
        the widths r_0 .. r_{L-1} of the hierarchical Tucker decomposition.
        """
        if self.is_leaf(v):
            raise ValueError(f"v: node {v} is a leaf and has no level")
        return int(self._height[v]) - 1

    def levels(self) -> list[list[int]]:
        """Internal nodes grouped by :meth:`level`."""
        out: list[list[int]] = [[] for _ in range(self.depth)]
        for v in self.internal_nodes:
            out[int(self._height[v]) - 1].append(v)
        return out

    def _check_node(self, v: int) -> int:
        return check_int(v, "v", minimum=0, maximum=len(self._children) - 1)

    # ------------------------------------------------------------ partitions
    def check_partition(self, I: Iterable[int], *, bipartition: bool = True) -> frozenset[int]:
        """Validate a set of leaf positions and return it as a frozenset.

        Parameters
        ----------
        I : iterable of int
            Input positions (2D positions flattened row-major).
        bipartition : bool
            Require ``I`` to be neither empty nor all positions, as a
            matricization needs.

        Raises
        ------
        ValueError
            Naming ``I`` when it holds positions outside ``0..N-1``, repeats a
            position, or (for a bipartition) is empty or full.
        TypeError
            When ``I`` is not an iterable of ints.
        """
        if isinstance(I, (str, bytes, Mapping)) or not isinstance(I, Iterable):
            raise TypeError(f"I: expected a collection of leaf positions, got {type(I).__name__}")
        if isinstance(I, Sized):
            check_size(len(I), "I", limit=self._n, what="positions (more than the tree has)")
        idx = [check_int(i, "I", fix="positions are integers") for i in I]
        bad = [i for i in idx if not (0 <= i < self._n)]
        if bad:
            raise ValueError(
                f"I: positions {bad[:5]} are outside 0..{self._n - 1} "
                f"(the tree has {self._n} leaves)"
            )
        s = frozenset(idx)
        if len(s) != len(idx):
            raise ValueError("I: a position is listed twice")
        if bipartition and (not s or len(s) == self._n):
            raise ValueError(
                "I: a bipartition needs a non-empty proper subset of the positions "
                f"(got {len(s)} of {self._n})"
            )
        return s

    # ----------------------------------------------------------------- widths
    def resolve_ranks(self, ranks: Ranks, *, name: str = "ranks") -> dict[int, int]:
        """Width of every internal node from an int, a per-level sequence or a mapping.

        Raises
        ------
        ValueError
            When a width is < 1, the sequence length differs from :attr:`depth`
            or the mapping misses an internal node.
        """
        out: dict[int, int] = {}
        if _is_int(ranks):
            out = {v: int(ranks) for v in self.internal_nodes}  # type: ignore[arg-type]
        elif isinstance(ranks, Mapping):
            missing = [v for v in self.internal_nodes if v not in ranks]
            if missing:
                raise ValueError(f"{name}: mapping misses internal nodes {missing[:5]}")
            extra = [v for v in ranks if v not in self.internal_nodes]
            if extra:
                raise ValueError(f"{name}: {extra[:5]} are not internal nodes of the tree")
            out = {v: ranks[v] for v in self.internal_nodes}
        elif isinstance(ranks, Sequence) and not isinstance(ranks, (str, bytes)):
            if len(ranks) != self.depth:
                raise ValueError(
                    f"{name}: got {len(ranks)} per-level widths, the tree has {self.depth} levels"
                )
            out = {v: ranks[self.level(v)] for v in self.internal_nodes}
        else:
            raise TypeError(
                f"{name}: expected an int, a per-level sequence or a mapping node -> width, "
                f"got {type(ranks).__name__}"
            )
        for v, r in out.items():
            out[v] = check_int(r, f"{name}: width of node {v}", minimum=1, fix="widths are >= 1")
        return out

    # ----------------------------------------------------------- constructors
    @classmethod
    def from_nested(cls, nested: Any, *, kind: str = "custom") -> ModeTree:
        """Tree from a nested list; integers are leaf positions.

        Every position ``0 .. N-1`` must appear exactly once.

        >>> ModeTree.from_nested([[0, 1], [2, 3]]).depth
        2
        """
        if _is_int(nested):
            nested = [nested]
        if not isinstance(nested, (list, tuple)):
            raise TypeError(f"nested: expected a nested list of ints, got {type(nested).__name__}")
        # one pass, no recursion: post-order over an explicit stack of (group, next child)
        children: list[tuple[int, ...]] = []
        leaf_ids: list[int] = []
        built: list[list[int]] = [[]]  # node ids of the children built so far, per open group
        stack: list[tuple[Any, int]] = [(nested, 0)]
        groups = 0
        while stack:
            group, k = stack.pop()
            if k == 0 and not group:
                raise ValueError("nested: empty group; every pooling window needs a child")
            if k < len(group):
                stack.append((group, k + 1))
                x = group[k]
                if _is_int(x):
                    leaf_ids.append(int(x))
                    built[-1].append(-1 - int(x))  # a leaf, encoded until N is known
                elif isinstance(x, (list, tuple)):
                    groups += 1
                    check_size(groups, "nested", limit=MAX_TREE_NODES, what="tree nodes")
                    built.append([])
                    stack.append((x, 0))
                else:
                    raise TypeError(f"nested: entries must be ints or lists, got {x!r}")
            else:
                children.append(tuple(built.pop()))
                if built:  # the root's frame is the last to close
                    built[-1].append(len(children) - 1)
        n = len(leaf_ids)
        if sorted(leaf_ids) != list(range(n)):
            counts = np.bincount(np.clip(leaf_ids, 0, None)) if leaf_ids else np.zeros(0)
            dup = np.flatnonzero(counts > 1)[:5].tolist()
            missing = sorted(set(range(n)) - set(leaf_ids))[:5]
            out = sorted({i for i in leaf_ids if not 0 <= i < n})[:5]
            raise ValueError(
                f"nested: leaves must be 0..{n - 1} each exactly once "
                f"(repeated: {dup}, missing: {missing}, out of range: {out})"
            )

        def node(c: int) -> int:  # leaf -1-i -> i; the j-th group -> N + j
            return -1 - c if c < 0 else n + c

        final = [() for _ in range(n)] + [tuple(node(c) for c in kids) for kids in children]
        return cls(final, n, kind=kind)

    @classmethod
    def _from_groups(
        cls, n: int, levels: list[list[list[int]]], kind: str, shape: tuple[int, ...] | None = None
    ) -> ModeTree:
        """Build from successive groupings: ``levels[k]`` groups the nodes of level k-1."""
        children: list[tuple[int, ...]] = [() for _ in range(n)]
        current = list(range(n))
        for groups in levels:
            nxt = []
            for g in groups:
                children.append(tuple(current[i] for i in g))
                nxt.append(len(children) - 1)
            current = nxt
        if len(current) != 1:
            raise AssertionError("grouping did not end in a single root")
        return cls(children, n, kind=kind, shape=shape)

    @staticmethod
    def _check_n(n: Any, name: str = "n", nodes_per_leaf: float = 2.0) -> int:
        """The number of positions, refused before any work when the tree would be too large."""
        out = check_int(n, name, minimum=1, fix="a tree needs at least one position")
        check_size(
            out * nodes_per_leaf,
            name,
            limit=MAX_TREE_NODES,
            what=f"a tree over {out} positions (nodes)",
            bytes_per_entry=128,
        )
        return out

    @classmethod
    def flat(cls, n: int) -> ModeTree:
        """One global pooling window: the CP decomposition / shallow ConvAC."""
        n = cls._check_n(n, nodes_per_leaf=1.0)
        return cls._from_groups(n, [[list(range(n))]], "flat")

    @classmethod
    def balanced(cls, n: int, arity: int = 2) -> ModeTree:
        """Contiguous windows of size ``arity`` at every level: the HT decomposition.

        ``n`` must be a power of ``arity`` (size-2 pooling over 2^L positions
        gives the deep network of Cohen et al., COLT'16).
        """
        arity = check_int(arity, "arity", minimum=2)
        n = cls._check_n(n, nodes_per_leaf=1.0 + 1.0 / (arity - 1))
        levels, m = [], n
        while m > 1:
            if m % arity:
                raise ValueError(
                    f"n: {n} is not a power of arity {arity}; use from_nested for uneven trees"
                )
            levels.append([list(range(j, j + arity)) for j in range(0, m, arity)])
            m //= arity
        if not levels:
            levels = [[[0]]]
        return cls._from_groups(n, levels, "balanced")

    @classmethod
    def chain(cls, n: int) -> ModeTree:
        """Left-deep chain ``(((0,1),2),3)...``: the tensor-train (recurrent) geometry."""
        n = cls._check_n(n)
        if n == 1:
            return cls._from_groups(1, [[[0]]], "chain")
        children: list[tuple[int, ...]] = [() for _ in range(n)]
        children.append((0, 1))
        for i in range(2, n):
            children.append((len(children) - 1, i))
        return cls(children, n, kind="chain")

    @classmethod
    def grid(
        cls,
        shape: tuple[int, int],
        window: tuple[int, int] = (2, 2),
        geometry: Literal["square", "mirror", "mirror-square"] = "square",
    ) -> ModeTree:
        """2D pooling over an ``H x W`` grid, positions flattened row-major.

        ``geometry="square"`` pools contiguous ``h x w`` windows at every level
        (windows shrink to the remaining grid side at the top).

        ``geometry="mirror"`` is the mirror pooling of Cohen & Shashua (ICLR'17,
        Sec. 6), as in the authors' code: before every pooling the ``n x m`` map
        is permuted, ``out[h, w] = in[s_n(h), s_m(w)]`` with ``s_n(2k) = k`` and
        ``s_n(2k + 1) = n - 1 - k``, then pooled by an ordinary 2x2 stride-2
        window.  A level-1 window joins rows ``{k, H-1-k}`` x columns
        ``{l, W-1-l}`` (a pixel and its mirror images); level 2 joins pixel rows
        ``{k, H/2-1-k, H/2+k, H-1-k}``, and so on.  It needs ``window=(2, 2)``
        and sides that are powers of 2 (a side of 1 is left alone).

        ``geometry="mirror-square"`` pools each position with its mirror images
        ``(i, j), (i, W-1-j), (H-1-i, j), (H-1-i, W-1-j)`` once, then pools the
        resulting quadrant grid with square ``window`` s: mirror pooling at the
        first level only (it needs even sides, or a side of 1).

        Raises
        ------
        ValueError
            When a side is not divisible by the window at some level.
        """
        if not (isinstance(shape, (tuple, list)) and len(shape) == 2 and all(map(_is_int, shape))):
            raise TypeError(f"shape: expected (H, W) ints, got {shape!r}")
        if not (
            isinstance(window, (tuple, list)) and len(window) == 2 and all(map(_is_int, window))
        ):
            raise TypeError(f"window: expected (h, w) ints, got {window!r}")
        H, W = int(shape[0]), int(shape[1])
        h, w = int(window[0]), int(window[1])
        if H < 1 or W < 1:
            raise ValueError(f"shape: sides must be >= 1, got {shape!r}")
        check_size(2 * H * W, "shape", limit=MAX_TREE_NODES, what=f"a {H}x{W} grid tree (nodes)")
        if h < 1 or w < 1 or h * w < 2:
            raise ValueError(f"window: needs sides >= 1 and at least 2 positions, got {window!r}")
        check_choice(geometry, "geometry", GRID_GEOMETRIES)
        if geometry == "mirror":
            levels = mirror_levels(H, W, (h, w))
        else:
            levels = square_levels(H, W, (h, w), first_mirror=geometry == "mirror-square")
        return cls._from_groups(H * W, levels, f"grid-{geometry}", shape=(H, W))

    @classmethod
    def dilated(cls, n: int, dilations: Sequence[int], kernel: int = 2) -> ModeTree:
        """The mode tree of a 1D dilated convolutional network (Cohen, Tamari & Shashua, ICLR'18).

        Layer ``l`` applies a size-``kernel`` convolution with dilation
        ``dilations[l]``; seen from one output, it pools each node (a set of
        positions ``S``) with the nodes ``S + d, ..., S + (kernel-1) d``.
        ``dilations=(1, 2, 4, ...)`` gives the contiguous balanced tree; the
        reversed scheme ``(..., 4, 2, 1)`` pools interleaved positions.

        Raises
        ------
        ValueError
            When the scheme does not tile the ``n`` positions into one tree.
        """
        n = cls._check_n(n)
        kernel = check_int(kernel, "kernel", minimum=2)
        ds = list(check_ints(dilations, "dilations", minimum=1))
        if not ds:
            raise ValueError("dilations: expected a non-empty sequence of ints >= 1, got []")
        if len(ds) > 64 or kernel ** len(ds) != n:
            raise ValueError(
                f"dilations: the scheme {ds[:8]} with kernel {kernel} pools {kernel}**{len(ds)} "
                f"positions, not n = {n}; it needs kernel**len(dilations) == n"
            )
        levels = dilated_levels(n, ds, kernel)
        return cls._from_groups(n, levels, "dilated")

    # ---------------------------------------------------------------- display
    def to_nested(self, v: int | None = None) -> Any:
        """Nested-list form (inverse of :meth:`from_nested`), built without recursion."""
        top = self.root if v is None else self._check_node(v)
        if top < self._n:
            return top
        made: dict[int, list[Any]] = {}
        stack = [(top, False)]
        while stack:
            u, done = stack.pop()
            if done:
                made[u] = [c if c < self._n else made.pop(c) for c in self._children[u]]
                continue
            stack.append((u, True))
            stack.extend((c, False) for c in self._children[u] if c >= self._n)
        return made[top]

    def __repr__(self) -> str:
        extra = f", shape={self.shape}" if self.shape else ""
        return f"ModeTree({self.kind}, num_leaves={self._n}, depth={self.depth}{extra})"

    def _canonical(self) -> tuple[int, ...]:
        """The windows as a flat token sequence (leaf ids, -1 opens a node, -2 closes it).

        Independent of the node numbering; computed once, iteratively.
        """
        if self._key is None:
            tokens: list[int] = []
            stack: list[int] = [self.root]
            while stack:
                u = stack.pop()
                if u == -2:
                    tokens.append(-2)
                elif u < self._n:
                    tokens.append(u)
                else:
                    tokens.append(-1)
                    stack.append(-2)
                    stack.extend(reversed(self._children[u]))
            self._key = tuple(tokens)
        return self._key

    def __eq__(self, other: object) -> bool:
        """Structural equality: the same windows, whatever the node numbering."""
        return isinstance(other, ModeTree) and self._canonical() == other._canonical()

    def __hash__(self) -> int:
        return hash(self._canonical())

    def draw(self, max_lines: int = 40) -> str:
        """A text drawing of the tree, one node per line (truncated after ``max_lines``)."""

        def span(v: int) -> str:
            lv = self.leaves(v)
            if len(lv) == 1:
                return str(lv[0])
            if lv == tuple(range(lv[0], lv[-1] + 1)):
                return f"{lv[0]}..{lv[-1]}"
            shown = ",".join(map(str, lv[:6]))
            return shown + (",…" if len(lv) > 6 else "")

        lines = [repr(self)]
        stack: list[tuple[int, str, bool]] = [(self.root, "", True)]
        while stack and len(lines) <= max_lines:
            v, prefix, last = stack.pop()
            branch = "└── " if last else "├── "
            label = f"leaf {v}" if v < self._n else f"node {v} [{span(v)}]"
            lines.append(prefix + branch + label)
            kids = self._children[v]
            child_prefix = prefix + ("    " if last else "│   ")
            for k, c in reversed(list(enumerate(kids))):
                stack.append((c, child_prefix, k == len(kids) - 1))
        if stack:
            lines.append(f"… ({self.num_nodes} nodes in all)")
        return "\n".join(lines)
