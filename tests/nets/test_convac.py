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
        ({"in_dim": 0}, "in_dim: expected an integer >= 1, got 0"),
        ({"ranks": 0}, "ranks: expected an integer >= 1, got 0"),
        ({"ranks": {0: 2}}, "ranks: a ConvAC needs one width per level"),
        ({"patch": 2}, "patch: expected an odd integer >= 1"),
        ({"patch": 3}, "patch: patches need a grid tree"),
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
    with pytest.raises(ValueError, match="x: has NaN or infinite values"):
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
    with pytest.raises(
        ValueError, match=r"^y: expected an integer in \[0, 0\], got 5; the network"
    ):
        net.coefficient_tensor(5)


# ------------------------------------------------------------ per-row logit normalization
def test_signed_logits_are_normalized_per_row() -> None:
    """forward = logit_scale * h_y / max_y' |h_y'|, the max over each example's own outputs.

    The rows' scales differ by 10^16 and 10^-16 (h is homogeneous of degree N = 8 in x),
    so a maximum over the whole batch, or over the batch axis, gives other numbers.
    """
    net = dt.ConvAC(dt.ModeTree.balanced(8), in_dim=2, ranks=3, out_dim=3, dtype=torch.float64)
    net.logit_scale = 7.0
    x = torch.randn(4, 8, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    x[1] *= 100.0
    x[2] *= 0.01
    h = net.scores(x)
    logits = net(x)
    expected = 7.0 * h / h.abs().amax(dim=1, keepdim=True)
    torch.testing.assert_close(logits, expected, rtol=1e-10, atol=0)
    # every row reaches logit_scale in absolute value, signs and arg-max are those of h
    torch.testing.assert_close(logits.abs().amax(dim=1), torch.full((4,), 7.0, dtype=torch.float64))
    assert torch.equal(torch.sign(logits), torch.sign(h))
    assert torch.equal(logits.argmax(dim=1), h.argmax(dim=1))
    # a row does not depend on the rest of the batch, nor on the scale of its input
    for b in range(4):
        torch.testing.assert_close(net(x[b : b + 1]), logits[b : b + 1], rtol=1e-12, atol=0)
    torch.testing.assert_close(net(3.0 * x), logits, rtol=1e-10, atol=0)


def test_logits_scale_with_logit_scale() -> None:
    tree = dt.ModeTree.balanced(4)
    a = dt.ConvAC(tree, in_dim=2, ranks=2, out_dim=2, dtype=torch.float64, logit_scale=1.0)
    b = dt.ConvAC(tree, in_dim=2, ranks=2, out_dim=2, dtype=torch.float64, logit_scale=25.0)
    x = torch.randn(5, 4, 2, dtype=torch.float64)
    torch.testing.assert_close(b(x), 25.0 * a(x))


# ------------------------------------------------------------ exact zeros
@pytest.mark.parametrize("shared", [False, True])
def test_an_all_zero_position_gives_exact_zero_scores_and_finite_training(shared: bool) -> None:
    """x_i = 0 at one position: every h_y is exactly 0; logits and gradients stay finite."""
    net = dt.ConvAC(dt.ModeTree.balanced(8), in_dim=2, ranks=3, out_dim=2, shared=shared)
    x = torch.randn(3, 8, 2, generator=torch.Generator().manual_seed(0))
    x[0, 5] = 0.0
    h = net.scores(x)
    assert (h[0] == 0).all() and (h[1:] != 0).all()
    logh, sign = net.log_scores(x)
    assert (sign[0] == 0).all() and torch.isfinite(logh).all()
    logits = net(x)
    assert torch.isfinite(logits).all() and (logits[0] == 0).all()
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1, 0])).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


# ------------------------------------------------------------ refusals
def test_refuses_bad_arguments_before_allocating() -> None:
    tree = dt.ModeTree.balanced(4)
    with pytest.raises(TypeError, match=r"^num_features: expected an integer >= 1, got 2\.5"):
        dt.ConvAC(tree, 2, 2, representation="affine", num_features=2.5)
    with pytest.raises(
        ValueError, match=r"^logit_scale: expected a finite number in \(0, 1000000\]"
    ):
        dt.ConvAC(tree, 2, 2, logit_scale=float("nan"))
    with pytest.raises(TypeError, match=r"^ranks\[0\]: expected an integer >= 1, got True"):
        dt.ConvAC(tree, 2, [True, 2])
    with pytest.raises(ValueError, match="^ranks: expected 2 integers"):
        dt.ConvAC(tree, 2, [2, 2, 2])
    with pytest.raises(TypeError, match="^shared: expected True or False, got 'yes'"):
        dt.ConvAC(tree, 2, 2, shared="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="^dtype: expected torch.float32 or torch.float64"):
        dt.ConvAC(tree, 2, 2, dtype=torch.complex64)
    with pytest.raises(TypeError, match="^dtype: .* got the type numpy.float64"):
        dt.ConvAC(tree, 2, 2, dtype=np.float64)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^seed: expected an integer in \[0, "):
        dt.ConvAC(tree, 2, 2, seed=2**64)
    with pytest.raises(TypeError, match="^seed: "):
        dt.ConvAC(tree, 2, 2, seed=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="^device: expected a torch device"):
        dt.ConvAC(tree, 2, 2, device="tpu9")
    with pytest.raises(ValueError, match="^representation_activation: only the 'affine'"):
        dt.ConvAC(tree, 2, 2, representation_activation="relu")
    with pytest.raises(ValueError, match="^patch: expected in_dim = C . patch..2"):
        dt.ConvAC(dt.ModeTree.grid((4, 4)), 10, 2, patch=3)
    # wider than the parameter limit: the estimate refuses it, naming the size
    with pytest.raises(ValueError, match=r"^ranks: this needs about 6e\+10 entries \(240 GB\)"):
        dt.ConvAC(dt.ModeTree.balanced(8), 2, 10**5, 2)
    with pytest.raises(ValueError, match="^out_dim: this needs about"):
        dt.ConvAC(tree, 2, 2, 2**40)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks a CPU-only torch")
def test_cuda_refused_on_cpu_only_torch() -> None:
    with pytest.raises(ValueError, match="^device: expected an available device, got 'cuda'"):
        dt.ConvAC(dt.ModeTree.balanced(4), 2, 2, device="cuda")


def test_device_argument_places_parameters() -> None:
    net = dt.ConvAC(dt.ModeTree.balanced(4), 2, 2, device="cpu", dtype=torch.float64)
    assert all(p.device.type == "cpu" and p.dtype == torch.float64 for p in net.parameters())


def test_refuses_bad_inputs_instead_of_losing_information() -> None:
    net = dt.ConvAC(dt.ModeTree.balanced(4), in_dim=2, ranks=2, out_dim=2)
    for method in (net.scores, net.forward, net.log_scores):
        with pytest.raises(TypeError, match="^x: expected real values"):
            method(torch.ones(3, 4, 2, dtype=torch.complex64))
        with pytest.raises(ValueError, match="^x: has NaN or infinite values"):
            method(torch.full((3, 4, 2), float("inf")))
        with pytest.raises(ValueError, match="^x: expected a non-empty batch"):
            method(torch.zeros(0, 4, 2))
        with pytest.raises(TypeError, match="^x: expected a numeric array"):
            method(torch.zeros(3, 4, 2, dtype=torch.bool))
    # integer inputs are exact values: accepted, cast to the parameters' dtype
    torch.testing.assert_close(
        net.scores(torch.ones(2, 4, 2, dtype=torch.int64)), net.scores(torch.ones(2, 4, 2))
    )
    with pytest.raises(TypeError, match=r"^y: expected an integer in \[0, 1\], got True"):
        net.coefficient_tensor(True)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="^y: "):
        net.grid_tensor(np.eye(2), y=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="^y: "):
        net.grid_tensor(np.eye(2), y=2)
    with pytest.raises(TypeError, match="^templates: expected real values"):
        net.grid_tensor(np.eye(2) * 1j)
    with pytest.raises(ValueError, match=r"^templates: expected M >= 1 template points"):
        net.grid_tensor(np.ones((3, 5)))
    np.testing.assert_allclose(net.grid_tensor(torch.eye(2)), net.grid_tensor(np.eye(2)))


def test_nan_outputs_are_reported_not_returned() -> None:
    net = dt.ConvAC(dt.ModeTree.balanced(4), in_dim=2, ranks=2, out_dim=2)
    with torch.no_grad():
        net.weights[1][0, 0, 0] = float("nan")  # as after a diverged training
    x = torch.randn(3, 4, 2)
    with pytest.raises(ValueError, match="^scores: the network's output is NaN for 3 of 3"):
        net.scores(x)
    with pytest.raises(ValueError, match="^log_scores: the network's output is NaN"):
        net.log_scores(x)
    with pytest.raises(ValueError, match="^coefficient_tensor: the network's weights have NaN"):
        net.coefficient_tensor()
    assert torch.isnan(net(x)).any()  # training logits pass through, for train() to report


def test_long_chain_builds_in_linear_time() -> None:
    """The pooling plan is linear in the number of nodes (a 2000-level chain took ~7 s)."""
    import time

    tree = dt.ModeTree.chain(2000)
    t0 = time.perf_counter()
    net = dt.ConvAC(tree, in_dim=1, ranks=1, out_dim=1, dtype=torch.float64)
    assert time.perf_counter() - t0 < 3.0
    x = torch.rand(2, 2000, 1, dtype=torch.float64) + 0.5
    logh, _ = net.log_scores(x)
    assert torch.isfinite(logh).all()


def test_representation_checks_its_input() -> None:
    from dltheory.nets import make_representation

    rep = make_representation("similarity", 2, 3)
    with pytest.raises(TypeError, match="^x: expected real values"):
        rep(torch.zeros(2, 4, 2, dtype=torch.complex64))
    with pytest.raises(
        ValueError, match=r"^x: expected a non-empty tensor of shape \(batch, N, 2\)"
    ):
        rep.log_forward(torch.zeros(2, 4, 5))
    torch.testing.assert_close(
        torch.log(rep(torch.ones(1, 2, 2))), rep.log_forward(torch.ones(1, 2, 2))
    )
    identity = make_representation("identity", 2, None)
    with pytest.raises(
        ValueError, match="^log_forward: the Identity representation is not positive"
    ):
        identity.log_forward(torch.ones(1, 2, 2))
    with pytest.raises(ValueError, match="^in_dim: the one-hot representation needs s = 1"):
        make_representation("one-hot", 2, None)
    with pytest.raises(ValueError, match=r"^num_features: this needs about 3e\+12 entries"):
        make_representation("affine", 2, 10**12)


def test_exact_zero_output_at_1024_positions_is_zero_not_nan() -> None:
    """The stand-in log-magnitude of an exact 0 can exceed float32's exp range (here ~2700).

    ``sign * exp(log|h|)`` would then be ``0 * inf = NaN``; scores must give 0.
    """
    tree = dt.ModeTree.grid((32, 32), window=(2, 2))
    net = dt.ConvAC(tree, in_dim=1, ranks=4, out_dim=3)
    x = torch.full((2, 1, 32, 32), 30.0)
    x[0, 0, 3, 7] = 0.0  # one zero pixel: h(x_0) = 0 exactly
    logh, sign = net.log_scores(x)
    assert (sign[0] == 0).all() and (sign[1] != 0).all()
    assert logh[0].min() > 100  # a stand-in exp() overflows, in float32 and float64 alike
    h = net.scores(x)
    assert (h[0] == 0).all() and not torch.isnan(h).any()
    logits = net(x)
    assert torch.isfinite(logits).all() and (logits[0] == 0).all()
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1])).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


# ------------------------------------------------------------ biases, Xavier init (ReLU baselines)
def test_biases_start_at_zero_and_are_told_apart_from_the_weights() -> None:
    tree = dt.ModeTree.grid((4, 4), window=(2, 2))
    net = dt.ConvAC(tree, 1, 3, 2, pooling="max", bias=True, shared=True)
    hidden = [g for g in net._groups if g.target_level >= 0]
    assert len(net.biases) == len(hidden) == len(net.weights) - 1  # not the output conv
    for b, grp in zip(net.biases, hidden, strict=True):
        assert b.shape == (grp.out_width,) and (b == 0).all()
    names = dict(net.named_parameters())
    bias_names = {n for n in names if "bias" in n}
    assert bias_names == {f"biases.{i}" for i in range(len(net.biases))}
    ids = {id(p) for p in net.bias_parameters()}
    assert ids == {id(names[n]) for n in bias_names}
    assert {id(p) for p in net.weight_parameters()} | ids == {id(p) for p in net.parameters()}
    assert not ids & {id(p) for p in net.weight_parameters()}
    unshared = dt.ConvAC(tree, 1, 3, 2, pooling="average", bias=True)
    assert unshared.biases[0].shape == (16, 3)  # one bias per position and channel
    assert dt.ConvAC(tree, 1, 3, 2, pooling="max").bias_parameters() == []


def test_biases_enter_before_each_hidden_relu() -> None:
    net = dt.ConvAC(dt.ModeTree.balanced(4), 2, 3, 2, pooling="max", bias=True, dtype=torch.float64)
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for b in net.biases:
            b.copy_(torch.randn(b.shape, generator=g, dtype=torch.float64))
    x = torch.randn(4, 4, 2, dtype=torch.float64, generator=g)
    w0, w1, w2 = (net._weight(i) for i in range(3))
    b0, b1 = net.biases
    u = [torch.relu(x[:, i] @ w0[i] + b0[i]) for i in range(4)]
    v = [torch.relu(torch.maximum(u[2 * k], u[2 * k + 1]) @ w1[k] + b1[k]) for k in range(2)]
    torch.testing.assert_close(net.scores(x), torch.maximum(v[0], v[1]) @ w2[0])  # no output bias
    # a bias breaks the positive homogeneity of the bias-free ReLU net
    assert not torch.allclose(net.scores(2.0 * x), 2.0 ** len(net.weights) * net.scores(x))
    torch.nn.functional.cross_entropy(net(x), torch.tensor([0, 1, 0, 1])).backward()
    assert all(b.grad is not None and b.grad.abs().max() > 0 for b in net.biases)


def test_xavier_init_is_glorot_uniform_per_convolution() -> None:
    tree = dt.ModeTree.grid((8, 8), window=(2, 2))
    net = dt.ConvAC(tree, 1, [16, 16, 8], 2, pooling="average", init="xavier", shared=True, seed=3)
    for grp, w in zip(net._groups, net.weights, strict=True):
        bound = (6.0 / (grp.in_width + grp.out_width)) ** 0.5
        assert w.abs().max() <= bound and w.abs().max() > 0.5 * bound
        if w.numel() >= 256:  # uniform: mean |w| is half the bound
            assert abs(w.abs().mean().item() - bound / 2) < 0.15 * bound
    default = dt.ConvAC(tree, 1, [16, 16, 8], 2, pooling="average", shared=True, seed=3)
    again = dt.ConvAC(
        tree, 1, [16, 16, 8], 2, pooling="average", shared=True, seed=3, init="default"
    )
    assert all(torch.equal(a, b) for a, b in zip(default.weights, again.weights, strict=True))
    assert not torch.equal(default.weights[1], net.weights[1])
    signed = dt.ConvAC(tree, 1, 4, 2, init="xavier", representation="one-hot")  # product: fine
    assert signed.weights[0].abs().max() <= (6.0 / (2 + 4)) ** 0.5


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"bias": True}, ValueError, "^bias: product pooling is multilinear"),
        ({"bias": 1, "pooling": "max"}, TypeError, "^bias: expected True or False"),
        ({"init": "glorot"}, ValueError, "^init: expected one of"),
        (
            {"init": "xavier", "positive": True, "representation": "one-hot", "in_dim": 1},
            ValueError,
            "^init: positive=True trains log-weights",
        ),
    ],
)
def test_bias_and_init_refusals(kwargs: dict, exc: type, match: str) -> None:
    args = {"in_dim": 2, "ranks": 2, **kwargs}
    with pytest.raises(exc, match=match):
        dt.ConvAC(dt.ModeTree.balanced(4), **args)
