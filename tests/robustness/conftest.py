"""Print how many distinct bad inputs the robustness suite tried, per public name."""

from __future__ import annotations

from typing import Any

from .harness import TRIED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not TRIED:
        return
    total = sum(len(v) for v in TRIED.values())
    terminalreporter.write_line(
        f"robustness: {total} distinct bad inputs over {len(TRIED)} public names"
    )
    for name in sorted(TRIED):
        terminalreporter.write_line(f"  {name}: {len(TRIED[name])}")
