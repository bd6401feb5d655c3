"""Networks as PyTorch modules: ConvACs, their ReLU / max-pool variants, mixed dilated nets,
deep linear nets."""

from .convac import POOLINGS, ConvAC
from .linear import INITS, DeepLinear, balanced_factors
from .mixed import MixedDilatedNet
from .representation import REPRESENTATIONS, Representation, make_representation

__all__ = [
    "INITS",
    "POOLINGS",
    "REPRESENTATIONS",
    "ConvAC",
    "DeepLinear",
    "MixedDilatedNet",
    "Representation",
    "balanced_factors",
    "make_representation",
]
