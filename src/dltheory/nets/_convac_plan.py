"""The structure of a ConvAC over a mode tree: its convolutions and how each level pools.

Nodes sharing a level and a parent level form one group (one 1x1
convolution).  Within a group, nodes are stored in depth-first order, so that
for uniform trees (grids, balanced, dilated) the children of each pooling
window are a contiguous block of the level below and pooling is a reshape;
other trees fall back to a padded gather.  Linear in the number of nodes; no
weights are involved (:class:`~dltheory.nets.convac.ConvAC` draws them per group).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..trees import ModeTree

__all__ = ["ConvACPlan", "plan_groups"]


@dataclass(frozen=True)
class _Group:
    """Nodes (or leaves) sharing a level and an output width: one 1x1 convolution."""

    nodes: tuple[int, ...]
    in_width: int
    out_width: int
    target_level: int  # level of the parents (-1: the output)


@dataclass(frozen=True)
class _Level:
    """How one tree level pools: which groups feed it, which convolve its output."""

    feeders: list[int]
    members: list[int]
    arity: int
    index: torch.Tensor | None  # padded child slots; None when windows are contiguous blocks
    counts: torch.Tensor


@dataclass(frozen=True)
class ConvACPlan:
    """The groups (one 1x1 convolution each) and the pooling plan of every level."""

    groups: list[_Group]
    root_group: int
    leaf_groups: list[int]
    leaf_perm: torch.Tensor | None  # leaves in group order, or None when that is 0 .. N-1
    levels: list[_Level]


def _dfs_rank(tree: ModeTree) -> dict[int, int]:
    """Rank of every node in a depth-first traversal (children in their stored order)."""
    rank: dict[int, int] = {}
    stack = [tree.root]
    while stack:
        v = stack.pop()
        rank[v] = len(rank)
        stack.extend(reversed(tree.children(v)))
    return rank


def plan_groups(
    tree: ModeTree, widths: dict[int, int], num_features: int, out_dim: int
) -> ConvACPlan:
    """The convolutions of a ConvAC with these node widths, and each level's pooling."""
    n = tree.num_leaves

    def out_width(v: int) -> tuple[int, int]:
        p = tree.parent(v)
        if p is None:
            return out_dim, -1
        return widths[p], tree.level(p)

    rank = _dfs_rank(tree)
    buckets: dict[tuple[int, int], list[int]] = {}
    for v in tree.nodes:
        lvl = -1 if tree.is_leaf(v) else tree.level(v)
        buckets.setdefault((lvl, out_width(v)[1]), []).append(v)
    groups: list[_Group] = []
    for (lvl, target), members in sorted(buckets.items()):
        nodes = tuple(sorted(members, key=rank.__getitem__))
        in_w = num_features if lvl < 0 else widths[nodes[0]]
        groups.append(_Group(nodes, in_w, out_width(nodes[0])[0], target))
    root_group = next(gi for gi, grp in enumerate(groups) if grp.nodes == (tree.root,))
    leaf_groups = [gi for gi, grp in enumerate(groups) if grp.nodes[0] < n]
    order = [v for gi in leaf_groups for v in groups[gi].nodes]
    leaf_perm = None if order == list(range(n)) else torch.tensor(order)
    feeding: dict[int, list[int]] = {}
    member_of: dict[int, list[int]] = {}
    for gi, grp in enumerate(groups):
        feeding.setdefault(grp.target_level, []).append(gi)
        if grp.nodes[0] >= n:
            member_of.setdefault(tree.level(grp.nodes[0]), []).append(gi)
    levels: list[_Level] = []
    for lvl in range(tree.depth):
        feeders = feeding.get(lvl, [])
        members = member_of.get(lvl, [])
        level_nodes = [v for gi in members for v in groups[gi].nodes]
        slot = {v: k for k, v in enumerate(u for gi in feeders for u in groups[gi].nodes)}
        arity = max(len(tree.children(v)) for v in level_nodes)
        contiguous = all(
            sorted(slot[c] for c in tree.children(v)) == list(range(j * arity, (j + 1) * arity))
            for j, v in enumerate(level_nodes)
        )
        index = None
        if not contiguous:
            index = torch.full((len(level_nodes), arity), len(slot), dtype=torch.long)
            for j, v in enumerate(level_nodes):  # unused entries point at the neutral pad
                for k, c in enumerate(tree.children(v)):
                    index[j, k] = slot[c]
        counts = torch.tensor([float(len(tree.children(v))) for v in level_nodes])
        levels.append(_Level(feeders, members, arity, index, counts))
    return ConvACPlan(groups, root_group, leaf_groups, leaf_perm, levels)
