"""The end-to-end update rule (ICML'18 Eq. 7 / Eq. 10) and the EndToEnd optimizer.

The key property (Theorem 1): gradient descent on the balanced factors of a deep
linear network moves the end-to-end matrix as :class:`EndToEnd` moves a plain
parameter, up to ``O(lr)`` over a fixed time horizon.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.optim.optimizer import register_optimizer_step_post_hook

from dltheory.nets.linear import DeepLinear
from dltheory.optim import MAX_DEPTH, EndToEnd, end_to_end_update, end_to_end_update_reference

F64 = torch.float64


def randn(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(shape, dtype=F64, generator=torch.Generator().manual_seed(seed))


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach(), b.detach()
    return float((a - b).norm() / b.norm())


def closed_form(w: torch.Tensor, g: torch.Tensor, n: int) -> torch.Tensor:
    """||w||^(2-2/N) (g + (N-1) Pr_w g), Eq. 10, written out by hand."""
    norm = math.sqrt(sum(float(x) ** 2 for x in w))
    dot = sum(float(a) * float(b) for a, b in zip(w, g, strict=True))
    proj = w * (dot / norm**2)
    return norm ** (2 - 2 / n) * (g + (n - 1) * proj)


# --------------------------------------------------------------------------- the update rule


@settings(max_examples=50, deadline=None)
@given(
    rows=st.integers(1, 6),
    cols=st.integers(1, 6),
    depth=st.integers(1, 6),
    seed=st.integers(0, 2**16),
)
def test_fast_update_equals_literal_sum(rows: int, cols: int, depth: int, seed: int) -> None:
    w, g = randn(rows, cols, seed=seed), randn(rows, cols, seed=seed + 1)
    fast = end_to_end_update(w, g, depth)
    assert fast.shape == w.shape
    assert rel(fast, end_to_end_update_reference(w, g, depth)) <= 1e-10


@pytest.mark.parametrize("depth", [2, 3, 5])
def test_update_on_scaled_weight_scales_as_power(depth: int) -> None:
    # Eq. 7 is homogeneous of degree 2(N-1)/N in W: an independent check of the exponents
    w, g = randn(4, 3, seed=0), randn(4, 3, seed=1)
    base = end_to_end_update(w, g, depth)
    assert (
        rel(end_to_end_update(5.0 * w, g, depth), 5.0 ** (2 * (depth - 1) / depth) * base) < 1e-12
    )


def test_update_for_depth_two_is_explicit() -> None:
    # N = 2: G (W^T W)^(1/2) + (W W^T)^(1/2) G, with square roots from the SVD by hand
    w, g = randn(3, 5, seed=2), randn(3, 5, seed=3)
    u, s, vh = torch.linalg.svd(w, full_matrices=False)
    expected = g @ (vh.T * s) @ vh + (u * s) @ u.T @ g
    assert rel(end_to_end_update(w, g, 2), expected) <= 1e-12


@pytest.mark.parametrize("dim", [1, 2, 5])
@pytest.mark.parametrize("depth", [1, 2, 3, 6])
def test_vector_closed_form(dim: int, depth: int) -> None:
    w, g = randn(dim, seed=dim), randn(dim, seed=dim + 10)
    vec = end_to_end_update(w, g, depth)
    assert vec.shape == (dim,)
    row = end_to_end_update(w[None, :], g[None, :], depth)[0]
    assert rel(vec, row) <= 1e-10
    assert rel(vec, closed_form(w, g, depth)) <= 1e-10
    assert rel(row, end_to_end_update_reference(w[None, :], g[None, :], depth)[0]) <= 1e-10


def test_scalar_weight() -> None:
    # 0-D: ||w||^(2-2/N) * N * g
    out = end_to_end_update(torch.tensor(-2.0, dtype=F64), torch.tensor(3.0, dtype=F64), 4)
    assert out.shape == ()
    assert float(out) == pytest.approx(2.0**1.5 * 4 * 3.0, rel=1e-12)


@pytest.mark.parametrize("shape", [(), (5,), (3, 4), (2, 3, 2, 2)])
def test_depth_one_returns_grad_unchanged(shape: tuple[int, ...]) -> None:
    w, g = randn(*shape, seed=0), randn(*shape, seed=1)
    assert torch.equal(end_to_end_update(w, g, 1), g)
    assert torch.equal(end_to_end_update(torch.zeros_like(w), g, 1), g)


@pytest.mark.parametrize("shape", [(), (5,), (1, 5), (3, 4), (4, 3), (2, 3, 2, 2)])
@pytest.mark.parametrize("depth", [2, 3, 6])
def test_zero_weight_gives_zero_update(shape: tuple[int, ...], depth: int) -> None:
    g = randn(*shape, seed=4)
    out = end_to_end_update(torch.zeros(shape, dtype=F64), g, depth)
    assert torch.isfinite(out).all()
    assert float(out.abs().max()) == 0.0


@settings(max_examples=50, deadline=None)
@given(
    rows=st.integers(2, 6),
    cols=st.integers(2, 6),
    depth=st.integers(1, 6),
    data=st.data(),
)
def test_rank_deficient_weight(rows: int, cols: int, depth: int, data: st.DataObject) -> None:
    inner = data.draw(st.integers(1, min(rows, cols) - 1), label="inner")
    seed = data.draw(st.integers(0, 2**16), label="seed")
    w = randn(rows, inner, seed=seed) @ randn(inner, cols, seed=seed + 1)
    g = randn(rows, cols, seed=seed + 2)
    out = end_to_end_update(w, g, depth)
    assert torch.isfinite(out).all()
    assert rel(out, end_to_end_update_reference(w, g, depth)) <= 1e-10


def test_rank_deficient_with_exact_zero_rows_and_columns() -> None:
    w = randn(4, 5, seed=5)
    w[1] = 0
    w[:, 3] = 0
    g = randn(4, 5, seed=6)
    for depth in (2, 3, 4):
        out = end_to_end_update(w, g, depth)
        assert torch.isfinite(out).all()
        assert rel(out, end_to_end_update_reference(w, g, depth)) <= 1e-10


@pytest.mark.parametrize("depth", [1, 2, 4])
def test_conv_like_tensor_is_reshaped_to_matrix(depth: int) -> None:
    w, g = randn(4, 3, 2, 2, seed=7), randn(4, 3, 2, 2, seed=8)
    out = end_to_end_update(w, g, depth)
    assert out.shape == w.shape
    as_matrix = end_to_end_update(w.reshape(4, 12), g.reshape(4, 12), depth)
    assert torch.equal(out, as_matrix.reshape(w.shape))
    ref = end_to_end_update_reference(w.reshape(4, 12), g.reshape(4, 12), depth)
    assert rel(out, ref.reshape(w.shape)) <= 1e-10


def test_float32_is_close_to_float64() -> None:
    w, g = randn(5, 4, seed=9), randn(5, 4, seed=10)
    out32 = end_to_end_update(w.float(), g.float(), 3)
    assert out32.dtype == torch.float32
    assert rel(out32.double(), end_to_end_update(w, g, 3)) <= 1e-5


def test_shape_mismatch_raises() -> None:
    with pytest.raises(ValueError, match="grad"):
        end_to_end_update(torch.zeros(3, 4), torch.zeros(4, 3), 2)
    with pytest.raises(ValueError, match="grad"):
        end_to_end_update(torch.zeros(12), torch.zeros(3, 4), 2)
    with pytest.raises(ValueError):
        end_to_end_update_reference(torch.zeros(3, 4), torch.zeros(4, 3), 2)


@pytest.mark.parametrize(
    ("depth", "error"),
    [
        (0, ValueError),
        (-2, ValueError),
        (MAX_DEPTH + 1, ValueError),
        (10**9, ValueError),  # would run for minutes per step
        (1.5, TypeError),
        (2.0, TypeError),  # integers are integers (dltheory.validation.check_int)
        (True, TypeError),
        ("2", TypeError),
        (None, TypeError),
    ],
)
def test_bad_depth_raises(depth: object, error: type[Exception]) -> None:
    w = torch.ones(2, 3)
    with pytest.raises(error, match="^depth: "):
        end_to_end_update(w, w, depth)  # type: ignore[arg-type]
    with pytest.raises(error, match="^depth: "):
        end_to_end_update_reference(w, w, depth)  # type: ignore[arg-type]
    with pytest.raises(error, match="^depth: "):
        EndToEnd([torch.nn.Parameter(w)], lr=0.1, depth=depth)  # type: ignore[arg-type]


def test_numpy_integer_depth_and_lr_are_welcome() -> None:
    w = torch.nn.Parameter(torch.ones(2, 3))
    opt = EndToEnd([w], lr=np.float64(0.1), depth=np.int64(3))  # type: ignore[arg-type]
    assert type(opt.defaults["depth"]) is int and type(opt.defaults["lr"]) is float
    opt.add_param_group({"params": [torch.nn.Parameter(torch.ones(2))], "depth": np.int32(2)})
    assert type(opt.param_groups[1]["depth"]) is int


# --------------------------------------------------------------------------- Theorem 1


IN, OUT, HIDDEN = 5, 3, 7


def regression() -> tuple[torch.Tensor, torch.Tensor]:
    """20 points, targets from a planted 3 x 5 matrix (small enough that lr 1e-3 is gentle)."""
    x = randn(20, IN, seed=100)
    return x, x @ (0.2 * randn(OUT, IN, seed=101)).T


def loss_of(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return 0.5 * ((pred - y) ** 2).sum() / y.shape[0]


def trajectories(
    depth: int, lr: float, steps: int, unbalanced: bool = False
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(start, end-to-end after SGD on the factors, plain parameter after EndToEnd)."""
    x, y = regression()
    net = DeepLinear(IN, OUT, depth=depth, hidden=HIDDEN, seed=depth, dtype=F64)
    if unbalanced:  # same end-to-end matrix, factors far from balanced
        with torch.no_grad():
            net.weights[0].mul_(3.0)
            net.weights[-1].div_(3.0)
    start = net.end_to_end
    plain = torch.nn.Parameter(start.clone())
    sgd = torch.optim.SGD(net.parameters(), lr=lr)
    e2e = EndToEnd([plain], lr=lr, depth=depth)
    for _ in range(steps):
        sgd.zero_grad()
        loss_of(net(x), y).backward()
        sgd.step()
        e2e.zero_grad()
        loss_of(x @ plain.T, y).backward()
        e2e.step()
    return start, net.end_to_end, plain.detach().clone()


@pytest.mark.parametrize("depth", [2, 3, 4])
def test_end_to_end_follows_gradient_descent_on_balanced_factors(depth: int) -> None:
    start, deep, plain = trajectories(depth, 1e-3, 200)
    moved = float((plain - start).norm())
    assert moved > 0.2 * float(start.norm())  # the trajectory goes somewhere
    dev = float((deep - plain).norm())
    assert dev <= 1e-3 * float(plain.norm())
    assert dev <= 1e-3 * moved
    # O(lr) over a fixed horizon: half the rate, twice the steps, half the deviation
    _, deep_h, plain_h = trajectories(depth, 5e-4, 400)
    ratio = dev / float((deep_h - plain_h).norm())
    assert 1.6 <= ratio <= 2.5
    # the balanced start matters: same end-to-end matrix, unbalanced factors
    start_u, deep_u, plain_u = trajectories(depth, 1e-3, 200, unbalanced=True)
    assert torch.allclose(start_u, start, rtol=1e-12, atol=0)
    assert rel(plain_u, plain) <= 1e-10  # EndToEnd only sees the end-to-end matrix
    assert float((deep_u - plain_u).norm()) >= 10 * dev


def _one_step_velocities(lr: float, depth: int) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = regression()
    net = DeepLinear(IN, OUT, depth=depth, hidden=HIDDEN, seed=11, dtype=F64)
    start = net.end_to_end
    sgd = torch.optim.SGD(net.parameters(), lr=lr)
    loss_of(net(x), y).backward()
    sgd.step()
    plain = torch.nn.Parameter(start.clone())
    loss_of(x @ plain.T, y).backward()
    EndToEnd([plain], lr=lr, depth=depth).step()
    return (net.end_to_end - start) / lr, (plain.detach() - start) / lr


@pytest.mark.parametrize("depth", [2, 3, 5])
def test_one_step_first_order_consistency(depth: int) -> None:
    deep1, plain1 = _one_step_velocities(1e-4, depth)
    deep2, plain2 = _one_step_velocities(1e-5, depth)
    # the EndToEnd step is linear in lr: the same velocity at both rates
    assert rel(plain1, plain2) <= 1e-9
    err1, err2 = rel(deep1, plain1), rel(deep2, plain2)
    assert err1 <= 1e-2
    assert 5 <= err1 / err2 <= 20  # the difference of the steps is O(lr^2)


# --------------------------------------------------------------------------- the optimizer


def test_param_groups_with_different_depths() -> None:
    a = torch.nn.Parameter(randn(3, 4, seed=20))
    b = torch.nn.Parameter(randn(4, 2, seed=21))
    a_sgd = torch.nn.Parameter(a.detach().clone())
    ga, gb = randn(3, 4, seed=22), randn(4, 2, seed=23)
    opt = EndToEnd([{"params": [a], "depth": 1, "lr": 0.1}, {"params": [b]}], lr=0.05, depth=3)
    sgd = torch.optim.SGD([a_sgd], lr=0.1)
    b0 = b.detach().clone()
    for _ in range(3):
        a.grad, a_sgd.grad, b.grad = ga.clone(), ga.clone(), gb.clone()
        expected_b = b.detach() - 0.05 * end_to_end_update(b.detach(), gb, 3)
        opt.step()
        sgd.step()
        assert torch.equal(a.detach(), a_sgd.detach())  # depth 1 is plain SGD, bit for bit
        assert rel(b.detach(), expected_b) <= 1e-14
    assert opt.param_groups[1]["depth"] == 3 and opt.param_groups[1]["lr"] == 0.05
    assert not torch.equal(b.detach(), b0)


def test_params_without_grad_are_skipped() -> None:
    a = torch.nn.Parameter(randn(3, 4, seed=30))
    b = torch.nn.Parameter(randn(5, seed=31))
    a0, b0 = a.detach().clone(), b.detach().clone()
    b.grad = randn(5, seed=32)
    EndToEnd([a, b], lr=0.1, depth=2).step()
    assert a.grad is None and torch.equal(a.detach(), a0)
    assert rel(b.detach(), b0 - 0.1 * closed_form(b0, b.grad, 2)) <= 1e-12


def test_closure() -> None:
    x, y = regression()
    w = torch.nn.Parameter(randn(OUT, IN, seed=40))
    w0 = w.detach().clone()
    opt = EndToEnd([w], lr=1e-2, depth=3)
    calls = []

    def closure() -> float:
        calls.append(1)
        opt.zero_grad()
        loss = loss_of(x @ w.T, y)
        loss.backward()
        return loss.item()

    loss = opt.step(closure)
    assert len(calls) == 1
    assert loss == pytest.approx(float(loss_of(x @ w0.T, y)), rel=1e-14)
    g0 = torch.func.grad(lambda m: loss_of(x @ m.T, y))(w0)
    assert rel(w.detach(), w0 - 1e-2 * end_to_end_update(w0, g0, 3)) <= 1e-12
    assert opt.step() is None


@pytest.mark.parametrize("shape", [(3, 4), (6,), (2, 2, 3)])
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_parameter_raises_and_mentions_lr(shape: tuple[int, ...], bad: float) -> None:
    w = torch.nn.Parameter(randn(*shape, seed=50))
    with torch.no_grad():
        w.view(-1)[0] = bad
    w.grad = torch.ones(shape, dtype=F64)
    opt = EndToEnd([w], lr=0.5, depth=2)
    with pytest.raises(ValueError, match="lr"):
        opt.step()


@pytest.mark.parametrize(
    ("lr", "error"),
    [
        (0, ValueError),
        (0.0, ValueError),
        (-1e-3, ValueError),
        (float("nan"), ValueError),
        (float("inf"), ValueError),  # the first step would make every weight inf
        (True, TypeError),
        (1 + 1j, TypeError),
        ("0.1", TypeError),
    ],
)
def test_bad_lr_raises(lr: float, error: type[Exception]) -> None:
    p = torch.nn.Parameter(torch.ones(2, 2))
    with pytest.raises(error, match="^lr: "):
        EndToEnd([p], lr=lr)
    with pytest.raises(error, match="^lr: "):
        EndToEnd([{"params": [p], "lr": lr}], lr=0.1)


def test_bad_group_depth_raises() -> None:
    p = torch.nn.Parameter(torch.ones(2, 2))
    with pytest.raises(ValueError, match="depth"):
        EndToEnd([{"params": [p], "depth": 0}], lr=0.1)


@pytest.mark.parametrize("depth", [2, 3, 5])
def test_zero_start_is_a_fixed_point(depth: int) -> None:
    """W = 0 is a known fixed point for N >= 2, for EndToEnd and for GD on the factors.

    The update's every term has a positive power of W W^T or W^T W (Eq. 7), and
    every factor's gradient passes through the other (zero) factors.  Hence the
    paper's near-zero, not zero, initialization.  EndToEnd must stay at exactly 0
    without producing NaN (the fractional power of a zero singular value).
    """
    x, y = regression()
    w = torch.nn.Parameter(torch.zeros(OUT, IN, dtype=F64))
    v = torch.nn.Parameter(torch.zeros(IN, dtype=F64))
    opt = EndToEnd([w, v], lr=0.1, depth=depth)
    for _ in range(5):
        opt.zero_grad()
        (loss_of(x @ w.T, y) + ((x @ v - y[:, 0]) ** 2).mean()).backward()
        assert float(w.grad.abs().max()) > 0  # type: ignore[union-attr]
        opt.step()
    assert torch.equal(w.detach(), torch.zeros(OUT, IN, dtype=F64))
    assert torch.equal(v.detach(), torch.zeros(IN, dtype=F64))
    # the same holds for gradient descent on zero factors
    net = DeepLinear.from_end_to_end(torch.zeros(OUT, IN, dtype=F64), depth, hidden=HIDDEN)
    sgd = torch.optim.SGD(net.parameters(), lr=0.1)
    for _ in range(5):
        sgd.zero_grad()
        loss_of(net(x), y).backward()
        sgd.step()
    assert float(net.end_to_end.abs().max()) == 0.0
    # ... while depth 1 (plain GD) leaves zero at once
    w1 = torch.nn.Parameter(torch.zeros(OUT, IN, dtype=F64))
    loss_of(x @ w1.T, y).backward()
    EndToEnd([w1], lr=0.1, depth=1).step()
    assert float(w1.detach().abs().max()) > 0


def test_state_dict_round_trip() -> None:
    x, y = regression()

    def make(lr: float, depth: int) -> tuple[torch.nn.Parameter, EndToEnd]:
        w = torch.nn.Parameter(randn(OUT, IN, seed=60))
        b = torch.nn.Parameter(randn(OUT, seed=61))
        return w, EndToEnd([{"params": [w]}, {"params": [b], "depth": 1}], lr=lr, depth=depth)

    w, opt = make(1e-2, 3)
    state = copy.deepcopy(opt.state_dict())
    assert [g["depth"] for g in state["param_groups"]] == [3, 1]
    w2, opt2 = make(0.5, 2)
    opt2.load_state_dict(state)
    assert [(g["lr"], g["depth"]) for g in opt2.param_groups] == [(1e-2, 3), (1e-2, 1)]
    for p, o in ((w, opt), (w2, opt2)):
        loss_of(x @ p.T, y).backward()
        o.step()
    assert torch.equal(w.detach(), w2.detach())


def test_bad_added_group_is_refused_and_not_kept() -> None:
    p = torch.nn.Parameter(torch.ones(3))
    opt = EndToEnd([p], lr=0.1, depth=2)
    with pytest.raises(ValueError, match="depth"):
        opt.add_param_group({"params": [torch.nn.Parameter(torch.ones(2))], "depth": 0})
    with pytest.raises(ValueError, match="lr"):
        opt.add_param_group({"params": [torch.nn.Parameter(torch.ones(2))], "lr": -1.0})
    assert len(opt.param_groups) == 1


# --------------------------------------------------------------------------- the lean step


def test_step_bumps_the_version_counter_as_an_in_place_op_does() -> None:
    """The fast paths write through NumPy or add_ on a detached view: autograd must still see it."""
    for shape in [(3, 4), (40, 50), (6,), (2, 3, 2)]:
        w = torch.nn.Parameter(randn(*shape, seed=70))
        saved = (w**2).sum()  # saves w for backward
        w.grad = randn(*shape, seed=71)
        before = w._version
        EndToEnd([w], lr=1e-2, depth=3).step()
        assert w._version > before
        with pytest.raises(RuntimeError, match="inplace"):
            saved.backward()


@pytest.mark.parametrize("shape", [(), (6,), (3, 4), (5, 2), (40, 50), (4, 3, 2, 2)])
@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_step_equals_the_public_update(shape: tuple[int, ...], dtype: torch.dtype) -> None:
    w0, g = randn(*shape, seed=80).to(dtype), randn(*shape, seed=81).to(dtype)
    w = torch.nn.Parameter(w0.clone())
    w.grad = g.clone()
    EndToEnd([w], lr=0.01, depth=3).step()
    expected = w0 - 0.01 * end_to_end_update(w0, g, 3)
    assert rel(w.detach().double(), expected.double()) <= (
        1e-6 if dtype == torch.float32 else 1e-14
    )


def test_non_contiguous_parameter() -> None:
    base = randn(5, 3, seed=90)
    w = torch.nn.Parameter(base.T)  # a transposed view: strides (1, 3)
    assert not w.is_contiguous()
    w0, g = w.detach().clone(), randn(3, 5, seed=91)
    w.grad = g
    EndToEnd([w], lr=0.1, depth=2).step()
    assert rel(w.detach(), w0 - 0.1 * end_to_end_update(w0, g, 2)) <= 1e-14


def test_step_hooks_and_profiler_still_work() -> None:
    w = torch.nn.Parameter(randn(3, 4, seed=95))
    opt = EndToEnd([w], lr=1e-2, depth=2)
    calls: list[str] = []
    pre = opt.register_step_pre_hook(lambda o, args, kwargs: calls.append("pre"))
    post = opt.register_step_post_hook(lambda o, args, kwargs: calls.append("post"))
    w.grad = randn(3, 4, seed=96)
    opt.step()
    assert calls == ["pre", "post"]
    pre.remove()
    post.remove()
    glob = register_optimizer_step_post_hook(lambda o, args, kwargs: calls.append("global"))
    try:
        opt.step()
    finally:
        glob.remove()
    opt.step()
    assert calls == ["pre", "post", "global"]
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        opt.step()
        opt.zero_grad()
    names = {evt.name for evt in prof.events()}
    assert "Optimizer.step#EndToEnd.step" in names
    assert "Optimizer.zero_grad#EndToEnd.zero_grad" in names


def test_zero_grad() -> None:
    a, b = torch.nn.Parameter(randn(3, 4, seed=97)), torch.nn.Parameter(randn(5, seed=98))
    opt = EndToEnd([{"params": [a]}, {"params": [b], "depth": 1}], lr=0.1, depth=2)
    a.grad, b.grad = torch.ones(3, 4, dtype=F64), torch.ones(5, dtype=F64)
    opt.zero_grad(set_to_none=False)
    assert torch.equal(a.grad, torch.zeros(3, 4, dtype=F64))
    assert torch.equal(b.grad, torch.zeros(5, dtype=F64))
    opt.zero_grad()
    assert a.grad is None and b.grad is None
