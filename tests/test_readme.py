"""The README's examples run as written (the quick ones; training examples are in the demo)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
#: Sections whose code runs in seconds.
SECTIONS = ("## Ten lines", "### Designing widths from the analysis")


def _block(section: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(section)
    match = re.search(r"```python\n(.*?)```", text[start:], flags=re.S)
    assert match, f"no python block under {section!r}"
    return match.group(1)


@pytest.mark.parametrize("section", SECTIONS)
def test_readme_example_runs(section: str) -> None:
    exec(compile(_block(section), f"README.md: {section}", "exec"), {})


def test_design_example_prints_what_it_claims() -> None:
    scope: dict[str, object] = {}
    exec(compile(_block(SECTIONS[1]), "README.md", "exec"), scope)
    d = scope["d"]
    assert d.level_widths == (2, 2, 3, 63, 3918) and d.params == 999782 and d.exact  # type: ignore[attr-defined]
    assert set(scope["ht"].needed_widths.values()) == {2}  # type: ignore[attr-defined]
    ranking = [
        c.name for c in scope["compare_trees"](scope["target"], scope["candidates"], tol=1e-10)
    ]  # type: ignore[operator]
    assert ranking[0] == "square"
    assert scope["mixed"].matricization_rank([0, 1, 6, 7, 8, 9, 14, 15], method="modular") == 256  # type: ignore[attr-defined]
