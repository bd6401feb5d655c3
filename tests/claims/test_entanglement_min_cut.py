import copy

import pytest

from dltheory.claims.entanglement_min_cut import partitions


def test_partitions_are_proper() -> None:
    for kind, size in (("balanced", 16), ("grid", 4), ("chain", 8)):
        n = size * size if kind == "grid" else size
        for _, I in partitions(kind, size, 3, 0):
            assert 0 < len(I) < n


def test_quick_reproduces_and_can_fail(run_claim, tmp_path) -> None:
    claim, params, results = run_claim("entanglement-min-cut")
    v = claim.verdict(params, results)
    assert v.reproduced, v.summary
    assert v.numbers["cases"] >= 8 * 8
    path = tmp_path / "fig.png"
    claim.figure(params, results, str(path))
    assert path.stat().st_size > 0
    for field, delta in (("rank", 1), ("rank", -1), ("entropy", 10.0)):
        bad = copy.deepcopy(results)
        bad[0]["cases"][0][field] += delta
        assert not claim.verdict(params, bad).reproduced


def test_unknown_config() -> None:
    from dltheory.claims import get

    claim = get("entanglement-min-cut")
    with pytest.raises(ValueError, match="unknown"):
        claim.units(claim.resolve("quick", {"configs": "nope"}), 0)
