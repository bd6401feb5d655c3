"""The fused signed log-sum-exp convolution: values and hand-written gradients."""

from __future__ import annotations

import pytest
import torch

from dltheory.nets.logconv import signed_log_conv


@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize("log_input", [True, False])
def test_values_and_gradcheck(shared: bool, log_input: bool) -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 4, 5, dtype=torch.float64, generator=g, requires_grad=True)
    sign = torch.where(torch.rand(3, 4, 5, generator=g) < 0.5, -1.0, 1.0).double()
    shape = (5, 2) if shared else (4, 5, 2)
    w = torch.randn(*shape, dtype=torch.float64, generator=g, requires_grad=True)
    out, out_sign = signed_log_conv(x, sign if log_input else None, w, log_input=log_input)
    v = sign * torch.exp(x) if log_input else x
    ref = v @ w if shared else torch.einsum("bni,nio->bno", v, w)
    torch.testing.assert_close(out_sign * torch.exp(out), ref)
    assert torch.autograd.gradcheck(
        lambda a, b: signed_log_conv(a, sign if log_input else None, b, log_input=log_input)[0],
        (x, w),
    )


def test_huge_log_magnitudes_do_not_overflow() -> None:
    x = torch.full((2, 3, 4), 5000.0, requires_grad=True)  # exp(5000) overflows any float
    w = torch.ones(4, 2)
    out, sign = signed_log_conv(x, None, w)
    torch.testing.assert_close(
        out, torch.full((2, 3, 2), 5000.0 + torch.log(torch.tensor(4.0)).item())
    )
    out.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_exact_zero_gives_zero_sign_and_finite_gradient() -> None:
    x = torch.zeros(1, 1, 2, requires_grad=True)  # linear input: v = 0 exactly
    w = torch.ones(2, 1, requires_grad=True)
    out, sign = signed_log_conv(x, None, w, log_input=False)
    assert sign.item() == 0.0
    out.sum().backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(w.grad).all()
