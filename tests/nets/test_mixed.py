"""MixedDilatedNet: the mixed ConvAC equals its MixedTensor, scales to n = 256, and trains."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dltheory as dt
from dltheory.mixed import MixedTensor, shared_nodes
from dltheory.nets._mixed_forward import build_plan, run_product
from dltheory.nets.mixed import MixedDilatedNet

F64 = torch.float64
#: (n, interconnections) for the default schemes: n = 8 shares one level below the root, 16 two
LEVELS = [(8, 0), (8, 1), (16, 0), (16, 1), (16, 2)]


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Tiny tensors: one thread is fastest and steady on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def inputs(batch: int, n: int, dim: int, seed: int = 0, dtype: torch.dtype = F64) -> torch.Tensor:
    return torch.randn(batch, n, dim, dtype=dtype, generator=torch.Generator().manual_seed(seed))


def contract(dense: np.ndarray, feats: np.ndarray) -> np.ndarray:
    """<A, f(x_1) (x) ... (x) f(x_N)> for each batch row, from the dense tensor."""
    out = np.broadcast_to(dense, (feats.shape[0],) + dense.shape)
    for i in range(feats.shape[1]):
        out = np.einsum("bm...,bm->b...", out, feats[:, i, :])
    return out


def mixed_scores(net: MixedDilatedNet, x: torch.Tensor) -> np.ndarray:
    """Every output of ``net`` from its coefficient tensors, ``(batch, out_dim)``."""
    feats = net.features(x).detach().numpy()
    cols = [net.coefficient_tensor(y).evaluate(feats)[:, 0] for y in range(net.out_dim)]
    return np.stack(cols, axis=1)


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


def reference(net: MixedDilatedNet, x: torch.Tensor) -> np.ndarray:
    """The net's outputs node by node, straight from the definition (any pooling)."""
    f = net.features(x).detach().numpy()
    mats = net._matrices()
    pool = {"product": np.prod, "max": np.max, "average": np.mean}[net.pooling]
    act = (lambda v: v) if net.pooling == "product" else (lambda v: np.maximum(v, 0.0))
    node_of = [{frozenset(t.leaves(v)): v for v in t.internal_nodes} for t in net.trees]
    u: list[dict[int, np.ndarray]] = [{}, {}]
    p: list[dict[int, np.ndarray]] = [{}, {}]
    for t in (0, 1):
        for i in range(net.n):
            u[t][i] = act(f[:, i, :] @ mats[t][0][i])
    for lvl in range(net.trees[0].depth):
        for t, tree in enumerate(net.trees):
            for v in tree.levels()[lvl]:
                p[t][v] = pool(np.stack([u[t][c] for c in tree.children(v)]), axis=0)
        for t, tree in enumerate(net.trees):
            for v in tree.levels()[lvl]:
                s = frozenset(tree.leaves(v))
                inp = p[t][v]
                if s in net.mix:
                    inp = np.concatenate([p[0][node_of[0][s]], p[1][node_of[1][s]]], axis=1)
                out = inp @ mats[t][1][v]
                u[t][v] = out if v == tree.root else act(out)
    return u[0][net.trees[0].root] + u[1][net.trees[1].root]


# ----------------------------------------------------------- exact equivalence
@pytest.mark.parametrize(("n", "k"), LEVELS)
@pytest.mark.parametrize("shared", [True, False])
def test_scores_equal_the_mixed_coefficient_tensor(n: int, k: int, shared: bool) -> None:
    depth = n.bit_length() - 1
    net = MixedDilatedNet(
        n, 2, [2, 3, 2, 3][:depth], 2, interconnections=k, shared=shared, dtype=F64, seed=3
    )
    assert len(net.mixture_levels) == k
    x = inputs(6, n, 2)
    scores = net.scores(x).detach().numpy()
    assert rel_err(scores, mixed_scores(net, x)) <= 1e-10
    # identity features: the dense tensor contracted with the inputs themselves
    for y in range(2):
        dense = net.coefficient_tensor(y).to_dense()
        assert rel_err(scores[:, y], contract(dense, x.numpy())) <= 1e-10


def test_mixture_nodes_are_the_shared_nodes_of_the_lowest_levels() -> None:
    net = MixedDilatedNet(16, 1, 2, interconnections=1)
    assert net.dilations == ((1, 2, 4, 8), (2, 1, 4, 8))
    blocks = [s for s in shared_nodes(*net.trees) if len(s) == 4]
    assert list(net.mix) == blocks and net.mixture_levels == (1,)
    two = MixedDilatedNet(16, 1, 2, interconnections=2)
    assert two.mixture_levels == (1, 2) and len(two.mix) == 6
    assert net.coefficient_tensor().mix == net.mix
    # a scheme sharing level 0 and the level above: mixing starts at the lowest one
    low = MixedDilatedNet(8, 1, 2, dilations_a=(1, 2, 4), dilations_b=(1, 4, 2), interconnections=1)
    assert low.mixture_levels == (0,) and all(len(s) == 2 for s in low.mix)
    assert MixedDilatedNet(2, 1, 2).dilations == ((1,), (1,))


@pytest.mark.parametrize("representation", ["similarity", "affine", "one-hot"])
def test_representations_feed_both_trees(representation: str) -> None:
    dim, feats = (1, None) if representation == "one-hot" else (2, 3)
    net = MixedDilatedNet(
        8,
        dim,
        2,
        2,
        interconnections=1,
        representation=representation,
        num_features=feats,
        dtype=F64,
        seed=1,
    )
    x = inputs(5, 8, dim)
    if representation == "one-hot":
        x = (x > 0).to(F64)
    assert rel_err(net.scores(x).detach().numpy(), mixed_scores(net, x)) <= 1e-10


def _convac(net: MixedDilatedNet, t: int, pooling: str) -> dt.ConvAC:
    """Tree ``t`` of an unmixed shared net as a ConvAC with the same weights."""
    tag = "ab"[t]
    conv = dt.ConvAC(
        net.trees[t], net.in_dim, list(net.widths), net.out_dim, pooling=pooling, shared=True
    ).double()
    keys = [f"{tag}_leaf"] + [f"{tag}_{lvl}" for lvl in range(len(net.widths))]
    with torch.no_grad():
        for w, key in zip(conv.weights, keys, strict=True):
            w.copy_(net.weights[key])
    return conv


@pytest.mark.parametrize("pooling", ["product", "max", "average"])
def test_no_interconnection_is_the_sum_of_two_convacs(pooling: str) -> None:
    net = MixedDilatedNet(16, 3, [3, 2, 4, 2], 2, pooling=pooling, dtype=F64, seed=5)
    x = inputs(7, 16, 3)
    ref = sum(_convac(net, t, pooling).scores(x) for t in (0, 1))
    assert isinstance(ref, torch.Tensor)
    assert rel_err(net.scores(x).detach().numpy(), ref.detach().numpy()) <= 1e-10


@pytest.mark.parametrize("pooling", ["product", "max", "average"])
@pytest.mark.parametrize("shared", [True, False])
def test_scores_equal_the_definition_node_by_node(pooling: str, shared: bool) -> None:
    # a scheme whose trees disagree above the mixture level: the rows are permuted there
    net = MixedDilatedNet(
        8,
        2,
        [3, 2, 2],
        2,
        dilations_a=(1, 2, 4),
        dilations_b=(1, 4, 2),
        interconnections=1,
        pooling=pooling,
        shared=shared,
        dtype=F64,
        seed=2,
    )
    x = inputs(6, 8, 2)
    assert rel_err(net.scores(x).detach().numpy(), reference(net, x)) <= 1e-10


def test_a_level_with_plain_and_mixture_nodes() -> None:
    """The forward pass mixes a part of a level (no kernel-2 scheme shares one partly)."""
    net = MixedDilatedNet(8, 2, 2, 1, interconnections=1, dtype=F64, seed=4)
    block = sorted(net.mix, key=min)[1]  # mix {4..7} only
    plan = build_plan(net.trees, net.widths, 1, [block])
    g = torch.Generator().manual_seed(0)
    weights = {
        k: torch.randn(s, generator=g, dtype=F64)
        for k, s in {
            "a_leaf": (2, 2),
            "b_leaf": (2, 2),
            "a_0": (2, 2),
            "b_0": (2, 2),
            "a_1": (2, 2),
            "b_1": (2, 2),
            "a_1_mix": (4, 2),
            "b_1_mix": (4, 2),
            "a_2": (2, 1),
            "b_2": (2, 1),
        }.items()
    }
    x = inputs(5, 8, 2)
    (ua, ea), (ub, eb) = run_product(plan, weights, x.transpose(0, 1), None, None, True)
    h = ua * torch.exp2(ea) + ub * torch.exp2(eb)
    leaves, nodes = [], []
    for t, tag in enumerate("ab"):
        tree = net.trees[t]
        leaves.append([weights[f"{tag}_leaf"].numpy()] * 8)
        mats = {}
        for v in tree.internal_nodes:
            key = f"{tag}_{tree.level(v)}"
            mix = frozenset(tree.leaves(v)) == block
            mats[v] = weights[key + ("_mix" if mix else "")].numpy()
        nodes.append(mats)
    ref = MixedTensor(*net.trees, leaves[0], nodes[0], leaves[1], nodes[1], mix=[block])
    assert plan.levels[1].trees[0].num_plain == 1 and plan.levels[1].trees[0].num_mixed == 1
    assert rel_err(h.numpy(), ref.evaluate(x.numpy())) <= 1e-10


# ----------------------------------------------------------------- n = 256
@pytest.mark.parametrize("k", [0, 6])
@pytest.mark.parametrize("scale", [0.25, 4.0])
def test_product_pooling_at_256_positions_in_float32(k: int, scale: float) -> None:
    kwargs: dict[str, Any] = {"interconnections": k, "seed": 7}
    net32 = MixedDilatedNet(256, 3, 4, 3, **kwargs)
    net64 = MixedDilatedNet(256, 3, 4, 3, dtype=F64, **kwargs)
    x = scale * inputs(12, 256, 3, seed=1, dtype=torch.float32)
    logits = net32(x)
    assert torch.isfinite(logits).all()
    logits.logsumexp(dim=1).sum().backward()
    grads = [p.grad for p in net32.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    # (a tree whose output is below float precision of the other's gets an exact 0)
    assert any(g is not None and g.abs().max() > 0 for g in grads)
    ref = net64(x.double()).detach()
    assert float((logits.detach().double() - ref).abs().max()) <= 1e-4 * net32.logit_scale
    # every output is outside float32's range: unscaled products would give 0 or inf
    h = np.abs(net64.scores(x.double()).detach().numpy())
    info = torch.finfo(torch.float32)
    assert (h < info.tiny).all() if scale < 1 else (h > info.max).all()
    assert rel_err(h, np.abs(mixed_scores(net64, x.double()))) <= 1e-10


def test_logits_are_the_scores_over_their_row_maximum() -> None:
    net = MixedDilatedNet(16, 2, 3, 4, interconnections=2, dtype=F64, logit_scale=5.0)
    x = inputs(6, 16, 2)
    h = net.scores(x)
    expected = 5.0 * h / h.abs().amax(dim=1, keepdim=True)
    assert torch.allclose(net(x), expected, rtol=1e-12, atol=0)
    relu = MixedDilatedNet(16, 2, 3, 4, interconnections=2, pooling="max", dtype=F64)
    assert torch.equal(relu(x), relu.scores(x))


@pytest.mark.parametrize("k", [0, 2])
def test_an_all_zero_position_gives_exact_zeros(k: int) -> None:
    net = MixedDilatedNet(16, 2, 3, 2, interconnections=k, dtype=F64)
    x = inputs(4, 16, 2)
    x[1, 5] = 0.0  # every product through position 5 of example 1 vanishes
    x[2] *= 1e-30  # and example 2 is tiny: its features are rescaled
    h = net.scores(x)
    assert torch.equal(h[1], torch.zeros(2, dtype=F64))
    assert rel_err(h.detach().numpy(), mixed_scores(net, x)) <= 1e-10
    logits = net(x)
    assert torch.equal(logits[1], torch.zeros(2, dtype=F64))
    logits.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in net.parameters() if p.grad is not None)


# -------------------------------------------------------------- parameters
@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize("n", [8, 16, 64])
def test_parameter_counts(shared: bool, n: int) -> None:
    depth = n.bit_length() - 1
    widths = [2 + lvl % 3 for lvl in range(depth)]
    base = None
    for k in range(depth - 1):
        kw: dict[str, Any] = {"interconnections": k, "shared": shared}
        net = MixedDilatedNet(n, 3, widths, 2, **kw)
        count = MixedDilatedNet.count_parameters(n, 3, widths, 2, **kw)
        assert count == net.num_parameters == sum(p.numel() for p in net.parameters())
        assert net.weight_parameters() == list(net.parameters())
        if base is None:
            base = count
            # two trees: leaf M x r_0, then r_l x r_{l+1} per level (per node if not shared)
            per_tree = 3 * widths[0] * (1 if shared else n) + sum(
                widths[lvl]
                * (widths[lvl + 1] if lvl + 1 < depth else 2)
                * (1 if shared else n >> (lvl + 1))
                for lvl in range(depth)
            )
            assert count == 2 * per_tree
        # each mixture convolution reads r_l more rows, in both trees (levels 1 .. k mixed)
        extra = sum(
            widths[lvl] * widths[lvl + 1] * (1 if shared else n >> (lvl + 1))
            for lvl in range(1, k + 1)
        )
        assert count - base == 2 * extra


def test_representation_parameters_are_counted_once() -> None:
    kw: dict[str, Any] = {"representation": "affine", "num_features": 4, "interconnections": 1}
    net = MixedDilatedNet(8, 3, 2, **kw)
    assert net.num_parameters == MixedDilatedNet.count_parameters(8, 3, 2, **kw)
    plain = MixedDilatedNet.count_parameters(8, 4, 2, interconnections=1)
    assert net.num_parameters == plain + 3 * 4 + 4  # M = 4 features from 3 inputs, with bias


def test_seeds() -> None:
    a, b = MixedDilatedNet(8, 2, 3, seed=11), MixedDilatedNet(8, 2, 3, seed=11)
    c = MixedDilatedNet(8, 2, 3, seed=12)
    for (name, pa), pb, pc in zip(
        a.named_parameters(), b.parameters(), c.parameters(), strict=True
    ):
        assert torch.equal(pa, pb), name
        assert not torch.equal(pa, pc), name
    # the same draws in float64: exact checks see the float32 net's weights
    d = MixedDilatedNet(8, 2, 3, seed=11, dtype=F64)
    assert all(
        torch.equal(p.double(), q) for p, q in zip(a.parameters(), d.parameters(), strict=True)
    )


# ------------------------------------------------------------------ gradients
def _branch_grad(net: MixedDilatedNet, x: torch.Tensor) -> torch.Tensor:
    """Gradient of tree b's output with respect to tree a's leaf weights."""
    net.zero_grad()
    (_, _), (ub, eb) = net._branches(x)
    (ub * torch.exp2(eb)).sum().backward()
    grad = net.weights["a_leaf"].grad
    return torch.zeros(()) if grad is None else grad


def test_the_mixture_carries_tree_a_into_tree_b() -> None:
    x = inputs(4, 8, 2)
    mixed = MixedDilatedNet(8, 2, 2, interconnections=1, dtype=F64)
    apart = MixedDilatedNet(8, 2, 2, interconnections=0, dtype=F64)
    assert float(_branch_grad(mixed, x).abs().max()) > 1e-6
    assert float(_branch_grad(apart, x).abs().max()) == 0.0
    # and a change of tree a's mixture weights changes the output through tree a only
    before = mixed._branches(x)
    with torch.no_grad():
        mixed.weights["a_1_mix"][2:] += 1.0  # the rows reading tree b's channels (r = 2)
    after = mixed._branches(x)
    assert not torch.allclose(before[0][0], after[0][0])
    assert torch.equal(before[1][0], after[1][0])
    # with a second mixed level above it, tree a's mixture weights reach tree b's output too
    two = MixedDilatedNet(16, 2, 2, interconnections=2, dtype=F64)
    x16 = inputs(4, 16, 2)
    before = two._branches(x16)
    with torch.no_grad():
        two.weights["a_1_mix"] += 1.0
    after = two._branches(x16)
    assert not torch.allclose(
        before[1][0] * torch.exp2(before[1][1]), after[1][0] * torch.exp2(after[1][1])
    )


@pytest.mark.parametrize("pooling", ["product", "max"])
def test_gradients_match_finite_differences(pooling: str) -> None:
    net = MixedDilatedNet(
        8,
        2,
        2,
        2,
        dilations_a=(1, 2, 4),
        dilations_b=(1, 4, 2),
        interconnections=1,
        pooling=pooling,
        shared=False,
        dtype=F64,
        seed=9,
    )
    x = inputs(3, 8, 2)
    names = [k for k, _ in net.named_parameters()]

    def f(*params: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = torch.func.functional_call(
            net, dict(zip(names, params, strict=True)), (x,)
        )
        return out

    params = tuple(p.detach().clone().requires_grad_(True) for p in net.parameters())
    assert torch.autograd.gradcheck(f, params, eps=1e-6, atol=1e-6)


# --------------------------------------------------------------------- training
@pytest.mark.parametrize("pooling", ["max", "average", "product"])
def test_a_few_adam_steps_reduce_the_loss(pooling: str) -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 8, 2, generator=g)
    y = (x[:, :4, 0].sum(1) > x[:, 4:, 1].sum(1)).long()
    net = MixedDilatedNet(8, 2, 4, 2, interconnections=1, pooling=pooling, seed=1)
    opt = torch.optim.Adam(net.parameters(), lr=0.03)
    losses = []
    for _ in range(40):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0], losses[::8]


# ------------------------------------------------------------------ refusals
def test_nan_weights_are_reported() -> None:
    net = MixedDilatedNet(8, 2, 2, interconnections=1, dtype=F64)
    with torch.no_grad():
        net.weights["b_1_mix"][0, 0] = math.nan
    x = inputs(3, 8, 2)
    assert torch.isnan(net(x)).all()
    with pytest.raises(ValueError, match="scores: the network's output is NaN for 3 of 3"):
        net.scores(x)
    with pytest.raises(ValueError, match="coefficient_tensor: .* NaN"):
        net.coefficient_tensor()


def test_no_coefficient_tensor_for_relu_nets() -> None:
    with pytest.raises(ValueError, match="pooling: a max-pooling network is not multilinear"):
        MixedDilatedNet(8, 2, 2, pooling="max").coefficient_tensor()


# ------------------------------------------------------------------ properties
@st.composite
def configs(draw: Any) -> dict[str, Any]:
    n = draw(st.sampled_from([4, 8, 16]))
    depth = n.bit_length() - 1
    powers = [2**k for k in range(depth)]
    ds_a, ds_b = draw(st.permutations(powers)), draw(st.permutations(powers))
    a, b = dt.ModeTree.dilated(n, ds_a), dt.ModeTree.dilated(n, ds_b)
    available = len({len(s) for s in shared_nodes(a, b)})
    return {
        "n": n,
        "in_dim": draw(st.integers(1, 3)),
        "width": draw(st.lists(st.integers(1, 3), min_size=depth, max_size=depth)),
        "out_dim": draw(st.integers(1, 2)),
        "dilations_a": ds_a,
        "dilations_b": ds_b,
        "interconnections": draw(st.integers(0, available)),
        "shared": draw(st.booleans()),
        "seed": draw(st.integers(0, 100)),
    }


@given(cfg=configs())
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_property_scores_match_the_mixed_tensor(cfg: dict[str, Any]) -> None:
    net = MixedDilatedNet(**cfg, dtype=F64)
    x = inputs(4, cfg["n"], cfg["in_dim"], seed=cfg["seed"])
    assert rel_err(net.scores(x).detach().numpy(), mixed_scores(net, x)) <= 1e-10
    assert net.num_parameters == MixedDilatedNet.count_parameters(
        **{k: v for k, v in cfg.items() if k != "seed"}
    )
