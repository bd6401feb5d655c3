"""Designing networks from the exact analysis (Levine, Yakira, Cohen & Shashua, ICLR'18).

Widths from the partitions a task needs (:mod:`.widths`), widths from data by the
hierarchical SVD of a target tensor (:mod:`.htsvd`), and the ranking of candidate
pooling geometries by the parameters each needs (:mod:`.compare`).
"""

from __future__ import annotations

from .compare import COMPARE_BY, TreeCost, compare_trees
from .htsvd import DEFAULT_MAX_HTSVD_ENTRIES, HTResult, hierarchical_svd, required_widths
from .widths import (
    Design,
    PartitionCut,
    cheapest_widths,
    design_widths,
    parameter_count,
    tree_min_cut,
)

__all__ = [
    "COMPARE_BY",
    "DEFAULT_MAX_HTSVD_ENTRIES",
    "Design",
    "HTResult",
    "PartitionCut",
    "TreeCost",
    "cheapest_widths",
    "compare_trees",
    "design_widths",
    "hierarchical_svd",
    "parameter_count",
    "required_widths",
    "tree_min_cut",
]
