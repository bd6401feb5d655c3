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
    cut = results[0]["cases"][0]["min_cut"]
    for change in (
        {"witness": {"ranks": [cut + 1], "best": cut + 1}},  # above the cut
        {"witness": {"ranks": [cut - 1], "best": cut - 1}},  # no witness at the cut
        {"entropy": 10.0 + results[0]["cases"][0]["log_min_cut"]},
    ):
        bad = copy.deepcopy(results)
        case = bad[0]["cases"][0]
        for key, value in change.items():
            case[key] = {**case[key], **value} if isinstance(value, dict) else value
        assert not claim.verdict(params, bad).reproduced
    good = copy.deepcopy(results)  # a short scheduled draw followed by a witness is fine
    good[0]["cases"][0]["witness"].update(ranks=[cut - 1, cut], first=cut - 1)
    v = claim.verdict(params, good)
    assert v.reproduced and v.numbers["short_draws"]["short"] == 1


def test_unknown_config() -> None:
    from dltheory.claims import get

    claim = get("entanglement-min-cut")
    with pytest.raises(ValueError, match="unknown"):
        claim.units(claim.resolve("quick", {"configs": "nope"}), 0)
