"""dltheory: a library and lab for the mathematics of deep learning.

The spine is the :class:`ModeTree` (pooling geometry); :class:`TreeTensor` is
a hierarchical decomposition over it, and :mod:`dltheory.analysis` computes
its exact separation ranks, Schmidt spectra, entanglement and min cuts.
"""

from . import analysis, data, design, optim
from .analysis import (
    Cut,
    Spectrum,
    entanglement_entropy,
    geometric_measure,
    grid_tensor,
    matricization_rank,
    matricize,
    min_cut,
    schmidt_number,
    schmidt_spectrum,
    schmidt_values,
)
from .losses import LpLoss, lp_loss
from .mixed import MixedTensor, shared_nodes
from .nets import ConvAC, DeepLinear, MixedDilatedNet
from .optim import EndToEnd
from .tensors import TreeTensor
from .train import TrainResult, evaluate, train
from .trees import ModeTree

__version__ = "0.1.0"

__all__ = [
    "ConvAC",
    "DeepLinear",
    "EndToEnd",
    "LpLoss",
    "Cut",
    "MixedDilatedNet",
    "MixedTensor",
    "ModeTree",
    "Spectrum",
    "TrainResult",
    "TreeTensor",
    "__version__",
    "analysis",
    "data",
    "design",
    "optim",
    "entanglement_entropy",
    "evaluate",
    "geometric_measure",
    "grid_tensor",
    "lp_loss",
    "matricization_rank",
    "matricize",
    "min_cut",
    "schmidt_number",
    "schmidt_spectrum",
    "schmidt_values",
    "shared_nodes",
    "train",
]
