"""Ready-made networks and training protocols used by the tests, the demo and the claims.

Each protocol was fixed on a validation split carved out of the training set
(20%, seed 123), never on the test split, and is not tuned afterwards.
"""

from __future__ import annotations

from typing import Any, Literal

from ..trees import ModeTree
from .convac import ConvAC

__all__ = ["digits_net", "DIGITS_TRAINING"]

#: Training protocol for :func:`digits_net` (keyword arguments of :func:`dltheory.train`).
DIGITS_TRAINING: dict[str, Any] = {
    "epochs": 60,
    "batch_size": 64,
    "optimizer": "adamw",
    "lr": 3e-3,
    "weight_decay": 5e-2,
    "schedule": "cosine",
}


def digits_net(pooling: Literal["product", "average", "max"] = "product", seed: int = 0) -> ConvAC:
    """A deep ConvNet for scikit-learn's 8x8 digits over ``ModeTree.grid((8, 8))``.

    5x5 pixel patches, an affine representation with M = 64 descriptors, three
    levels of 2x2 pooling, width 128, convolutional (shared) weights.
    ``pooling="product"`` is the ConvAC; ``"average"`` or ``"max"`` the
    same-shape ReLU network (the representation then gets a ReLU too).
    """
    relu = {} if pooling == "product" else {"representation_activation": "relu"}
    return ConvAC(
        ModeTree.grid((8, 8), window=(2, 2)),
        in_dim=25,
        ranks=128,
        out_dim=10,
        patch=5,
        representation="affine",
        num_features=64,
        pooling=pooling,
        shared=True,
        seed=seed,
        **relu,  # type: ignore[arg-type]
    )
