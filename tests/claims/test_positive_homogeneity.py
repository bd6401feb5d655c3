import copy


def test_quick_reproduces_and_can_fail(run_claim, tmp_path) -> None:
    claim, params, results = run_claim("positive-homogeneity")
    v = claim.verdict(params, results)
    assert v.reproduced, v.summary
    assert v.numbers["max_error_homogeneous"] <= 1e-10
    path = tmp_path / "fig.png"
    claim.figure(params, results, str(path))
    assert path.stat().st_size > 0
    bad = copy.deepcopy(results)
    next(r for r in bad if r["variant"] == "homogeneous")["max_rel_error"] = 1e-6
    assert not claim.verdict(params, bad).reproduced
    bad = copy.deepcopy(results)
    next(r for r in bad if r["variant"] == "sigmoid")["max_rel_error"] = 1e-12
    assert not claim.verdict(params, bad).reproduced
