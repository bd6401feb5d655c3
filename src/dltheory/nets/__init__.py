"""Networks as PyTorch modules: ConvACs and their generalized (ReLU / max-pool) variants."""

from .convac import POOLINGS, ConvAC
from .representation import REPRESENTATIONS, Representation, make_representation

__all__ = ["POOLINGS", "REPRESENTATIONS", "ConvAC", "Representation", "make_representation"]
