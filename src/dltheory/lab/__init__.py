"""The lab: run claims (local processes or Dask), store unit results, write reports.

* :mod:`~dltheory.lab.store`: the SQLite results store (resume, concurrent writers).
* :mod:`~dltheory.lab.runner`: :func:`run_claim`.
* :mod:`~dltheory.lab.report`: :func:`write_report` (``report.html`` and ``REPORT.md``).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from .report import write_report  # noqa: E402
from .runner import EXECUTORS, ClaimResult, ensure_writable, run_claim  # noqa: E402
from .store import STORE_NAME, Store, unit_key  # noqa: E402

__all__ = [
    "EXECUTORS",
    "STORE_NAME",
    "ClaimResult",
    "Store",
    "ensure_writable",
    "run_claim",
    "unit_key",
    "write_report",
]
