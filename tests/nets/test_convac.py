"""ConvAC: exact equivalence with its coefficient tensor, stability at N = 1024, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import dltheory as dt

TREES = [
    dt.ModeTree.flat(5),
    dt.ModeTree.balanced(8),
    dt.ModeTree.chain(6),
    dt.ModeTree.grid((2, 4), window=(2, 2)),
    dt.ModeTree.grid((2, 6), window=(2, 3)),
    dt.ModeTree.grid((2, 4), window=(2, 2), geometry="mirror"),
    dt.ModeTree.grid((4, 2), window=(2, 2), geometry="mirror"),
    dt.ModeTree.dilated(8, [4, 1, 2]),
    dt.ModeTree.from_nested([[3, 0], [[1], 4, 2]]),
]


def contract(dense: np.ndarray, feats: np.ndarray) -> np.ndarray:
    """<A, f(x_1) (x) ... (x) f(x_N)> for each batch row, from the dense tensor."""
    out = np.broadcast_to(dense, (feats.shape[0],) + dense.shape)
    for i in range(feats.shape[1]):
        out = np.einsum("bm...,bm->b...", out, feats[:, i, :])
    return out


@pytest.mark.parametrize("tree", TREES, ids=lambda t: repr(t))
@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("positive", [False, True])
def test_scores_equal_dense_coefficient_tensor(
    tree: dt.ModeTree, shared: bool, positive: bool
) -> None:
    rep = {"representation": "similarity", "num_features": 3} if positive else {}
    net = dt.ConvAC(
        tree,
        in_dim=3,
        ranks=3,
        out_dim=2,
        shared=shared,
        positive=positive,
        dtype=torch.float64,
        seed=1,
        **rep,
    )
    x = torch.randn(
        7, tree.num_leaves, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0)
    )
    scores = net.scores(x).detach().numpy()
    feats = net.features(x).detach().numpy()
    for y in range(2):
        ref = contract(net.coefficient_tensor(y).to_dense(), feats)
        assert np.abs(scores[:, y] - ref).max() <= 1e-10 * np.abs(ref).max()
    # positive=True: every entry of the coefficient tensor is positive
    if positive:
        assert (net.coefficient_tensor(0).to_dense() > 0).all()


def test_shared_weights_are_convolutional() -> None:
    net = dt.ConvAC(dt.ModeTree.balanced(8), in_dim=2, ranks=3, shared=True, dtype=torch.float64)
    a = net.coefficient_tensor()
    assert all(np.array_equal(a.leaf_weights[0], w) for w in a.leaf_weights)
    level0 = net.tree.levels()[0]
    assert all(np.array_equal(a.node_weights[level0[0]], a.node_weights[v]) for v in level0)
    unshared = dt.ConvAC(dt.ModeTree.balanced(8), in_dim=2, ranks=3, shared=False)
    assert sum(p.numel() for p in unshared.parameters()) > sum(p.numel() for p in net.parameters())


def test_images_and_patches() -> None:
    tree = dt.ModeTree.grid((4, 4))
    net = dt.ConvAC(tree, in_dim=2, ranks=2, out_dim=3, dtype=torch.float64)
    img = torch.randn(5, 2, 4, 4, dtype=torch.float64)
    seq = img.flatten(2).transpose(1, 2)  # row-major positions
    torch.testing.assert_close(net.scores(img), net.scores(seq))
    pnet = dt.ConvAC(tree, in_dim=2 * 9, ranks=2, out_dim=3, patch=3)
    loc = pnet.local_vectors(img.float())
    assert loc.shape == (5, 16, 18)
    # the centre of the 3x3 patch of position (1, 2) is the pixel itself
    np.testing.assert_allclose(
        loc[:, 1 * 4 + 2].reshape(5, 2, 3, 3)[:, :, 1, 1], img[:, :, 1, 2].float()
    )


def test_one_hot_representation() -> None:
    tree = dt.ModeTree.grid((4, 4))
    net = dt.ConvAC(
        tree, in_dim=1, ranks=2, representation="one-hot", positive=True, dtype=torch.float64
    )
    x = torch.randint(0, 2, (3, 1, 4, 4)).double()
    f = net.features(x)
    assert f.shape == (3, 16, 2) and set(f.unique().tolist()) == {0.0, 1.0}
    # scores are entries of the coefficient tensor at the binary image
    a = net.coefficient_tensor().to_dense()
    for b in range(3):
        idx = tuple(int(v) for v in x[b].flatten())
        assert np.isclose(net.scores(x)[b, 0].item(), a[idx], rtol=1e-10)
    with pytest.raises(ValueError, match="x: the one-hot representation needs integer"):
        net(torch.full((1, 1, 4, 4), 0.5, dtype=torch.float64))


@pytest.mark.parametrize("positive", [False, True])
def test_stability_1024_positions(positive: bool) -> None:
    """32x32 binary images, five 2x2 pooling levels, width 16, float32: all finite."""
    tree = dt.ModeTree.grid((32, 32), window=(2, 2))
    net = dt.ConvAC(
        tree, in_dim=1, ranks=16, out_dim=10, representation="one-hot", positive=positive
    )
    x = torch.randint(0, 2, (8, 1, 32, 32), generator=torch.Generator().manual_seed(0)).float()
    logits = net(x)
    assert logits.dtype == torch.float32 and torch.isfinite(logits).all()
    logh, sign = net.log_scores(x)
    assert torch.isfinite(logh).all() and logh.abs().max() > 100  # h itself is far outside float32
    assert logits.std() > 0  # outputs carry information, not a collapsed constant
    torch.nn.functional.cross_entropy(logits, torch.arange(8) % 10).backward()
    grads = [p.grad for p in net.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().max() > 0 for g in grads)


@pytest.mark.parametrize("pooling", ["max", "average"])
def test_generalized_nets_and_grid_tensor(pooling: str) -> None:
    tree = dt.ModeTree.balanced(4)
    net = dt.ConvAC(tree, in_dim=2, ranks=3, out_dim=2, pooling=pooling, dtype=torch.float64)  # type: ignore[arg-type]
    x = torch.randn(4, 4, 2, dtype=torch.float64)
    # by hand: relu(conv) per position -> pool pairs -> relu(conv) -> pool -> linear output
    w0, w1, w2 = (net._weight(i) for i in range(3))
    pool = (lambda a, b: torch.maximum(a, b)) if pooling == "max" else (lambda a, b: (a + b) / 2)
    u = [torch.relu(x[:, i] @ w0[i]) for i in range(4)]
    v = [torch.relu(pool(u[2 * k], u[2 * k + 1]) @ w1[k]) for k in range(2)]
    torch.testing.assert_close(net.scores(x), pool(v[0], v[1]) @ w2[0])
    assert net.activation == "relu"
    with pytest.raises(ValueError, match="pooling: a .*-pooling network is not multilinear"):
        net.coefficient_tensor()
    templates = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    g = net.grid_tensor(templates, y=1)
    assert g.shape == (3, 3, 3, 3)
    first = torch.as_tensor(templates[[0, 1, 2, 0]][None], dtype=torch.float64)
    assert np.isclose(g[0, 1, 2, 0], net.scores(first)[0, 1].item())
    np.testing.assert_allclose(dt.grid_tensor(net, templates, 4)[..., 1], g)


def test_homogeneity_of_relu_max_net() -> None:
    """No biases: a ReLU/max-pool net is positively homogeneous of degree = #weight layers."""
    net = dt.ConvAC(
        dt.ModeTree.balanced(8), in_dim=2, ranks=3, out_dim=2, pooling="max", dtype=torch.float64
    )
    x = torch.randn(5, 8, 2, dtype=torch.float64)
    base = net.scores(x)
    with torch.no_grad():
        for p in net.weights:
            p.mul_(2.0)
    torch.testing.assert_close(net.scores(x), base * 2.0 ** len(net.weights))


def test_runs_on_parameter_device_and_dtype() -> None:
    net = dt.ConvAC(dt.ModeTree.balanced(4), in_dim=2, ranks=2).double()
    out = net(torch.randn(3, 4, 2))  # float32 input is cast to the parameters' dtype
    assert out.dtype == torch.float64


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"pooling": "min"}, "pooling: expected one of"),
        ({"representation": "fourier"}, "representation: expected one of"),
        ({"pooling": "product", "activation": "relu"}, "activation: product pooling"),
        ({"pooling": "max", "positive": True}, "positive: the positive"),
        ({"positive": True}, "positive: positive=True needs a positive representation"),
        ({"representation": "similarity"}, "num_features"),
        ({"in_dim": 0}, "in_dim: must be >= 1"),
        ({"ranks": 0}, "ranks: width"),
        ({"ranks": {0: 2}}, "ranks: a ConvAC needs one width per level"),
        ({"patch": 2}, "patch: expected an odd int"),
        (
            {"representation": "affine", "num_features": 3, "representation_activation": "elu"},
            "activation",
        ),
    ],
)
def test_bad_construction(kwargs: dict, match: str) -> None:
    args = {"in_dim": 2, "ranks": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        dt.ConvAC(dt.ModeTree.balanced(4), **args)


def test_bad_inputs() -> None:
    net = dt.ConvAC(dt.ModeTree.balanced(4), in_dim=2, ranks=2)
    with pytest.raises(
        ValueError, match=r"x: expected shape \(batch, 4, 2\) \(the tree has 4 leaves"
    ):
        net(torch.randn(3, 8, 2))
    with pytest.raises(ValueError, match=r"x: expected shape \(batch, 4, 2\)"):
        net(torch.randn(3, 4, 5))
    with pytest.raises(ValueError, match="x: contains NaN"):
        net(torch.full((1, 4, 2), float("nan")))
    with pytest.raises(ValueError, match="x: image input .* needs a grid tree"):
        net(torch.randn(1, 2, 2, 2))
    with pytest.raises(TypeError, match="x: expected a torch.Tensor"):
        net(np.zeros((1, 4, 2)))  # type: ignore[arg-type]
    grid_net = dt.ConvAC(dt.ModeTree.grid((4, 4)), in_dim=3, ranks=2)
    with pytest.raises(ValueError, match=r"x: expected shape \(batch, 3, 4, 4\)"):
        grid_net(torch.randn(2, 1, 4, 4))
    with pytest.raises(TypeError, match="tree"):
        dt.ConvAC([[0, 1]], in_dim=2, ranks=2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="y: expected an output index"):
        net.coefficient_tensor(5)
