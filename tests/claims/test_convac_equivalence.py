import copy

import numpy as np

from dltheory.claims.convac_equivalence import contract, ht_param_count


def test_contract_matches_einsum() -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2, 2, 2))
    f = rng.standard_normal((4, 3, 2))
    ref = np.einsum("ijk,bi,bj,bk->b", a, f[:, 0], f[:, 1], f[:, 2])
    assert np.allclose(contract(a, f), ref)
    assert ht_param_count(4, 2, 3) == 4 * 2 * 3 + 2 * 9 + 3


def test_quick_reproduces_and_can_fail(run_claim, tmp_path) -> None:
    claim, params, results = run_claim("convac-equivalence")
    v = claim.verdict(params, results)
    assert v.reproduced, v.summary
    assert set(v.numbers["max_rel_error_per_tree"]) == {
        "cp",
        "ht",
        "tt",
        "grid-square",
        "grid-mirror",
    }
    path = tmp_path / "fig.png"
    claim.figure(params, results, str(path))
    assert path.stat().st_size > 0
    bad = copy.deepcopy(results)
    bad[0]["max_rel_error"] = 1e-6
    assert not claim.verdict(params, bad).reproduced
    bad = copy.deepcopy(results)
    next(r for r in bad if r["task"] == "params")["rows"][0]["ht_params"] += 1
    assert not claim.verdict(params, bad).reproduced
