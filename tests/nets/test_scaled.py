"""The linear-space scaled product pooling and the block-ordered forward pass of ConvAC.

References: the plain product of the children (float64 autograd) for the pooling
primitive, and the former log-space route (``ConvAC._run_log_space``, float64)
for whole networks, whose values and gradients the new route must reproduce.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest
import torch

import dltheory as dt
from dltheory.nets import blockwise, scaled
from dltheory.nets.representation import make_representation
from dltheory.nets.scaled import UNDERFLOW, log_pool, pool_product

F64 = torch.float64


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _value(q: torch.Tensor, e: torch.Tensor | None) -> torch.Tensor:
    """``2**e * q`` in float64."""
    return q.double() * (1.0 if e is None else torch.exp2(e.double()))


# ------------------------------------------------------------------ the pooling primitive
@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 9, 16])
@pytest.mark.parametrize("as_list", [False, True])
def test_pool_product_is_the_product_and_its_gradient(k: int, as_list: bool) -> None:
    x = (torch.rand(k, 3, 5, 6, dtype=F64, generator=_gen(k)) - 0.5).requires_grad_()
    ex = torch.randint(-5, 5, (k, 3, 5, 1), generator=_gen(k + 1)).to(F64)
    children: Any = list(x.unbind(0)) if as_list and k <= 4 else x
    q, e, zero = pool_product(children, ex, None)
    assert zero is None and e is not None
    expected = torch.prod(x, dim=0) * torch.exp2(ex.sum(dim=0))
    torch.testing.assert_close(_value(q, e), expected.detach(), rtol=1e-13, atol=0)
    # a bound of every pooled vector stays well inside the dtype (rescaled, or left alone
    # when it is within LAZY of 1)
    assert q.abs().amax() <= scaled.LAZY
    g = torch.randn(q.shape, dtype=F64, generator=_gen(7))
    (grad,) = torch.autograd.grad((q * torch.exp2(e)).mul(g).sum(), x)
    (ref,) = torch.autograd.grad((expected * g).sum(), x)
    torch.testing.assert_close(grad, ref, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("as_list", [False, True])
def test_exact_zero_entries_take_the_zero_safe_gradient(as_list: bool) -> None:
    """g * p / x would be 0/0 where a child is 0; the partial products give the true gradient."""
    x = torch.rand(4, 2, 3, 5, dtype=F64, generator=_gen(3)) + 0.5
    x[1, 0, 2, 3] = 0.0
    x[2, 1, 0, 0] = 0.0
    x.requires_grad_()
    children: Any = list(x.unbind(0)) if as_list else x
    q, e, _ = pool_product(children, None, None)
    g = torch.randn(q.shape, dtype=F64, generator=_gen(4))
    (grad,) = torch.autograd.grad((_value(q, e) * g).sum(), x)
    (ref,) = torch.autograd.grad((torch.prod(x, 0) * g).sum(), x)
    assert torch.isfinite(grad).all()
    assert grad[1, 0, 2, 3] != 0  # the gradient at the zero is the product of the others
    torch.testing.assert_close(grad, ref, rtol=1e-12, atol=0)


def test_float32_underflow_is_recomputed_in_log_space() -> None:
    """Four children whose large channels never coincide: every product entry is 2^-135.

    That is below float32's normal range (2^-126): the direct product would lose
    digits, the pooled value must still be exact.
    """
    r = 4
    x = torch.full((4, 1, 1, r), 2.0**-45)
    for c in range(4):
        x[c, 0, 0, c] = 1.0
    x.requires_grad_()
    assert float(torch.prod(x.detach(), 0).abs().amax()) < UNDERFLOW  # (the direct product)
    q, e, _ = pool_product(x, None, None, positive=True)
    torch.testing.assert_close(_value(q, e), torch.full((1, 1, r), 2.0**-135, dtype=F64))
    g = torch.ones(q.shape)
    (grad,) = torch.autograd.grad((q * g).sum(), x)
    assert torch.isfinite(grad).all() and grad.abs().amax() > 0


def test_float32_overflow_is_recomputed_in_log_space() -> None:
    x = torch.full((4, 2, 1, 3), 2.0**40, requires_grad=True)  # product 2^160: inf in float32
    q, e, _ = pool_product(x, None, None)
    assert torch.isfinite(q).all()
    torch.testing.assert_close(_value(q, e), torch.full((2, 1, 3), 2.0**160, dtype=F64))
    (grad,) = torch.autograd.grad(q.sum(), x)
    assert torch.isfinite(grad).all()


def test_log_pool_keeps_nan_and_zeros() -> None:
    x = torch.ones(2, 1, 1, 3, dtype=F64)
    x[0, 0, 0, 0] = math.nan
    x[1, 0, 0, 1] = 0.0
    q, e = log_pool(x)
    assert math.isnan(q[0, 0, 0]) and q[0, 0, 1] == 0 and q[0, 0, 2] == 1


def test_zero_windows_are_flagged_not_recomputed() -> None:
    x = torch.rand(4, 3, 2, 5, dtype=F64, generator=_gen(5)) + 0.5
    x[2, 1] = 0.0  # window 1's third child is an all-zero vector (both batch rows)
    zero = torch.zeros(4, 3, 2, 1, dtype=torch.bool)
    zero[2, 1] = True
    q, e, zp = pool_product(x, None, zero)
    assert zp is not None and zp[1].all() and not zp[0].any()
    assert (q[1] == 0).all() and (q[0] != 0).all()


# ------------------------------------------------------------------ whole networks
TREES = [
    dt.ModeTree.grid((8, 8), window=(2, 2)),
    dt.ModeTree.grid((4, 8), window=(2, 2), geometry="mirror"),
    dt.ModeTree.dilated(16, [4, 1, 2, 8]),
    dt.ModeTree.chain(7),
    dt.ModeTree.flat(40),
    dt.ModeTree.from_nested([[3, 0], [[1], 4, 2]]),
]


def _pair(net_kwargs: dict[str, Any], tree: dt.ModeTree) -> tuple[dt.ConvAC, Any]:
    net = dt.ConvAC(tree, dtype=F64, seed=2, **net_kwargs)
    if net.representation == "one-hot":
        x = torch.randint(0, net.num_features, (5, tree.num_leaves, 1), generator=_gen(1))
        return net, x.to(F64)
    return net, torch.randn(5, tree.num_leaves, net.in_dim, dtype=F64, generator=_gen(1))


def _reference_logits(net: dt.ConvAC, x: torch.Tensor) -> torch.Tensor:
    """The former forward: log-space route, same normalization of the logits."""
    val, sign = net._run_log_space(x)
    if net.pooling != "product" or sign is None:
        return val
    return net.logit_scale * sign * torch.exp(val - val.amax(dim=1, keepdim=True))


def _grads(net: dt.ConvAC, logits: torch.Tensor) -> list[torch.Tensor]:
    y = torch.arange(logits.shape[0]) % logits.shape[1]
    loss = torch.nn.functional.cross_entropy(logits, y)
    return list(torch.autograd.grad(loss, list(net.parameters())))


CONFIGS = [
    {"in_dim": 3, "ranks": 3, "out_dim": 2},
    {"in_dim": 3, "ranks": 3, "out_dim": 2, "shared": True},
    {"in_dim": 3, "ranks": 3, "out_dim": 2, "positive": True, "representation": "similarity",
     "num_features": 3},
    {"in_dim": 3, "ranks": 3, "out_dim": 2, "positive": True, "representation": "affine",
     "num_features": 3, "representation_activation": "sigmoid", "shared": True},
    {"in_dim": 1, "ranks": 3, "out_dim": 2, "representation": "one-hot", "shared": True},
    {"in_dim": 1, "ranks": 3, "out_dim": 2, "representation": "one-hot", "positive": True,
     "num_features": 3, "shared": True},
    {"in_dim": 2, "ranks": 3, "out_dim": 2, "pooling": "max", "bias": True},
    {"in_dim": 2, "ranks": 3, "out_dim": 2, "pooling": "average", "bias": True, "shared": True},
    {"in_dim": 1, "ranks": 3, "out_dim": 2, "pooling": "max", "representation": "one-hot",
     "shared": True, "bias": True},
    {"in_dim": 1, "ranks": 3, "out_dim": 2, "pooling": "average", "representation": "one-hot",
     "shared": True, "bias": True},
]  # fmt: skip


@pytest.mark.parametrize("tree", TREES, ids=repr)
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(f"{v}" for v in c.values()))
def test_block_forward_equals_the_log_space_route(tree: dt.ModeTree, config: dict) -> None:
    """Values, log-scores and gradients of every parameter, float64, to rounding."""
    net, x = _pair(config, tree)
    with torch.no_grad():  # biases start at 0: make them matter
        for b in net.biases:
            b.uniform_(-0.5, 0.5, generator=_gen(9))
    logits = net(x)
    ref = _reference_logits(net, x)
    torch.testing.assert_close(logits, ref, rtol=1e-10, atol=1e-12)
    if net.pooling == "product":
        logh, sign = net.log_scores(x)
        ref_val, ref_sign = net._run_log_space(x)
        torch.testing.assert_close(logh, ref_val, rtol=1e-12, atol=1e-10)
        assert torch.equal(sign, torch.ones_like(sign) if ref_sign is None else ref_sign)
    for g, r in zip(_grads(net, logits), _grads(net, ref), strict=True):
        torch.testing.assert_close(g, r, rtol=1e-8, atol=1e-12)


def test_one_hot_first_level_is_tabulated_and_exact() -> None:
    tree = dt.ModeTree.grid((8, 8), window=(2, 2))
    net = dt.ConvAC(tree, 1, 4, 2, representation="one-hot", shared=True, dtype=F64)
    assert net._blocks.table is not None and net._blocks.table.digits.shape == (4, 16)
    unshared = dt.ConvAC(tree, 1, 4, 2, representation="one-hot", dtype=F64)
    assert unshared._blocks.table is None  # per-position weights: no shared table
    x = torch.randint(0, 2, (6, 1, 8, 8), generator=_gen(2)).to(F64)
    torch.testing.assert_close(net(x), _reference_logits(net, x), rtol=1e-12, atol=0)
    with pytest.raises(ValueError, match="^x: the one-hot representation needs integer"):
        net(torch.full((1, 1, 8, 8), 0.5, dtype=F64))


@pytest.fixture
def forced_paths(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every convolution split into blocks, every pooled product rescaled."""
    monkeypatch.setattr(blockwise, "SPLIT_BYTES", 0)
    monkeypatch.setattr(scaled, "LAZY", 1.0)
    yield


@pytest.mark.parametrize("config", CONFIGS[:4] + CONFIGS[7:8], ids=str)
def test_split_blocks_and_eager_rescaling_give_the_same_numbers(
    config: dict, forced_paths: None
) -> None:
    tree = dt.ModeTree.grid((8, 8), window=(2, 2))
    net, x = _pair(config, tree)
    logits = net(x)
    ref = _reference_logits(net, x)
    torch.testing.assert_close(logits, ref, rtol=1e-10, atol=1e-12)
    for g, r in zip(_grads(net, logits), _grads(net, ref), strict=True):
        torch.testing.assert_close(g, r, rtol=1e-8, atol=1e-12)


def test_affine_images_take_the_batched_product_with_the_same_values() -> None:
    rep = make_representation("affine", 3, 4, "tanh").double()
    img = torch.randn(2, 3, 5, 5, dtype=F64, generator=_gen(6))
    loc = img.flatten(2).transpose(1, 2)  # (B, N, s) view of (B, s, N), as for images
    torch.testing.assert_close(blockwise._representation(rep, loc), rep._forward(loc))
    seq = loc.contiguous()  # sequences: nn.Linear as before
    torch.testing.assert_close(blockwise._representation(rep, seq), rep._forward(seq))


# ------------------------------------------------------------------ float32 at N = 1024
@pytest.mark.parametrize("positive", [False, True])
def test_float32_at_1024_positions_matches_the_float64_reference(positive: bool) -> None:
    """log|h| to ~1e-3 absolute (|log h| ~ 500), the outputs norm-wise to 1e-4, same signs."""
    tree = dt.ModeTree.grid((32, 32), window=(2, 2))
    kw: dict[str, Any] = {"representation": "one-hot", "positive": positive, "seed": 3}
    net = dt.ConvAC(tree, 1, 16, 10, **kw)
    ref = dt.ConvAC(tree, 1, 16, 10, dtype=F64, **kw)
    ref.load_state_dict({k: v.double() for k, v in net.state_dict().items()})
    x = torch.randint(0, 2, (8, 1, 32, 32), generator=_gen(0)).float()
    with torch.no_grad():
        logh, sign = net.log_scores(x)
        big, big_sign = ref._run_log_space(x.double())
    big_sign = torch.ones_like(big) if big_sign is None else big_sign
    assert big.abs().max() > 100  # far outside float32's range
    assert torch.equal(sign.double(), big_sign)
    assert (logh.double() - big).abs().max() < 2e-3
    top = big.amax(dim=1, keepdim=True)
    normwise = (sign * torch.exp(logh.double() - top) - big_sign * torch.exp(big - top)).abs()
    assert normwise.max() < 1e-4


def _linear_grads(net: dt.ConvAC, logits: torch.Tensor) -> list[torch.Tensor]:
    """Gradients of a fixed linear functional of the logits (no softmax cancellation)."""
    g = torch.randn(logits.shape, generator=_gen(11)).to(logits.dtype)
    return list(torch.autograd.grad((logits * g).sum(), list(net.parameters())))


def test_float32_gradients_match_the_float64_log_space_reference() -> None:
    """Moderate N (256 positions): every parameter's gradient norm-wise to 1e-4.

    (The gradient of a linear functional of the logits: a cross-entropy of
    positive-net logits that agree to 1e-4 in ~180 cancels most digits, in
    either route.)
    """
    tree = dt.ModeTree.grid((16, 16), window=(2, 2))
    kw: dict[str, Any] = {"shared": True, "seed": 4}
    for net_kw in ({}, {"positive": True, "representation": "one-hot"}):
        in_dim = 1 if net_kw else 2
        net = dt.ConvAC(tree, in_dim, 8, 3, **kw, **net_kw)
        ref = dt.ConvAC(tree, in_dim, 8, 3, dtype=F64, **kw, **net_kw)
        ref.load_state_dict({k: v.double() for k, v in net.state_dict().items()})
        if net_kw:
            x = torch.randint(0, 2, (6, 1, 16, 16), generator=_gen(5)).float()
        else:
            x = torch.randn(6, 2, 16, 16, generator=_gen(5))
        grads = _linear_grads(net, net(x))
        refs = _linear_grads(ref, _reference_logits(ref, x.double()))
        for g, r in zip(grads, refs, strict=True):
            assert torch.isfinite(g).all()
            assert (g.double() - r).abs().max() <= 1e-4 * r.abs().max()


def test_shallow_1024_leaf_product_is_finite_and_accurate() -> None:
    """A flat (CP) tree multiplies 1024 children in one window, four at a time."""
    tree = dt.ModeTree.flat(1024)
    net = dt.ConvAC(tree, 1, 8, 2, representation="one-hot", positive=True, shared=True)
    ref = dt.ConvAC(tree, 1, 8, 2, representation="one-hot", positive=True, shared=True,
                    dtype=F64)  # fmt: skip
    ref.load_state_dict({k: v.double() for k, v in net.state_dict().items()})
    x = torch.randint(0, 2, (4, 1024, 1), generator=_gen(8)).float()
    logits = net(x)
    assert torch.isfinite(logits).all()
    assert (logits.double() - ref._run_log_space(x.double())[0]).abs().max() < 2e-3
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1, 0, 1])).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


def test_counts_of_a_large_window_keep_signs_and_exact_zeros() -> None:
    """Flat one-hot trees pool from level counts: negative factors' parity, exact 0 factors."""
    tree = dt.ModeTree.flat(30)
    net = dt.ConvAC(tree, 1, 4, 2, representation="one-hot", num_features=3, shared=True,
                    dtype=F64)  # fmt: skip
    assert net._blocks.table is not None and net._blocks.table.digits is None
    with torch.no_grad():
        net.weights[0][2, 1] = 0.0  # level 2 makes channel 1 exactly 0
    x = torch.randint(0, 2, (6, 30, 1), generator=_gen(12)).to(F64)
    x[0, 7] = 2.0  # example 0 has a level-2 position, the others not
    logh, sign = net.log_scores(x)
    ref, ref_sign = net._run_log_space(x)
    assert ref_sign is not None and torch.equal(sign, ref_sign)
    torch.testing.assert_close(logh, ref, rtol=1e-12, atol=1e-10)
    for g, r in zip(_grads(net, net(x)), _grads(net, _reference_logits(net, x)), strict=True):
        torch.testing.assert_close(g, r, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("factor", [1e-12, 1e12])
def test_float32_nets_with_tiny_or_huge_weights_stay_exact(factor: float) -> None:
    """Products of 1e-12 (or 1e12) factors leave float32's range at the first level;
    those levels are recomputed in log-space instead of returning 0 or inf."""
    tree = dt.ModeTree.grid((8, 8), window=(2, 2))
    net = dt.ConvAC(tree, 2, 4, 3, shared=True, seed=6)
    with torch.no_grad():
        for w in net.weights:
            w.mul_(factor)
    ref = dt.ConvAC(tree, 2, 4, 3, shared=True, dtype=F64)
    ref.load_state_dict({k: v.double() for k, v in net.state_dict().items()})
    x = torch.randn(4, 2, 8, 8, generator=_gen(13))
    logh, sign = net.log_scores(x)
    big, big_sign = ref._run_log_space(x.double())
    assert big_sign is not None and torch.equal(sign.double(), big_sign)
    assert (logh.double() - big).abs().max() < 1e-3 * big.abs().max()
    grads = _linear_grads(net, net(x))
    assert all(torch.isfinite(g).all() for g in grads)
