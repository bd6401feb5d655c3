"""The forward computation of a mixed decomposition: one plan, two algebras.

The plan lists the ops of both trees children-first: ``("leaf", t, i)``
(``u^t_i = A^t_i^T x_i``), ``("pool", t, v)`` (``p^t_v``, the product of the
children's ``u``) and ``("lin", t, v)`` (``u^t_v = W^t_v^T p^t_v``; at a
mixture node ``W^t_v^T [p^a_v ; p^b_v]``, reading both trees' pools).  It runs
on feature batches (:func:`evaluate`: vectors per example) and on dense tensors
(:func:`dense_values`: ``(M,)*|S| + (channels,)`` arrays, modes sorted), with
values freed as soon as their last reader has run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ..tensors import MAX_PARAMS
from ..trees import ModeTree
from ..validation import check_array, check_size

if TYPE_CHECKING:
    from .tensor import MixedTensor

__all__ = ["dense_size", "dense_values", "evaluate", "node_sets", "plan", "targets"]

Op = tuple[str, int, int]  # ("leaf" | "pool" | "lin", tree 0/1, node)
Fn = Callable[..., Any]


def node_sets(tree: ModeTree) -> dict[frozenset[int], int]:
    """Leaf set -> the topmost internal node with that set (children precede parents)."""
    return {frozenset(tree.leaves(v)): v for v in tree.internal_nodes}


def plan(mt: MixedTensor, top: frozenset[int] | None = None) -> list[Op]:
    """The forward computation as ops children-first (``("leaf"|"pool"|"lin", tree, node)``).

    With ``top`` (a set that is a node or position of both trees) only the
    ops below it, ending with both trees' ``u`` at ``top``.
    """
    target = targets(mt, top)

    order: list[Op] = []
    seen: set[Op] = set()
    for root in target:
        stack: list[tuple[Op, bool]] = [(root, False)]
        while stack:
            op, done = stack.pop()
            if done:
                order.append(op)
                continue
            if op in seen:
                continue
            seen.add(op)
            stack.append((op, True))
            stack.extend((d, False) for d in reversed(deps(mt, op)) if d not in seen)
    return order


def deps(mt: MixedTensor, op: Op) -> list[Op]:
    """The ops whose values ``op`` reads (a mixture node's ``lin`` reads both pools)."""
    kind, t, v = op
    tree = mt.trees[t]
    if kind == "leaf":
        return []
    if kind == "pool":
        return [("leaf", t, c) if tree.is_leaf(c) else ("lin", t, c) for c in tree.children(v)]
    other = [("pool", 1 - t, mt.partner[t][v])] if v in mt.partner[t] else []
    return [("pool", t, v), *other]


def targets(mt: MixedTensor, top: frozenset[int] | None) -> tuple[Op, Op]:
    """The ops computing both trees' ``u`` at ``top`` (the roots when None)."""
    if top is None:
        return ("lin", 0, mt.trees[0].root), ("lin", 1, mt.trees[1].root)
    if len(top) == 1:
        i = next(iter(top))
        return ("leaf", 0, i), ("leaf", 1, i)
    va, vb = mt.sets[0][top], mt.sets[1][top]
    return ("lin", 0, va), ("lin", 1, vb)


def run(mt: MixedTensor, ops: list[Op], leaf: Fn, prod: Fn, lin: Fn, cat: Fn) -> dict[Op, Any]:
    """Execute ``plan`` with the given algebra; the values of the last op per tree stay."""
    uses: dict[Op, int] = {}
    deps_of: dict[Op, list[Op]] = {}
    for op in ops:
        needs = deps(mt, op)
        deps_of[op] = needs
        for x in needs:
            uses[x] = uses.get(x, 0) + 1
    vals: dict[Op, Any] = {}
    for op in ops:
        kind, t, v = op
        if kind == "leaf":
            vals[op] = leaf(t, v)
        elif kind == "pool":
            vals[op] = prod([vals[d] for d in deps_of[op]])
        else:
            pooled = [vals[d] for d in deps_of[op]]
            if len(pooled) == 2 and t == 1:  # a mixture node: the a-channels first
                pooled.reverse()
            x = pooled[0] if len(pooled) == 1 else cat(pooled[0], pooled[1])
            vals[op] = lin(x, mt.node_weights[t][v])
        for d in deps_of[op]:
            uses[d] -= 1
            if uses[d] == 0:
                del vals[d]
    return vals


def evaluate(mt: MixedTensor, features: Any) -> NDArray[np.float64]:
    """``<A, f(x_1) (x) ... (x) f(x_N)>`` on a batch, along both trees (A never formed).

    Parameters
    ----------
    features : ndarray or torch tensor, shape (batch, N, M) or (N, M)

    Returns
    -------
    ndarray, shape (batch, out_dim) or (out_dim,)
    """
    arr = check_array(features, "features", ndim=(2, 3))
    raw = np.asarray(arr if isinstance(arr, np.ndarray) else arr.detach().cpu().numpy())
    single = raw.ndim == 2
    f = raw.reshape((1, *raw.shape) if single else raw.shape).astype(np.float64)
    if f.shape[1:] != (mt.num_leaves, mt.in_dim):
        raise ValueError(
            f"features: expected shape (batch, {mt.num_leaves}, {mt.in_dim}), got {raw.shape}"
        )
    width = max([*mt.widths[0].values(), *mt.widths[1].values(), mt.in_dim])
    check_size(
        f.shape[0] * 2 * width * 4,
        "features",
        limit=MAX_PARAMS,
        what="the batch's intermediate values",
        fix="evaluate in smaller batches",
    )

    def prod(xs: list[NDArray[Any]]) -> NDArray[Any]:
        out = xs[0]
        for x in xs[1:]:
            out = out * x
        return out

    vals = run(
        mt,
        plan(mt),
        lambda t, i: f[:, i, :] @ mt.leaf_weights[t][i],
        prod,
        lambda x, w: x @ w,
        lambda x, y: np.concatenate([x, y], axis=1),
    )
    out = vals[("lin", 0, mt.trees[0].root)] + vals[("lin", 1, mt.trees[1].root)]
    return np.asarray(out[0] if single else out, dtype=np.float64)


# ------------------------------------------------------------------ dense
def dense_size(mt: MixedTensor, top: frozenset[int] | None = None) -> int:
    """Largest number of entries a dense intermediate below ``top`` (all by default) holds."""
    m, biggest = mt.in_dim, 0
    for _, t, v in plan(mt, top):
        n = mt.trees[t].num_leaves_under(v)
        rows = mt.node_weights[t][v].shape if v >= mt.num_leaves else (1, 1)
        biggest = max(biggest, m**n * max(rows[0], rows[1], m))
    return biggest


def dense_values(
    mt: MixedTensor, top: frozenset[int] | None = None, *, exact: bool = False
) -> tuple[NDArray[Any], NDArray[Any]]:
    """Both trees' dense ``u`` at ``top`` (the roots by default), modes in sorted order.

    Shapes ``(M,)*|top| + (channels,)``; Python integers (object arrays)
    with ``exact=True``.  Sizes are the caller's to check (:func:`dense_size`).
    """
    dtype: Any = object if exact else np.float64
    m = mt.in_dim

    def prod(xs: list[tuple[tuple[int, ...], NDArray[Any]]]) -> tuple[tuple[int, ...], Any]:
        pos, arr = xs[0]
        for q, b in xs[1:]:
            r = arr.shape[-1]
            arr = (arr.reshape(-1, 1, r) * b.reshape(1, -1, r)).reshape(
                (m,) * (len(pos) + len(q)) + (r,)
            )
            pos = pos + q
        perm = sorted(range(len(pos)), key=lambda j: pos[j])
        return tuple(sorted(pos)), arr.transpose([*perm, len(pos)])

    def lin(x: tuple[tuple[int, ...], Any], w: NDArray[Any]) -> tuple[tuple[int, ...], Any]:
        pos, arr = x
        out = arr.reshape(-1, arr.shape[-1]) @ w.astype(dtype)
        return pos, out.reshape(arr.shape[:-1] + (w.shape[1],))

    def cat(x: Any, y: Any) -> Any:
        return x[0], np.concatenate([x[1], y[1]], axis=-1)

    vals = run(
        mt,
        plan(mt, top),
        lambda t, i: ((i,), mt.leaf_weights[t][i].astype(dtype)),
        prod,
        lin,
        cat,
    )
    ta, tb = targets(mt, top)
    return vals[ta][1], vals[tb][1]
