import copy


def test_quick_reproduces_and_can_fail(run_claim, tmp_path) -> None:
    claim, params, results = run_claim(
        "depth-efficiency", {"draws": "5", "cp_ranks": "8,15,16,20,24", "cp_restarts": "2"}
    )
    v = claim.verdict(params, results)
    assert v.reproduced, v.summary
    assert v.numbers["a_ranks_equal_bound"] == 5 and v.numbers["a_bound"] == 256
    path = tmp_path / "fig.png"
    claim.figure(params, results, str(path))
    assert path.stat().st_size > 0
    bad = copy.deepcopy(results)
    bad[0]["rank"] = 255
    assert not claim.verdict(params, bad).reproduced
    bad = copy.deepcopy(results)
    for r in bad:
        if r["part"] == "cp" and r["R"] < r["bound"]:
            r["best_error"] = 1e-5
    assert not claim.verdict(params, bad).reproduced
    bad = copy.deepcopy(results)
    for r in bad:
        if r["part"] == "cp" and r["R"] >= r["bound"]:
            r["best_error"] = 0.5
    assert not claim.verdict(params, bad).reproduced
    bad = copy.deepcopy(results)
    next(r for r in bad if r["part"] == "grid")["left_right_rank"] = 99
    assert not claim.verdict(params, bad).reproduced


def test_degenerate_draws_are_reported_not_hidden(run_claim) -> None:
    claim, params, results = run_claim(
        "depth-efficiency", {"draws": "3", "cp_ranks": "15,16", "cp_restarts": "1"}
    )
    assert claim.verdict(params, results).reproduced
    bad = copy.deepcopy(results)
    deep = [r for r in bad if r["part"] == "deep"]
    deep[0]["rank"], deep[0]["singular_factors"] = 128, 1
    v = claim.verdict(params, bad)  # 1 of 3 draws degenerate: more than 5%
    assert not v.reproduced and v.numbers["a_degenerate_ranks"] == [128]
