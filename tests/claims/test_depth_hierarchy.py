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
    for res in results:  # every draw an exact rank over the prime field, certified by the cut
        assert res["deep_min_cut"] == res["predicted"] == res["deep"]["best"]

    def spoil(change) -> str:
        bad = copy.deepcopy(results)
        change(bad[-1])
        return claim.verdict(params, bad).outcome

    def no_witness(res) -> None:
        res["deep"]["ranks"] = [res["predicted"] - 1]
        res["deep"]["best"] = res["predicted"] - 1

    def above_cut(res) -> None:
        res["deep"]["ranks"] = [res["predicted"] + 1, res["predicted"]]

    def shallow_above_width(res) -> None:
        key = min(res["shallow"], key=int)
        res["shallow"][key]["ranks"] = [int(key) + 1]

    def shallow_short(res) -> None:
        key = max(res["shallow"], key=int)
        res["shallow"][key]["best"] -= 1

    def short_then_witness(res) -> None:  # a degenerate first draw, then a witness: fine
        res["deep"]["ranks"] = [res["predicted"] - 1, res["predicted"]]
        res["deep"]["first"] = res["predicted"] - 1

    assert spoil(no_witness) == "not reproduced"
    assert spoil(above_cut) == "not reproduced"
    assert spoil(shallow_above_width) == "not reproduced"
    assert spoil(shallow_short) == "not reproduced"
    assert spoil(short_then_witness) == "reproduced"
    assert not claim.verdict(params, []).reproduced


def test_more_seeds_do_not_flip(run_claim) -> None:
    # v1 said "not reproduced" at seeds=60 (degenerate integer draws); v2 looks for witnesses.
    claim, params, results = run_claim("depth-hierarchy", {"seeds": "12", "ks": "1,2,3"})
    v = claim.verdict(params, results)
    assert v.reproduced, v.summary
    assert v.numbers["short_draws"]["draws"] >= 12 * 5
