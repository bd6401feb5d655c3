"""The claim registry and parameter declarations (claims.base), and the robustness summary."""

from __future__ import annotations

from typing import Any

import pytest

from dltheory.claims import base
from dltheory.claims.evidence import rules


class _Probe(base.Claim):
    id = "registry-probe"
    title = "probe"
    source = "tests"
    statement = "a probe"

    def units(self, params: Any, seed: int) -> list[base.Unit]:
        return []

    def run_unit(self, config: Any, seed: int) -> dict[str, Any]:
        return {}

    def verdict(self, params: Any, results: list[dict[str, Any]]) -> base.Verdict:
        return base.Verdict.exact(True, "probe")

    def figure(self, params: Any, results: list[dict[str, Any]], path: str) -> None:
        return None


def test_register_adds_an_instance_and_allows_the_same_class_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(base, "REGISTRY", {})
    assert base.register(_Probe) is _Probe
    first = base.REGISTRY["registry-probe"]
    assert isinstance(first, _Probe)
    base.register(_Probe)  # a module imported twice (e.g. by a worker) registers again: fine
    assert isinstance(base.REGISTRY["registry-probe"], _Probe)

    class Other(_Probe):  # another class with the same id is a mistake
        pass

    with pytest.raises(ValueError, match=r"^claim id 'registry-probe' registered twice$"):
        base.register(Other)
    assert type(base.REGISTRY["registry-probe"]) is _Probe

    class Renamed(_Probe):
        id = "registry-probe-2"

    base.register(Renamed)
    assert set(base.REGISTRY) == {"registry-probe", "registry-probe-2"}


@pytest.mark.parametrize("kind", ["int", "float", "ints"])
def test_numeric_params_need_both_bounds(kind: str) -> None:
    default: Any = (1,) if kind == "ints" else 1
    bounds: dict[str, Any]
    for bounds in ({"minimum": 0}, {"maximum": 9}, {}):
        with pytest.raises(ValueError) as info:
            base.Param("p", kind, default, default, "a parameter", **bounds)
        assert str(info.value) == (
            "Param p: a numeric parameter needs both a minimum and a maximum (what the claim "
            "can compute), so infeasible values are refused before any work"
        )
    assert base.Param("p", kind, default, default, "ok", minimum=0, maximum=9).name == "p"
    assert base.Param("s", "str", "a", "b", "text needs no bounds").kind == "str"


def test_robustness_summary_counts_and_mentions_inconclusive_rows() -> None:
    row = rules.RobustnessRow
    rows = [row("a", rules.REPRODUCED), row("b", rules.NOT_REPRODUCED)]
    assert rules.robustness_summary(rows) == "holds on 1 of 2 data sets"
    rows.append(row("c", rules.INCONCLUSIVE))
    assert rules.robustness_summary(rows) == "holds on 1 of 3 data sets (1 inconclusive)"
    assert rules.robustness_summary([]) == "holds on 0 of 0 data sets"
