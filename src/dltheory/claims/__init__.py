"""The claims: one module per theorem or experiment of the lectures.

The catalogue (``docs/claims.md``, written by ``dltheory list --markdown``)
lists them with their statements, parameters, rules and recorded verdicts.

Importing this package imports every claim module, which registers itself.
Claims outside the package are loaded too: set the environment variable
``DLTHEORY_EXTRA_CLAIMS`` to comma-separated module names and each is imported
after the built-in ones (its ``@register`` calls add its claims).
"""

from __future__ import annotations

import importlib
import os
import pkgutil

from .base import PROFILES, REGISTRY, Claim, Param, Revision, Unit, Verdict, register
from .evidence import INCONCLUSIVE, NOT_REPRODUCED, OUTCOMES, REPRODUCED

__all__ = [
    "EXTRA_CLAIMS_ENV",
    "INCONCLUSIVE",
    "NOT_REPRODUCED",
    "OUTCOMES",
    "PROFILES",
    "REGISTRY",
    "REPRODUCED",
    "Claim",
    "Param",
    "Revision",
    "Unit",
    "Verdict",
    "get",
    "register",
]

#: Environment variable naming extra claim modules (comma-separated) to import.
EXTRA_CLAIMS_ENV = "DLTHEORY_EXTRA_CLAIMS"

#: Modules of the claims layer that are not claims.
_SHARED = {"base", "catalogue", "evidence", "recorded"}

for _mod in pkgutil.iter_modules(__path__):
    if _mod.name not in _SHARED and not _mod.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_mod.name}")


def _import_extra_claims() -> None:
    """Import the modules named in ``$DLTHEORY_EXTRA_CLAIMS`` (plugin hook)."""
    for name in os.environ.get(EXTRA_CLAIMS_ENV, "").split(","):
        name = name.strip()
        if not name:
            continue
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise ValueError(
                f"{EXTRA_CLAIMS_ENV}: cannot import claim module {name!r}: {exc}"
            ) from exc


_import_extra_claims()


def get(claim_id: str) -> Claim:
    """The registered claim with this id; ``ValueError`` listing the known ids otherwise."""
    if claim_id not in REGISTRY:
        raise ValueError(
            f"claim: unknown claim id {claim_id!r}; known: {', '.join(sorted(REGISTRY))}"
        )
    return REGISTRY[claim_id]
