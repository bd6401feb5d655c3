"""Exact expressiveness analysis: matricizations, Schmidt spectra, ranks, measures, min cuts."""

from .grid import grid_tensor
from .matricize import dense_schmidt_values, matricize
from .measures import entanglement_entropy, geometric_measure, schmidt_number
from .mincut import Cut, CutEdge, min_cut, network_graph
from .modular import DEFAULT_PRIME, rank_mod_p
from .partitions import block, interleaved_2d, left_right, odd_even, random_partition
from .spectrum import (
    DEFAULT_MAX_CORE_ENTRIES,
    Spectrum,
    matricization_rank,
    schmidt_spectrum,
    schmidt_values,
)

__all__ = [
    "Cut",
    "CutEdge",
    "DEFAULT_MAX_CORE_ENTRIES",
    "DEFAULT_PRIME",
    "Spectrum",
    "block",
    "dense_schmidt_values",
    "entanglement_entropy",
    "geometric_measure",
    "grid_tensor",
    "interleaved_2d",
    "left_right",
    "matricization_rank",
    "matricize",
    "min_cut",
    "network_graph",
    "odd_even",
    "random_partition",
    "rank_mod_p",
    "schmidt_number",
    "schmidt_spectrum",
    "schmidt_values",
]
