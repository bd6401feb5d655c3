"""Helpers shared by the claim modules: deterministic seeds and figure set-up."""

from __future__ import annotations

import hashlib
from typing import Any

__all__ = ["derive_seed", "pyplot"]


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
