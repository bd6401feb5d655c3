"""The claims: one module per theorem or experiment (see ../shared/CLAIMS.md).

Importing this package imports every claim module, which registers itself.
"""

from __future__ import annotations

import importlib
import pkgutil

from .base import PROFILES, REGISTRY, Claim, Param, Unit, Verdict, register

__all__ = ["PROFILES", "REGISTRY", "Claim", "Param", "Unit", "Verdict", "get", "register"]

for _mod in pkgutil.iter_modules(__path__):
    if _mod.name != "base" and not _mod.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_mod.name}")


def get(claim_id: str) -> Claim:
    """The registered claim with this id; ``ValueError`` listing the known ids otherwise."""
    if claim_id not in REGISTRY:
        raise ValueError(
            f"claim: unknown claim id {claim_id!r}; known: {', '.join(sorted(REGISTRY))}"
        )
    return REGISTRY[claim_id]
