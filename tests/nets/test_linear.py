"""DeepLinear: the product it computes, its initializations (balanced above all), bad input."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dltheory.nets.linear import INITS, DeepLinear, balanced_factors

F64 = torch.float64


def product(weights: list[torch.Tensor]) -> torch.Tensor:
    """W_N ... W_1, multiplied here independently of the module."""
    out = weights[0].detach()
    for w in weights[1:]:
        out = w.detach() @ out
    return out


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach(), b.detach()
    return float((a - b).norm() / b.norm())


def balance_gaps(weights: list[torch.Tensor]) -> list[float]:
    """max |W_{j+1}^T W_{j+1} - W_j W_j^T| for each j, straight from the definition (Eq. 6)."""
    ws = [w.detach() for w in weights]
    return [
        float((ws[j + 1].T @ ws[j + 1] - ws[j] @ ws[j].T).abs().max()) for j in range(len(ws) - 1)
    ]


# --------------------------------------------------------------------------- forward


@pytest.mark.parametrize("init", INITS)
@pytest.mark.parametrize("depth", [1, 2, 4])
def test_forward_is_x_times_end_to_end_transposed(init: str, depth: int) -> None:
    net = DeepLinear(6, 3, depth=depth, hidden=5, init=init, scale=0.7, seed=3, dtype=F64)
    x = torch.randn(11, 6, dtype=F64, generator=torch.Generator().manual_seed(0))
    e2e = net.end_to_end
    assert e2e.shape == (3, 6)
    assert rel(e2e, product(list(net.weights))) <= 1e-12
    out = net(x)
    assert out.shape == (11, 3) and out.dtype == F64
    assert rel(out, x @ e2e.T) <= 1e-10


def test_end_to_end_is_detached_copy() -> None:
    net = DeepLinear(3, 2, depth=1, dtype=F64)
    e = net.end_to_end
    assert not e.requires_grad
    e.zero_()  # must not write through to the parameter
    assert net.weights[0].detach().abs().max() > 0


@pytest.mark.parametrize(
    ("hidden", "widths"),
    [(None, [7, 7, 7]), (4, [4, 4, 4]), ([3, 8, 5], [3, 8, 5]), ((9, 4, 6), [9, 4, 6])],
)
def test_shapes(hidden: Any, widths: list[int]) -> None:
    # in 7 > out 2; every width >= min = 2, so the balanced init accepts them all
    net = DeepLinear(7, 2, depth=4, hidden=hidden, dtype=F64)
    dims = [7, *widths, 2]
    assert [tuple(w.shape) for w in net.weights] == [(dims[j + 1], dims[j]) for j in range(4)]
    assert net.hidden == tuple(widths)
    assert net(torch.zeros(5, 7, dtype=F64)).shape == (5, 2)


def test_depth_one_has_no_hidden_layer() -> None:
    net = DeepLinear(4, 3, depth=1, hidden=None)
    assert net.hidden == () and len(net.weights) == 1 and net.weights[0].shape == (3, 4)
    assert net.balancedness == 0.0


# --------------------------------------------------------------------------- balanced init


@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_balanced_init_is_exactly_balanced(data: st.DataObject) -> None:
    in_dim = data.draw(st.integers(1, 6), label="in_dim")
    out_dim = data.draw(st.integers(1, 6), label="out_dim")
    depth = data.draw(st.integers(1, 5), label="depth")
    r = min(in_dim, out_dim)
    hidden = data.draw(st.lists(st.integers(r, 8), min_size=depth - 1, max_size=depth - 1))
    seed = data.draw(st.integers(0, 2**16), label="seed")
    net = DeepLinear(in_dim, out_dim, depth=depth, hidden=hidden, seed=seed, dtype=F64)
    ws = list(net.weights)
    assert net.balancedness <= 1e-12
    scale = max(float(w.detach().norm()) ** 2 for w in ws)
    for gap in balance_gaps(ws):
        assert gap <= 1e-12 * scale
    # the end-to-end matrix is the drawn Gaussian one, not degenerate
    assert float(net.end_to_end.norm()) > 0


@pytest.mark.parametrize("scale", [None, 0.5, 3.0])
def test_balanced_init_end_to_end_entries_have_std_scale(scale: float | None) -> None:
    net = DeepLinear(40, 30, depth=3, hidden=50, scale=scale, seed=0, dtype=F64)
    expected = 1.0 / math.sqrt(40) if scale is None else scale
    e = net.end_to_end
    # 1200 i.i.d. N(0, s^2) entries: the sample std is within ~2% (1 sigma), allow 10%
    assert abs(float(e.std()) / expected - 1) < 0.1
    assert abs(float(e.mean())) < 0.1 * expected


# --------------------------------------------------------------------------- other inits


def test_near_zero_init_is_small_and_only_approximately_balanced() -> None:
    net = DeepLinear(5, 4, depth=3, hidden=6, init="near-zero", seed=0, dtype=F64)
    for w in net.weights:  # default scale 1e-3: Frobenius norm ~ 1e-3 * sqrt(entries) <= 6e-3
        assert 0 < float(w.detach().norm()) < 2e-2
    # scale-free balancedness of i.i.d. factors is O(1) at any scale ...
    assert net.balancedness > 1e-2
    loud = DeepLinear(5, 4, depth=3, hidden=6, init="near-zero", scale=1.0, seed=0, dtype=F64)
    assert loud.balancedness > 1e-2
    # ... while the absolute gap is O(scale^2): same draw, scaled by 1e-3
    gaps, loud_gaps = balance_gaps(list(net.weights)), balance_gaps(list(loud.weights))
    for g, lg in zip(gaps, loud_gaps, strict=True):
        assert g == pytest.approx(1e-6 * lg, rel=1e-9)


@pytest.mark.parametrize("scale", [None, 0.3])
def test_orthogonal_init_factors_are_scaled_semi_orthogonal(scale: float | None) -> None:
    # widths 3 < 5, 7 > 3, 2 < 7, 4 > 2: tall and wide factors alike
    net = DeepLinear(5, 4, depth=4, hidden=[3, 7, 2], init="orthogonal", scale=scale, dtype=F64)
    s = 1.0 if scale is None else scale
    for w in net.weights:
        w = w.detach()
        rows, cols = w.shape
        gram = w.T @ w if rows >= cols else w @ w.T
        eye = torch.eye(min(rows, cols), dtype=F64)
        assert float((gram - s**2 * eye).abs().max()) <= 1e-12


# --------------------------------------------------------------------------- from_end_to_end


def _matrices() -> list[tuple[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(1)
    full = torch.randn(4, 6, dtype=F64, generator=g)
    low = torch.randn(5, 2, dtype=F64, generator=g) @ torch.randn(2, 3, dtype=F64, generator=g)
    rank1 = torch.randn(3, 1, dtype=F64, generator=g) @ torch.randn(1, 4, dtype=F64, generator=g)
    zero_row = full.clone()
    zero_row[1] = 0
    return [
        ("full", full),
        ("full-T", full.T.contiguous()),
        ("rank2", low),
        ("rank1", rank1),
        ("zero-row", zero_row),
        ("tiny", 1e-9 * full),
        ("row", full[:1]),
        ("column", full[:, :1]),
    ]


@pytest.mark.parametrize(("name", "matrix"), _matrices(), ids=[n for n, _ in _matrices()])
@pytest.mark.parametrize("depth", [1, 2, 3, 5])
@pytest.mark.parametrize("hidden", [None, 6])
def test_from_end_to_end_reproduces_matrix_balanced(
    name: str, matrix: torch.Tensor, depth: int, hidden: int | None
) -> None:
    net = DeepLinear.from_end_to_end(matrix, depth, hidden=hidden, seed=2)
    assert (net.out_dim, net.in_dim) == tuple(matrix.shape)
    assert net.end_to_end.dtype == F64
    assert rel(net.end_to_end, matrix) <= 1e-12
    assert net.balancedness <= 1e-12
    scale = max(float(w.detach().norm()) ** 2 for w in net.weights)
    assert all(g <= 1e-12 * scale for g in balance_gaps(list(net.weights)))


@pytest.mark.parametrize("depth", [1, 2, 4])
def test_from_end_to_end_zero_matrix(depth: int) -> None:
    net = DeepLinear.from_end_to_end(torch.zeros(3, 5, dtype=F64), depth, hidden=4)
    for w in net.weights:
        assert torch.isfinite(w).all()
        assert float(w.detach().abs().max()) == 0.0
    assert float(net.end_to_end.abs().max()) == 0.0
    assert net.balancedness == 0.0


def test_from_end_to_end_float32_and_balanced_factors_directly() -> None:
    m = torch.randn(3, 4, generator=torch.Generator().manual_seed(0))
    net = DeepLinear.from_end_to_end(m, 3, hidden=[5, 3])
    assert all(w.dtype == torch.float32 for w in net.weights)
    assert rel(net.end_to_end, m) <= 1e-5
    ws = balanced_factors(m.double(), 3, [5, 3], seed=7)
    assert [tuple(w.shape) for w in ws] == [(5, 4), (3, 5), (3, 3)]
    assert rel(product(ws), m.double()) <= 1e-12


def test_from_end_to_end_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="matrix"):
        DeepLinear.from_end_to_end(torch.zeros(3), 2)
    with pytest.raises(TypeError, match="matrix"):
        DeepLinear.from_end_to_end(torch.zeros(2, 3, dtype=torch.int64), 2)
    with pytest.raises(ValueError, match="hidden"):
        DeepLinear.from_end_to_end(torch.zeros(4, 5, dtype=F64), 3, hidden=3)


# --------------------------------------------------------------------------- seeds and dtypes


@pytest.mark.parametrize("init", INITS)
def test_seed_determines_weights(init: str) -> None:
    def weights(seed: int) -> list[torch.Tensor]:
        net = DeepLinear(4, 3, depth=3, hidden=5, init=init, seed=seed, dtype=F64)
        return [w.detach() for w in net.weights]

    a, b, c = weights(5), weights(5), weights(6)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert all(not torch.equal(x, z) for x, z in zip(a, c, strict=True))


@pytest.mark.parametrize("init", INITS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype(init: str, dtype: torch.dtype) -> None:
    net = DeepLinear(4, 3, depth=3, init=init, dtype=dtype)
    assert all(w.dtype == dtype for w in net.weights)
    assert net.end_to_end.dtype == dtype
    assert net(torch.ones(2, 4, dtype=dtype)).dtype == dtype
    ref = DeepLinear(4, 3, depth=3, init=init, dtype=F64)
    # same seed: the float32 weights are the rounded float64 ones
    for w32, w64 in zip(net.weights, ref.weights, strict=True):
        torch.testing.assert_close(w32.detach().double(), w64.detach(), rtol=1e-6, atol=1e-7)


def test_default_dtype_is_float32() -> None:
    assert DeepLinear(2, 2, depth=2).weights[0].dtype == torch.float32


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "exc", "name"),
    [
        ({"depth": 0}, ValueError, "depth"),
        ({"depth": -1}, ValueError, "depth"),
        ({"depth": 1.5}, TypeError, "depth"),
        ({"depth": True}, TypeError, "depth"),
        ({"in_dim": 0}, ValueError, "in_dim"),
        ({"out_dim": 0}, ValueError, "out_dim"),
        ({"in_dim": 2.0}, TypeError, "in_dim"),
        ({"hidden": 3}, ValueError, "hidden"),  # < min(in 5, out 4) = 4, balanced
        ({"hidden": [6, 3]}, ValueError, "hidden"),
        ({"hidden": [6]}, ValueError, "hidden"),  # depth 3 needs 2 widths
        ({"hidden": [6, 6, 6]}, ValueError, "hidden"),
        ({"hidden": 0, "init": "near-zero"}, ValueError, "hidden"),
        ({"hidden": "66"}, TypeError, "hidden"),
        ({"hidden": 4.0}, TypeError, "hidden"),
        ({"init": "xavier"}, ValueError, "init"),
        ({"init": "Balanced"}, ValueError, "init"),
        ({"scale": -1.0}, ValueError, "scale"),
        ({"scale": float("nan")}, ValueError, "scale"),
        ({"scale": float("inf")}, ValueError, "scale"),
        ({"scale": "1"}, TypeError, "scale"),
        ({"scale": 1e200}, ValueError, "scale"),
        ({"scale": True}, TypeError, "scale"),
        ({"dtype": torch.int64}, TypeError, "dtype"),
        ({"dtype": torch.float16}, TypeError, "dtype"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs: dict[str, Any], exc: type, name: str) -> None:
    args: dict[str, Any] = {"in_dim": 5, "out_dim": 4, "depth": 3, **kwargs}
    with pytest.raises(exc, match=name):
        DeepLinear(**args)


def test_small_hidden_is_fine_without_balanced_init() -> None:
    # a bottleneck narrower than min(in, out) is legal for the other inits
    for init in ("near-zero", "orthogonal"):
        net = DeepLinear(5, 4, depth=3, hidden=1, init=init, dtype=F64)
        assert torch.linalg.matrix_rank(net.end_to_end) <= 1


@pytest.mark.parametrize("shape", [(3, 4), (5,), (2, 5, 1), (0, 6)])
def test_forward_rejects_wrong_shape(shape: tuple[int, ...]) -> None:
    net = DeepLinear(5, 2, depth=2, dtype=F64)
    with pytest.raises(ValueError, match="x"):
        net(torch.zeros(*shape, dtype=F64))


def test_forward_empty_batch() -> None:
    net = DeepLinear(5, 2, depth=2, dtype=F64)
    assert net(torch.zeros(0, 5, dtype=F64)).shape == (0, 2)


def test_too_many_parameters_refused_before_allocating() -> None:
    import time

    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=r"^in_dim: this needs about 2e\+12 entries \(16 TB\)"):
        DeepLinear(10**6, 10**6, 2)
    with pytest.raises(ValueError, match="^hidden: this needs about"):
        DeepLinear(5, 4, 3, hidden=10**9, init="near-zero")
    with pytest.raises(ValueError, match=r"^depth: expected an integer in \[1, 10000\]"):
        DeepLinear(5, 4, 10**7)
    with pytest.raises(ValueError, match="^hidden: this needs about"):
        balanced_factors(torch.eye(3, dtype=F64), 3, [10**6, 10**6])
    assert time.perf_counter() - t0 < 1.0


@pytest.mark.parametrize("init", INITS)
def test_largest_scale_gives_finite_float32_weights(init: str) -> None:
    net = DeepLinear(5, 4, depth=3, init=init, scale=1e6)
    assert all(torch.isfinite(w).all() for w in net.weights)
    with pytest.raises(ValueError, match=r"^scale: expected a finite number in \[0, 1000000\]"):
        DeepLinear(5, 4, depth=3, init=init, scale=1e200)


@pytest.mark.parametrize(
    ("kwargs", "exc", "name"),
    [
        ({"seed": 2**64}, ValueError, "seed"),
        ({"seed": 2**63}, ValueError, "seed"),
        ({"seed": -1}, ValueError, "seed"),
        ({"seed": 1.5}, TypeError, "seed"),
        ({"seed": True}, TypeError, "seed"),
        ({"seed": "1"}, TypeError, "seed"),
        ({"in_dim": True}, TypeError, "in_dim"),
        ({"hidden": True}, TypeError, "hidden"),
        ({"hidden": [True, 6]}, TypeError, r"hidden\[0\]"),
        ({"scale": 1j}, TypeError, "scale"),
        ({"scale": 1e7}, ValueError, "scale"),
        ({"dtype": "float32"}, TypeError, "dtype"),
        ({"device": "tpu9"}, ValueError, "device"),
        ({"device": 3}, TypeError, "device"),
    ],
)
def test_more_bad_arguments(kwargs: dict[str, Any], exc: type, name: str) -> None:
    args: dict[str, Any] = {"in_dim": 5, "out_dim": 4, "depth": 3, **kwargs}
    with pytest.raises(exc, match=f"^{name}: "):
        DeepLinear(**args)


def test_largest_seed_and_numpy_integers_accepted() -> None:
    import numpy as np

    net = DeepLinear(np.int64(5), np.int32(4), np.int64(3), hidden=np.array([6, 6]), seed=2**63 - 1)
    assert net.hidden == (6, 6) and all(torch.isfinite(w).all() for w in net.weights)


@pytest.mark.parametrize(
    ("matrix", "exc", "match"),
    [
        (torch.ones(3, 4, dtype=torch.complex128), TypeError, "^matrix: expected real values"),
        (torch.full((3, 4), float("nan"), dtype=F64), ValueError, "^matrix: has NaN"),
        (torch.zeros(0, 4, dtype=F64), ValueError, "^matrix: expected a non-empty"),
        (torch.ones(3, 4, dtype=torch.int64), TypeError, "^matrix: expected a float32 or float64"),
        ([[1.0, 2.0]], TypeError, "^matrix: expected a 2-D torch tensor"),
    ],
)
def test_end_to_end_matrix_checked(matrix: Any, exc: type, match: str) -> None:
    with pytest.raises(exc, match=match):
        balanced_factors(matrix, 2, [4])
    with pytest.raises(exc, match=match):
        DeepLinear.from_end_to_end(matrix, 2)


def test_balanced_factors_argument_types() -> None:
    m = torch.eye(3, dtype=F64)
    with pytest.raises(TypeError, match="^hidden: expected a sequence of integers"):
        balanced_factors(m, 2, 4)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="^hidden: expected 2 integers"):
        balanced_factors(m, 3, [4])
    with pytest.raises(TypeError, match="^seed: "):
        balanced_factors(m, 2, [4], seed=1.5)  # type: ignore[arg-type]


def test_forward_checks_and_casts_input() -> None:
    net = DeepLinear(5, 2, depth=2)  # float32
    with pytest.raises(TypeError, match="^x: expected real values"):
        net(torch.ones(3, 5, dtype=torch.complex64))
    with pytest.raises(ValueError, match="^x: has NaN or infinite values"):
        net(torch.full((3, 5), float("nan")))
    with pytest.raises(TypeError, match="^x: expected a torch tensor"):
        net([[0.0] * 5])  # type: ignore[arg-type]
    x = torch.randn(3, 5, dtype=F64)
    out = net(x)  # cast to the weights' dtype, as ConvAC does
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, net(x.float()))
