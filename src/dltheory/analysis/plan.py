"""The plan of the Schmidt-spectrum recursion: each node's side, its groups, their routes and sizes.

Everything here reads shapes only, so an infeasible request is refused before
any arithmetic (:func:`core_plan`) and the recursion (:mod:`.cores`) takes the
same route decisions (:func:`gram_worthy`) as its plan.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from ..tensors import TreeTensor

__all__ = [
    "GRAM_MIN_WIDTH",
    "I_SIDE",
    "J_SIDE",
    "MIXED",
    "Links",
    "compressed",
    "core_plan",
    "gram_worthy",
    "grouped",
    "links",
    "node_sides",
]

#: Narrowest group width for which the Gram route is tried (below it the
#: orthogonal route costs next to nothing and is kept for its simplicity).
GRAM_MIN_WIDTH = 16

I_SIDE, J_SIDE, MIXED = 0, 1, 2

T = TypeVar("T")


@dataclass(frozen=True)
class Links:
    children: dict[int, tuple[int, ...]]  # internal node -> children
    out: list[int]  # width of each node's output (its parent's width; out_dim at the root)


def links(tt: TreeTensor) -> Links:
    """The tree's links, read once (each ``ModeTree.children`` call validates its argument)."""
    tree = tt.tree
    children = {v: tree.children(v) for v in tree.internal_nodes}
    out = [tt.out_dim] * tree.num_nodes
    for v, kids in children.items():
        for c in kids:
            out[c] = tt.widths[v]
    return Links(children, out)


def node_sides(tt: TreeTensor, part: frozenset[int], tree_links: Links | None = None) -> list[int]:
    """``I_SIDE`` / ``J_SIDE`` for nodes whose subtree lies on one side, else ``MIXED``."""
    tree = tt.tree
    children = (tree_links or links(tt)).children
    sides = [I_SIDE if i in part else J_SIDE for i in range(tree.num_leaves)]
    for v in tree.internal_nodes:
        kids = {sides[c] for c in children[v]}
        sides.append(kids.pop() if len(kids) == 1 else MIXED)
    return sides


def gram_worthy(ranks: list[int], width: int, least: int = GRAM_MIN_WIDTH) -> bool:
    """Whether a same-side group of children of these ranks takes the Gram route.

    It does when it has several children, is at least ``least`` wide, and
    the Khatri-Rao product of its children would be taller than ``2 * width``
    (below that the orthogonal route costs no more).
    """
    return len(ranks) > 1 and width >= least and math.prod(ranks) > 2 * width


def compressed(a: int, b: int, r: int) -> tuple[int, int]:
    a = min(a, b * r)
    b = min(b, a * r)
    return a, b


def core_plan(
    tt: TreeTensor,
    I: frozenset[int],
    *,
    gram: bool = True,
    gram_min_width: int | None = None,
    tree_links: Links | None = None,
) -> tuple[int, int, int]:
    """Dimensions the recursion will need: ``(k_I, k_J, largest intermediate)``.

    Computed from the shapes alone, before any arithmetic, so that an
    infeasible request fails at once.  Groups on the Gram route count their
    ``r x r`` Gram; should one fall back to the orthogonal route at run time,
    :func:`float_core` checks that route's size before allocating it.
    ``gram=False`` plans the orthogonal route everywhere (as the modular
    recursion, which has no Gram route, needs).
    """
    least = GRAM_MIN_WIDTH if gram_min_width is None else gram_min_width
    ln = tree_links or links(tt)

    def worthy(ranks: list[int], width: int) -> bool:
        return gram and gram_worthy(ranks, width, least)

    tree = tt.tree
    sides = node_sides(tt, I, ln)
    dims: dict[int, tuple[int, int]] = {}
    biggest = 0

    def pair(x: tuple[int, int], y: tuple[int, int], r: int) -> tuple[int, int]:
        nonlocal biggest
        a, b = x[0] * y[0], x[1] * y[1]
        biggest = max(biggest, a * b * r)
        return compressed(a, b, r)

    def group(items: list[tuple[int, int]], side: int, r: int) -> tuple[int, int]:
        nonlocal biggest
        if worthy([d[side] for d in items], r):
            biggest = max(biggest, r * r)
            return (r, 1) if side == I_SIDE else (1, r)
        return functools.reduce(lambda x, y: pair(x, y, r), items)

    for i in range(tree.num_leaves):
        a, b = (tt.in_dim, 1) if sides[i] == I_SIDE else (1, tt.in_dim)
        dims[i] = compressed(a, b, ln.out[i])
    for v in tree.internal_nodes:
        r, out = tt.widths[v], ln.out[v]
        kids = [(dims.pop(c), sides[c]) for c in ln.children[v]]
        if sides[v] != MIXED and worthy([d[sides[v]] for d, _ in kids], r):
            biggest = max(biggest, r * r, r * out)
            dims[v] = compressed(*((r, 1) if sides[v] == I_SIDE else (1, r)), out)
            continue
        parts = [items[0] if s == MIXED else group(items, s, r) for items, s in grouped(kids)]
        a, b = functools.reduce(functools.partial(pair, r=r), parts[:-1]) if parts[1:] else (1, 1)
        a, b = a * parts[-1][0], b * parts[-1][1]
        biggest = max(biggest, a * b * out)
        dims[v] = compressed(a, b, out)
    ka, kb = dims[tree.root]
    return ka, kb, biggest


def grouped(kids: list[tuple[T, int]]) -> list[tuple[list[T], int]]:
    """The I-side children together, then each mixed one alone, then the J-side children together.

    The product over children is commutative (reordering Kronecker factors
    only permutes rows and columns); a product of same-side children stays at
    most ``r`` wide on its side, mixing sides early would let both grow.
    """
    pure_i = [x for x, s in kids if s == I_SIDE]
    pure_j = [x for x, s in kids if s == J_SIDE]
    out = [(pure_i, I_SIDE)] if pure_i else []
    out.extend(([x], MIXED) for x, s in kids if s == MIXED)
    if pure_j:
        out.append((pure_j, J_SIDE))
    return out
