"""Helpers shared by the claim modules: deterministic seeds and figure set-up."""

from __future__ import annotations

import hashlib
from typing import Any

__all__ = ["derive_seed", "grid_shapes", "pyplot"]


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


def grid_shapes(text: Any) -> list[tuple[int, int]]:
    """``"4x4,4x8"`` -> ``[(4, 4), (4, 8)]``; ``ValueError`` naming ``--set grids`` otherwise."""
    shapes = []
    for item in str(text).split(","):
        parts = item.strip().lower().split("x")
        try:
            h, w = (int(p) for p in parts)
        except ValueError:
            raise ValueError(
                f"--set grids: expected shapes like 4x4,4x8, got {item.strip()!r}"
            ) from None
        if h < 1 or w < 1:
            raise ValueError(f"--set grids: sides must be >= 1, got {item.strip()!r}")
        shapes.append((h, w))
    if not shapes:
        raise ValueError("--set grids: expected at least one shape such as 4x4")
    return shapes
