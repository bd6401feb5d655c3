"""Which pooling geometry suits a target: candidate trees ranked by the parameters they need.

For one target tensor (a coefficient tensor, or the grid tensor of a trained network or of
a function sampled on templates) and several mode trees -- square or mirror pooling,
a chain, any nested list -- :func:`compare_trees` runs the tolerance-truncated
hierarchical SVD (:func:`~dltheory.design.htsvd.hierarchical_svd`) on each and ranks the
trees by the parameters of the approximation: in the hierarchical Tucker format and in the
ConvAC form that computes it exactly.  A geometry whose windows join the positions the
target entangles needs small ranks; one that separates them needs ranks up to ``M^(N/2)``
(Cohen & Shashua, ICLR'17: pooling geometry controls which correlations are cheap).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..tensors import TreeTensor
from ..trees import ModeTree
from ..validation import check_choice, check_int, describe
from .htsvd import (
    DEFAULT_MAX_HTSVD_ENTRIES,
    _as_tree,
    _check_tol,
    _dense_target,
    hierarchical_svd,
)
from .widths import parameter_count

__all__ = ["COMPARE_BY", "TreeCost", "compare_trees"]

#: Orders of :func:`compare_trees`: by the HT format's parameters or the exact ConvAC form's.
COMPARE_BY: tuple[str, ...] = ("ht", "convac")


@dataclass(frozen=True, eq=False)
class TreeCost:
    """What one tree needs to reach the tolerance on the target.

    Attributes
    ----------
    name : str
        The tree's name (its key, or ``"<index>:<kind>"`` for a sequence).
    tree : ModeTree
    ranks : dict node -> int
        HT ranks of the truncated hierarchical SVD (leaves included, the root 1).
    widths : dict internal node -> int
        Lower bounds on a ConvAC's widths (:attr:`HTResult.needed_widths`).
    ht_params : int
        Parameters of the HT format (:attr:`HTResult.num_params`).
    convac_params : int
        Parameters of the exact ConvAC form (:attr:`HTResult.convac_params`): a ConvAC
        with them exists.  Nodes of arity ``m`` pay widths up to ``k^(m-1)`` there.
    convac_lower_bound : int
        Parameters of a ConvAC at the widths ``widths``: every ConvAC over the tree that
        computes the approximation exactly has at least as many.  Tight on binary trees
        in the examples; loose at nodes of arity > 2, whose widths also bound the ranks of
        unions of children (the flat tree's bound ignores its CP rank), so no ranking uses
        it.
    error_bound : float
        The bound on the relative error (``<= tol`` unless ``max_rank`` binds).
    error : float
        The relative error achieved, ``||A - A_H|| / ||A||`` (0 for the zero tensor).
    """

    name: str
    tree: ModeTree
    ranks: dict[int, int]
    widths: dict[int, int]
    ht_params: int
    convac_params: int
    convac_lower_bound: int
    error_bound: float
    error: float


def _convac_count(tree: ModeTree, in_dim: int, widths: Mapping[int, int]) -> int:
    """Parameters of a ConvAC (TreeTensor) over ``tree`` with these widths and one output."""
    return parameter_count(tree, widths, in_dim=in_dim)


def _named_trees(trees: Any) -> list[tuple[str, ModeTree]]:
    if isinstance(trees, Mapping):
        items = list(trees.items())
        for key, _ in items:
            if not isinstance(key, str):
                raise TypeError(f"trees: names must be strings, got the key {describe(key)}")
    elif isinstance(trees, Sequence) and not isinstance(trees, (str, bytes)):
        items = list(enumerate(trees))
    else:
        raise TypeError(
            "trees: expected a mapping name -> tree or a sequence of trees (ModeTree or "
            f"nested list), got {describe(trees)}; wrap a single tree in a list"
        )
    if not items:
        raise ValueError("trees: expected at least one tree, got none")
    out = []
    for key, item in items:
        if not isinstance(item, (ModeTree, list, tuple)):
            raise TypeError(
                f"trees[{key!r}]: expected a ModeTree or a nested list, got {describe(item)}"
            )
        tree = _as_tree(item, f"trees[{key!r}]")
        out.append((key if isinstance(key, str) else f"{key}:{tree.kind}", tree))
    return out


def compare_trees(
    target: Any,
    trees: Mapping[str, ModeTree | Sequence[Any]] | Sequence[ModeTree | Sequence[Any]],
    tol: float | None = None,
    *,
    max_rank: int | None = None,
    by: Literal["ht", "convac"] = "ht",
    max_entries: int = DEFAULT_MAX_HTSVD_ENTRIES,
) -> list[TreeCost]:
    """Rank candidate pooling geometries by the parameters they need to reach ``tol``.

    Parameters
    ----------
    target : ndarray, torch.Tensor or TreeTensor
        The tensor of shape ``(M,)*N`` (see :func:`~dltheory.design.htsvd.hierarchical_svd`).
    trees : mapping name -> tree, or sequence of trees
        Candidate trees (:class:`~dltheory.trees.ModeTree` or nested lists), each with
        ``N`` leaves.
    tol : float, optional
        Relative Frobenius error in ``(0, 1)`` every tree must reach (guaranteed by the
        hierarchical SVD's bound); ``None``: exact, at the numerical ranks.
    max_rank : int, optional
        A cap on every rank (the guarantee is lost where it binds).
    by : {"ht", "convac"}
        Sort by the HT format's parameters (ties: the ConvAC form's), or by the exact
        ConvAC form's (ties: the HT format's).
    max_entries : int
        Refuse larger targets.

    Returns
    -------
    list of TreeCost
        Cheapest first; ties keep the order given.

    Raises
    ------
    TypeError, ValueError
        For a bad argument (named); ``trees`` naming a tree whose number of leaves is not
        the target's order.
    """
    named = _named_trees(trees)
    check_choice(by, "by", COMPARE_BY)
    limit = check_int(max_entries, "max_entries", minimum=1)
    if tol is not None:  # checked before any work (hierarchical_svd checks it again)
        _check_tol(tol)
    if max_rank is not None:
        check_int(max_rank, "max_rank", minimum=1)
    n = named[0][1].num_leaves
    if isinstance(target, TreeTensor):
        n = target.num_leaves
    elif hasattr(target, "shape") and hasattr(target, "ndim"):
        n = int(target.ndim)
    for name, tree in named:
        if tree.num_leaves != n:
            raise ValueError(
                f"trees: {name!r} has {tree.num_leaves} leaves, but the target has order {n}; "
                "every tree needs one leaf per axis of the target"
            )
    dense = _dense_target(target, named[0][1], limit)  # validated and expanded once
    norm = float(np.linalg.norm(dense))
    costs = []
    for name, tree in named:
        res = hierarchical_svd(dense, tree, tol=tol, max_rank=max_rank, max_entries=limit)
        err = float(np.linalg.norm(dense - res.to_dense()))
        costs.append(
            TreeCost(
                name=name,
                tree=tree,
                ranks=res.ranks,
                widths=res.needed_widths,
                ht_params=res.num_params,
                convac_params=res.convac_params,
                convac_lower_bound=_convac_count(tree, res.in_dim, res.needed_widths),
                error_bound=res.relative_error_bound,
                error=err / norm if norm > 0 else 0.0,
            )
        )
    if by == "ht":
        return sorted(costs, key=lambda c: (c.ht_params, c.convac_params))
    return sorted(costs, key=lambda c: (c.convac_params, c.ht_params))
