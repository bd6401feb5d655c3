"""The fused signed log-sum-exp convolution: values and hand-written gradients."""

from __future__ import annotations

import math

import pytest
import torch

from dltheory.nets.logconv import TINY, signed_log_conv


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


# ---------------------------------------------------------------- channels that are exactly zero
F64 = torch.float64


def _reference_loss(
    x: torch.Tensor, sign: torch.Tensor, w: torch.Tensor, g: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """``sum g * log|S|`` over the nonzero channels, by plain autograd (no NaN at S = 0)."""
    v = sign * torch.exp(x)
    s = v @ w if w.dim() == 2 else torch.einsum("bni,nio->bno", v, w)
    safe = torch.where(mask, s, torch.ones_like(s))
    return (g * torch.log(safe.abs()) * mask).sum()


@pytest.mark.parametrize("shared", [True, False])
def test_all_zero_row_gives_sign_zero_finite_log_and_zero_gradient(shared: bool) -> None:
    """A position whose inputs are all 0 (log|v| = -inf on the whole row): S = 0 exactly."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, 4, dtype=F64, generator=g)
    x[0, 1] = -torch.inf  # every channel of position 1 of example 0 is zero
    x.requires_grad_()
    sign = torch.where(torch.rand(2, 3, 4, generator=g) < 0.5, -1.0, 1.0).double()
    w = torch.randn(*((4, 2) if shared else (3, 4, 2)), dtype=F64, generator=g, requires_grad=True)
    out, out_sign = signed_log_conv(x, sign, w)
    # documented: sign 0, a finite stand-in for log 0, and an exact zero value
    assert (out_sign[0, 1] == 0).all()
    assert torch.isfinite(out).all()
    assert (out[0, 1] < -1e29).all()  # the -1e30 shift of an all -inf row, plus log(TINY)
    assert (out_sign * torch.exp(out))[0, 1].eq(0).all()
    # the other positions are untouched by the zero row
    v = sign * torch.exp(x.detach())
    ref = v @ w.detach() if shared else torch.einsum("bni,nio->bno", v, w.detach())
    torch.testing.assert_close(out_sign * torch.exp(out), ref)
    # backward: no NaN anywhere, zero gradient into the zero row, exact elsewhere
    up = torch.randn(out.shape, dtype=F64, generator=g)
    (up * out).sum().backward()
    assert x.grad is not None and w.grad is not None
    assert torch.isfinite(x.grad).all() and torch.isfinite(w.grad).all()
    assert (x.grad[0, 1] == 0).all()
    x2 = x.detach().clone().requires_grad_()
    w2 = w.detach().clone().requires_grad_()
    mask = torch.ones(out.shape, dtype=torch.bool)
    mask[0, 1] = False
    _reference_loss(x2, sign, w2, up, mask).backward()
    assert x2.grad is not None and w2.grad is not None
    grad_x = torch.where(torch.isfinite(x2.grad), x2.grad, torch.zeros_like(x2.grad))
    torch.testing.assert_close(x.grad, grad_x)
    torch.testing.assert_close(w.grad, w2.grad)


@pytest.mark.parametrize("log_input", [True, False])
def test_cancelling_channel_is_exactly_zero_next_to_a_nonzero_one(log_input: bool) -> None:
    """v = (1, -1), W = [[1, 1], [1, 2]]: S = (0, -1); channel 0 is zero by cancellation."""
    if log_input:
        x = torch.zeros(1, 1, 2, dtype=F64, requires_grad=True)  # log|v| = 0
        sign = torch.tensor([[[1.0, -1.0]]], dtype=F64)
    else:
        x = torch.tensor([[[1.0, -1.0]]], dtype=F64, requires_grad=True)
        sign = None
    w = torch.tensor([[1.0, 1.0], [1.0, 2.0]], dtype=F64, requires_grad=True)
    out, out_sign = signed_log_conv(x, sign, w, log_input=log_input)
    assert out_sign.tolist() == [[[0.0, -1.0]]]
    assert torch.isfinite(out).all() and out[0, 0, 1].item() == 0.0  # log|-1| = 0
    assert out[0, 0, 0].item() == pytest.approx(math.log(TINY))  # the finite stand-in for log 0
    out.sum().backward()
    assert x.grad is not None and w.grad is not None
    # only channel 1 contributes: d log|S_1| / d v_a = w_a1 / S_1 = (-1, -2); in log space
    # the chain rule multiplies by e_a = v_a = (1, -1)
    expected_x = [[[-1.0, 2.0]]] if log_input else [[[-1.0, -2.0]]]
    assert x.grad.tolist() == expected_x
    # d log|S_1| / d w_a1 = v_a / S_1 = (-1, 1); column 0 (the zero channel) gets 0
    assert w.grad.tolist() == [[0.0, -1.0], [0.0, 1.0]]


def test_zero_channel_flows_through_a_second_layer_without_nan() -> None:
    """Sign 0 from one layer makes the value 0 in the next, whatever its stand-in log-magnitude."""
    x = torch.tensor([[[0.0, 0.0]]], dtype=F64, requires_grad=True)
    sign = torch.tensor([[[1.0, -1.0]]], dtype=F64)
    w1 = torch.tensor([[1.0, 1.0], [1.0, 2.0]], dtype=F64, requires_grad=True)
    w2 = torch.tensor([[3.0], [5.0]], dtype=F64, requires_grad=True)
    a, sa = signed_log_conv(x, sign, w1)  # (0, -1)
    b, sb = signed_log_conv(a, sa, w2)  # 3 * 0 + 5 * (-1) = -5
    assert sb.item() == -1.0 and b.item() == pytest.approx(math.log(5.0), abs=1e-15)
    b.sum().backward()
    for t in (x, w1, w2):
        assert t.grad is not None and torch.isfinite(t.grad).all()
    assert w2.grad is not None and w2.grad[0, 0].item() == 0.0  # the zero channel's weight
