"""Helpers shared by the claim modules: deterministic seeds and figure set-up."""

from __future__ import annotations

import hashlib
from typing import Any

__all__ = ["derive_seed", "nonzero_weights", "pyplot"]


def derive_seed(base: int, *keys: Any) -> int:
    """A seed in ``[0, 2**31)`` derived deterministically from ``base`` and ``keys``.

    Uses SHA-256 of the text form, so it is stable across processes and
    Python versions (unlike ``hash``).
    """
    text = "/".join([str(int(base))] + [str(k) for k in keys])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") & 0x7FFFFFFF


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def nonzero_weights(tt: Any) -> Any:
    """The same :class:`~dltheory.TreeTensor` with every integer weight 0 replaced by 1.

    ``TreeTensor.random(integer=True)`` draws uniformly from ``[-100, 100]``,
    an atom at 0 of probability 1/201 per entry; a zero in a root weight
    vector deletes a CP term and lowers ranks below the generic value (seen in
    ~2% of 4x4-grid draws with root width 4).  Generic statements ("for almost
    all weights") are tested on draws that avoid this atom.
    """
    import numpy as np

    from ..tensors import TreeTensor

    leaves = [np.where(a == 0, 1, a) for a in tt.leaf_weights]
    nodes = {v: np.where(w == 0, 1, w) for v, w in tt.node_weights.items()}
    return TreeTensor(tt.tree, leaves, nodes)
