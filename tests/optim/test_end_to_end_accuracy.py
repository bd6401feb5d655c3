"""Accuracy of the fast end-to-end update (ICML'18 Eq. 7) against an exact answer.

The fast update goes through the Gram matrix ``W W^T`` (smaller side) and its
symmetric eigendecomposition, which squares the condition number.  These
tests pin down the tolerances stated in the module docstring of
:mod:`dltheory.optim.end_to_end` on matrices of *known* spectrum ``W = U diag(s)
V^T``, where the literal ``N``-term sum can be formed from the exact factors:

* float64, ``cond(W) <= 1e3`` (the Gram route): relative error ``<= 1e-10``;
* float64, ill-conditioned or rank-deficient (the SVD fallback): the SVD's
  accuracy, e.g. ``<= 1e-12`` at ``cond = 1e6``, and bit for bit the SVD path;
* float32 (float64 Gram route, no fallback): never worse than a float32 SVD
  (the previous implementation), ``<= 1e-6`` for ``cond <= 1e3``.
"""

from __future__ import annotations

import math

import pytest
import torch

from dltheory.optim import EndToEnd, end_to_end_update, end_to_end_update_reference
from dltheory.optim import end_to_end_rule as e2e

F64 = torch.float64
EPS64 = torch.finfo(F64).eps


def orthonormal(rows: int, cols: int, gen: torch.Generator) -> torch.Tensor:
    q, r = torch.linalg.qr(torch.randn(rows, rows, dtype=F64, generator=gen))
    return (q * torch.sign(torch.diagonal(r)))[:, :cols]


def known(
    rows: int, cols: int, s: torch.Tensor, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(W, G, U, s, V)`` with ``W = U diag(s) V^T`` and a random gradient ``G``."""
    gen = torch.Generator().manual_seed(seed)
    k = min(rows, cols)
    u, v = orthonormal(rows, k, gen), orthonormal(cols, k, gen)
    return (u * s) @ v.T, torch.randn(rows, cols, dtype=F64, generator=gen), u, s, v


def exact(
    u: torch.Tensor, s: torch.Tensor, v: torch.Tensor, g: torch.Tensor, n: int
) -> torch.Tensor:
    """The literal sum of Eq. 7 with ``[W W^T]^p = U s^(2p) U^T``, ``[W^T W]^p = V s^(2p) V^T``."""

    def left(p: float) -> torch.Tensor:
        return torch.eye(u.shape[0], dtype=F64) if p == 0 else (u * s ** (2 * p)) @ u.T

    def right(p: float) -> torch.Tensor:
        return torch.eye(v.shape[0], dtype=F64) if p == 0 else (v * s ** (2 * p)) @ v.T

    total = torch.zeros_like(g)
    for j in range(1, n + 1):
        total = total + left((j - 1) / n) @ g @ right((n - j) / n)
    return total


def spectrum(k: int, cond: float) -> torch.Tensor:
    """``k`` singular values from 1 down to ``1 / cond``, log-spaced."""
    if k == 1:
        return torch.ones(1, dtype=F64)
    return torch.logspace(0, -math.log10(cond), k, dtype=F64)


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach().double(), b.detach().double()
    return float((a - b).norm() / b.norm())


SMALL = [(3, 3), (4, 7), (7, 4), (1, 5), (5, 1), (6, 6)]  # NumPy / LAPACK path
LARGE = [(40, 50), (50, 40)]  # torch path
DEPTHS = [2, 3, 4, 6]


# --------------------------------------------------------------------------- float64


@pytest.mark.parametrize("shape", SMALL + LARGE)
@pytest.mark.parametrize("cond", [1.0, 10.0, 1e3])
@pytest.mark.parametrize("depth", DEPTHS)
def test_float64_well_conditioned_is_exact_to_1e10(
    shape: tuple[int, int], cond: float, depth: int
) -> None:
    w, g, u, s, v = known(*shape, spectrum(min(shape), cond), seed=depth)
    assert rel(end_to_end_update(w, g, depth), exact(u, s, v, g, depth)) <= 1e-10


@pytest.mark.parametrize("shape", [(3, 3), (4, 7), (7, 4), (40, 50)])
@pytest.mark.parametrize(("cond", "tol"), [(1e6, 1e-12), (1e10, 1e-9)])
@pytest.mark.parametrize("depth", DEPTHS)
def test_float64_ill_conditioned_falls_back_to_the_svd(
    shape: tuple[int, int], cond: float, tol: float, depth: int
) -> None:
    w, g, u, s, v = known(*shape, spectrum(min(shape), cond), seed=depth)
    out = end_to_end_update(w, g, depth)
    assert torch.equal(out, e2e._svd_update(w, g, depth))
    assert rel(out, exact(u, s, v, g, depth)) <= tol


@pytest.mark.parametrize("depth", [3, 4, 6])
def test_unguarded_gram_route_loses_what_the_docstring_says(depth: int) -> None:
    """The reason for the float64 fallback: the Gram route's error ~ cond^(2-2/N) eps / N."""
    cond = 1e6
    w, g, u, s, v = known(4, 7, spectrum(4, cond), seed=1)
    wg = torch.cat((w, g), dim=1).numpy()
    fast = e2e._gram_core_numpy(wg, 7, depth, EPS64, guarded=False)
    assert fast is not None
    err = rel(torch.from_numpy(fast), exact(u, s, v, g, depth))
    bound = 10 * 4 * EPS64 * cond ** (2 - 2 / depth) / depth
    assert err <= bound
    assert err > 1e-12  # ... while the SVD fallback is below 1e-12 here (test above)
    assert e2e._gram_core_numpy(wg, 7, depth, EPS64, guarded=True) is None


@pytest.mark.parametrize("shape", [(4, 6), (6, 4), (5, 5), (40, 50)])
@pytest.mark.parametrize("depth", [2, 3, 4])
def test_float64_rank_deficient_matches_exact_and_reference(
    shape: tuple[int, int], depth: int
) -> None:
    k = min(shape)
    s = torch.zeros(k, dtype=F64)
    s[: k // 2] = torch.linspace(1.0, 0.5, k // 2, dtype=F64)
    w, g, u, s, v = known(*shape, s, seed=depth)
    out = end_to_end_update(w, g, depth)
    assert torch.isfinite(out).all()
    assert rel(out, exact(u, s, v, g, depth)) <= 1e-12
    assert rel(out, end_to_end_update_reference(w, g, depth)) <= 1e-10


@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize("depth", [2, 3, 5])
def test_null_block_gradient_gives_exact_zeros(dtype: torch.dtype, depth: int) -> None:
    """G acting only between the left and right null spaces of W: every term of Eq. 7 vanishes."""
    w = torch.zeros(4, 5, dtype=dtype)
    w[0, 0], w[1, 1] = 2.0, 0.5
    g = torch.zeros(4, 5, dtype=dtype)
    g[2:, 2:] = torch.randn(2, 3, generator=torch.Generator().manual_seed(0)).to(dtype)
    out = end_to_end_update(w, g, depth)
    assert torch.isfinite(out).all()
    assert float(out.abs().max()) == 0.0


@pytest.mark.parametrize(
    ("dtype", "scales", "tol"),
    [
        (torch.float32, (1e-15, 1e15), 1e-5),
        (F64, (1e-150, 1e-90, 1e90, 1e150), 1e-12),
    ],
)
@pytest.mark.parametrize("shape", [(3, 4), (40, 50)])
@pytest.mark.parametrize("depth", [2, 4])
def test_extreme_scales_keep_homogeneity(
    dtype: torch.dtype, scales: tuple[float, ...], tol: float, shape: tuple[int, int], depth: int
) -> None:
    # Eq. 7 is homogeneous of degree 2(N-1)/N in W: no over- or underflow in between
    w, g, *_ = known(*shape, spectrum(min(shape), 10.0), seed=3)
    base = end_to_end_update(w, g, depth)
    for c in scales:
        out = end_to_end_update((c * w).to(dtype), g.to(dtype), depth)
        assert torch.isfinite(out).all()
        assert rel(out.double() / c ** (2 * (depth - 1) / depth), base) <= tol


# --------------------------------------------------------------------------- float32


@pytest.mark.parametrize("shape", SMALL + LARGE)
@pytest.mark.parametrize("cond", [10.0, 1e3, 1e6, 1e10])
@pytest.mark.parametrize("depth", DEPTHS)
def test_float32_is_no_worse_than_a_float32_svd(
    shape: tuple[int, int], cond: float, depth: int
) -> None:
    w64, g64, *_ = known(*shape, spectrum(min(shape), cond), seed=depth)
    w, g = w64.float(), g64.float()
    truth = e2e._svd_update(w.double(), g.double(), depth)  # the float32 matrix, in float64
    out = end_to_end_update(w, g, depth)
    assert out.dtype == torch.float32
    err, err_svd32 = rel(out, truth), rel(e2e._svd_update(w, g, depth), truth)
    assert err <= max(1.5 * err_svd32, 1e-6)
    if cond <= 1e3:
        assert err <= 1e-6  # a float32 Gram matrix would be off by ~1e-4 .. 1e-2 here


@pytest.mark.parametrize("shape", [(4, 6), (6, 4), (5, 5)])
@pytest.mark.parametrize("depth", [2, 3, 4])
@pytest.mark.parametrize("scale", [1e-4, 1.0, 1e4])
def test_float32_rank_deficient_matches_exact(
    shape: tuple[int, int], depth: int, scale: float
) -> None:
    k = min(shape)
    s = torch.zeros(k, dtype=F64)
    s[: k // 2] = scale * torch.linspace(1.0, 0.5, k // 2, dtype=F64)
    w, g, u, s, v = known(*shape, s, seed=depth)
    out = end_to_end_update(w.float(), g.float(), depth)
    assert torch.isfinite(out).all()
    # the float32 rounding noise (singular values ~ eps_32 s_max) is cut, as by the SVD;
    # kept, it would add ~ eps_32^(2/N) (N = 4: 3e-4)
    assert rel(out, exact(u, s, v, g, depth)) <= 1e-6


# --------------------------------------------------------------------------- paths


@pytest.mark.parametrize("shape", [(3, 3), (4, 7), (7, 4), (10, 64)])
@pytest.mark.parametrize("depth", [2, 3, 5])
def test_numpy_and_torch_paths_agree(shape: tuple[int, int], depth: int) -> None:
    w, g, *_ = known(*shape, spectrum(min(shape), 30.0), seed=depth)
    assert e2e._uses_numpy(w)
    fast = end_to_end_update(w, g, depth)
    assert rel(e2e._matrix_update_torch(w, g, depth), fast) <= 1e-13
    w32, g32 = w.float(), g.float()
    assert (
        rel(e2e._matrix_update_torch(w32, g32, depth), end_to_end_update(w32, g32, depth)) <= 2e-6
    )


def test_large_matrices_take_the_torch_path() -> None:
    assert not e2e._uses_numpy(torch.zeros(40, 50))
    assert not e2e._uses_numpy(torch.zeros(32, 512))  # NumPy's BLAS would go multi-threaded
    assert not e2e._uses_numpy(torch.zeros(3, 3, dtype=torch.float16))
    assert e2e._uses_numpy(torch.zeros(10, 64)) and e2e._uses_numpy(torch.zeros(64, 10))
    assert e2e._uses_numpy(torch.zeros(32, 256)) and e2e._uses_numpy(torch.zeros(3, 3))


@pytest.mark.parametrize(("dtype", "tol"), [(torch.bfloat16, 5e-2), (torch.float16, 5e-3)])
@pytest.mark.parametrize("shape", [(3, 4), (40, 50)])
def test_half_precision_works(dtype: torch.dtype, tol: float, shape: tuple[int, int]) -> None:
    # (a thin SVD is not implemented for half types on the CPU; the Gram route is).  cond 2:
    # singular values below max(out, in) * eps * s_max (0.39 s_max in bfloat16 at 40 x 50)
    # are rounding noise, cut as by the SVD
    w, g, *_ = known(*shape, spectrum(min(shape), 2.0), seed=0)
    out = end_to_end_update(w.to(dtype), g.to(dtype), 3)
    assert out.dtype == dtype
    truth = end_to_end_update(w.to(dtype).double(), g.to(dtype).double(), 3)
    assert rel(out, truth) <= tol


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_non_finite_large_weight_raises(bad: float, dtype: torch.dtype) -> None:
    w = torch.nn.Parameter(torch.randn(40, 50, dtype=dtype))
    with torch.no_grad():
        w[3, 7] = bad
    w.grad = torch.ones(40, 50, dtype=dtype)
    with pytest.raises(ValueError, match="lr"):
        EndToEnd([w], lr=0.5, depth=3).step()
    with pytest.raises(ValueError, match="NaN or infinite"):
        end_to_end_update(w.detach(), w.grad, 3)


def test_differentiable_when_autograd_asks() -> None:
    w = torch.randn(3, 4, dtype=F64, requires_grad=True)
    g = torch.randn(3, 4, dtype=F64)
    out = end_to_end_update(w, g, 3)
    assert out.requires_grad
    assert rel(out, end_to_end_update(w.detach(), g, 3)) <= 1e-12
    (grad,) = torch.autograd.grad(out.sum(), w)
    assert torch.isfinite(grad).all() and float(grad.abs().max()) > 0
    with torch.no_grad():
        assert not end_to_end_update(w, g, 3).requires_grad
