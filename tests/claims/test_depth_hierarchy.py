import copy

from dltheory.claims.depth_hierarchy import block_interleaved, cut_tree


def test_partition_and_cut_tree() -> None:
    assert block_interleaved(3, 1) == (4, 5, 6, 7)
    assert block_interleaved(3, 2) == (2, 3, 6, 7)
    t = cut_tree(3, 2)
    assert len(t.children(t.root)) == 4 and t.num_leaves == 8


def test_quick_reproduces_and_can_fail(run_claim, tmp_path) -> None:
    claim, params, results = run_claim("depth-hierarchy")
    v = claim.verdict(params, results)
    assert v.reproduced, v.summary
    assert {r["k"] for r in results} == {1, 2, 3, 4}
    path = tmp_path / "fig.png"
    claim.figure(params, results, str(path))
    assert path.stat().st_size > 0
    bad = copy.deepcopy(results)
    bad[-1]["deep_rank"] -= 1
    assert not claim.verdict(params, bad).reproduced
    assert not claim.verdict(params, []).reproduced
