from __future__ import annotations

import itertools

import numpy as np
import pytest

import dltheory as dt


def brute_dense(tt: dt.TreeTensor) -> np.ndarray:
    """Each entry by evaluating the decomposition on one-hot inputs."""
    n, m = tt.num_leaves, tt.in_dim
    out = np.zeros((m,) * n)
    eye = np.eye(m)
    for idx in itertools.product(range(m), repeat=n):
        out[idx] = tt.evaluate(eye[list(idx)])[0]
    return out


@pytest.mark.parametrize(
    "tree",
    [
        dt.ModeTree.flat(4),
        dt.ModeTree.balanced(8),
        dt.ModeTree.chain(5),
        dt.ModeTree.grid((2, 4), window=(2, 2), geometry="mirror"),
        dt.ModeTree.dilated(8, [4, 1, 2]),
        dt.ModeTree.from_nested([[3, 0], [[1], 4, 2]]),
    ],
)
def test_dense_matches_entrywise_evaluation(tree: dt.ModeTree) -> None:
    tt = dt.TreeTensor.random(tree, in_dim=2, ranks=3, seed=1)
    np.testing.assert_allclose(tt.to_dense(), brute_dense(tt), rtol=1e-12, atol=1e-12)


def test_cp_form_of_flat_tree() -> None:
    """The flat tree is the CP decomposition sum_g w_g a^(1)_g (x) ... (x) a^(N)_g."""
    tt = dt.TreeTensor.random(dt.ModeTree.flat(3), in_dim=3, ranks=4, seed=2)
    a0, a1, a2 = tt.leaf_weights
    w = tt.node_weights[3][:, 0]
    cp = np.einsum("g,ig,jg,kg->ijk", w, a0, a1, a2)
    np.testing.assert_allclose(tt.to_dense(), cp, rtol=1e-13)


def test_evaluate_equals_contraction_with_dense() -> None:
    tt = dt.TreeTensor.random(dt.ModeTree.balanced(4), in_dim=3, ranks=2, seed=3, out_dim=2)
    f = np.random.default_rng(0).standard_normal((5, 4, 3))
    dense = tt.to_dense()
    assert dense.shape == (3, 3, 3, 3, 2)
    ref = np.einsum("abcdy,na,nb,nc,nd->ny", dense, f[:, 0], f[:, 1], f[:, 2], f[:, 3])
    np.testing.assert_allclose(tt.evaluate(f), ref, rtol=1e-12)
    np.testing.assert_allclose(tt.evaluate(f[0]), ref[0], rtol=1e-12)
    np.testing.assert_allclose(tt.output(1).to_dense(), dense[..., 1])


def test_integer_exact_dense() -> None:
    tt = dt.TreeTensor.random(dt.ModeTree.balanced(8), 2, 3, seed=0, integer=True, int_range=3)
    assert tt.is_integer
    exact = tt.to_dense(exact=True)
    assert exact.dtype == object and isinstance(exact.flat[0], int)
    np.testing.assert_array_equal(exact.astype(np.float64), tt.to_dense())


def test_seeds_reproducible_and_param_count() -> None:
    tree = dt.ModeTree.balanced(16)
    a = dt.TreeTensor.random(tree, 2, 4, seed=7)
    b = dt.TreeTensor.random(tree, 2, 4, seed=7)
    assert all(np.array_equal(x, y) for x, y in zip(a.leaf_weights, b.leaf_weights, strict=True))
    c = dt.TreeTensor.random(tree, 2, 4, seed=8)
    assert not np.array_equal(a.leaf_weights[0], c.leaf_weights[0])
    # O(r^2 N): N*M*r leaves + (N-2) r x r nodes + r x 1 root, against M^N dense entries
    assert a.num_params == 16 * 2 * 4 + 14 * 16 + 4
    assert a.shape == (2,) * 16


def test_per_level_widths() -> None:
    tree = dt.ModeTree.balanced(8)
    tt = dt.TreeTensor.random(tree, 2, [2, 3, 5], seed=0)
    assert tt.leaf_weights[0].shape == (2, 2)
    assert tt.node_weights[tree.root].shape == (5, 1)
    assert tt.node_weights[tree.levels()[0][0]].shape == (2, 3)


def test_to_dense_refuses_large() -> None:
    tt = dt.TreeTensor.random(dt.ModeTree.balanced(64), 2, 2, seed=0)
    with pytest.raises(ValueError, match=r"max_entries: this needs about 3.69e\+19 .* 2\^64"):
        tt.to_dense()
    # the headline size: 2^1024 entries, more than a float can hold, in the message itself
    big = dt.TreeTensor.random(dt.ModeTree.grid((32, 32)), 2, 2, seed=0)
    with pytest.raises(ValueError, match=r"max_entries: this needs about ~10\^308.6 entries"):
        big.to_dense()
    from dltheory.analysis import interleaved_2d

    with pytest.raises(ValueError, match=r"max_entries: .* min cut ~10\^77.1"):
        big.schmidt_values(interleaved_2d((32, 32)))


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"in_dim": 0}, ValueError, "in_dim"),
        ({"in_dim": 2.0}, TypeError, "in_dim"),
        ({"ranks": 0}, ValueError, "ranks"),
        ({"ranks": [2, 2]}, ValueError, "ranks: got 2"),
        ({"out_dim": 0}, ValueError, "out_dim"),
        ({"scale": "xavier"}, ValueError, "scale"),
    ],
)
def test_random_bad_input(kwargs: dict, exc: type, match: str) -> None:
    args = {"in_dim": 2, "ranks": 2, **kwargs}
    with pytest.raises(exc, match=match):
        dt.TreeTensor.random(dt.ModeTree.balanced(8), **args)


def test_constructor_and_evaluate_bad_input() -> None:
    tree = dt.ModeTree.balanced(4)
    tt = dt.TreeTensor.random(tree, 2, 2, seed=0)
    with pytest.raises(TypeError, match="tree"):
        dt.TreeTensor.random([[0, 1]], 2, 2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="leaf_weights\\[1\\]"):
        bad = list(tt.leaf_weights)
        bad[1] = np.ones((3, 2))
        dt.TreeTensor(tree, bad, tt.node_weights)
    with pytest.raises(ValueError, match="features: expected shape \\(batch, 4, 2\\)"):
        tt.evaluate(np.ones((3, 5, 2)))
    with pytest.raises(ValueError, match="features: contains NaN"):
        tt.evaluate(np.full((1, 4, 2), np.nan))
    with pytest.raises(ValueError, match=r"y: expected an integer in \[0, 0\], got 3"):
        tt.output(3)
    with pytest.raises(ValueError, match="exact"):
        tt.to_dense(exact=True)


def test_nonzero_integer_draws() -> None:
    tree = dt.ModeTree.flat(4)
    tt = dt.TreeTensor.random(tree, 3, 50, seed=0, integer=True, int_range=2, nonzero=True)
    values = np.concatenate([a.ravel() for a in tt.leaf_weights] + [tt.node_weights[4].ravel()])
    assert set(values.tolist()) == {-2, -1, 1, 2}  # every nonzero value occurs, 0 never
    plain = dt.TreeTensor.random(tree, 3, 50, seed=0, integer=True, int_range=2)
    assert 0 in np.concatenate([a.ravel() for a in plain.leaf_weights])
