"""The signed log-sum-exp 1x1 convolution as one autograd function.

Given channels carried as ``(log|v|, sign v)`` the next ConvAC layer needs
``S = W^T v`` again as ``(log|S|, sign S)``.  With the row maximum ``m`` of
``log|v|`` factored out, ``e = sign * exp(log|v| - m)`` lies in ``[-1, 1]`` and
``S = e^m (W^T e)``; so ``log|S| = m + log|W^T e|``.  The backward pass is
written out (``d log|s| / ds = 1/s``, ``d e / d log|v| = e``) so that a
training step costs two matrix products and a few elementwise operations per
layer, close to an ordinary ReLU convolution.  ``m`` is a constant shift: the
result is exact for any choice of it, so no gradient flows through it.

Zero channels.  An output channel whose sum is exactly 0 (all its inputs are
zero, i.e. ``log|v| = -inf`` on the whole row, or their terms cancel) has
``sign S = 0``; its log-magnitude, mathematically ``log 0 = -inf``, is the
finite stand-in ``m + log(TINY)`` (``|W^T e|`` is floored at :data:`TINY`), so
``sign * exp(log|S|)`` is exactly 0 and no ``-inf - (-inf)`` can appear
downstream.  A row that is entirely ``-inf`` is shifted by ``-1e30`` instead
of its maximum.  The gradient through a zero channel is 0 (``1/S`` is taken
as 0 where ``S = 0``, the subgradient at the kink of ``log|S|``), never NaN,
and the other channels' gradients are those of ``log|S|`` itself.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["signed_log_conv", "TINY"]

#: Floor of ``|S|`` before the logarithm (float32's smallest normal number is ~1.2e-38).
TINY = 1e-30


def _mm(e: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``(B, n, in) x ((in, out) shared | (n, in, out) per position) -> (B, n, out)``."""
    if w.dim() == 2:
        return e @ w
    return torch.bmm(e.transpose(0, 1), w).transpose(0, 1)


class _SignedLogConv(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, sign: torch.Tensor | None, w: torch.Tensor, log_input: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if log_input:
            # a row of zeros (all -inf) needs a finite shift; finite rows are untouched
            shift = x.amax(dim=-1, keepdim=True).clamp_min_(-1e30)
            e = torch.exp(x - shift)
            if sign is not None:
                e.mul_(sign)
        else:
            shift, e = None, x
        s = _mm(e, w)
        out_sign = torch.sign(s)
        mag = s.abs().clamp_min_(TINY)
        inv = out_sign / mag  # 1/s, and 0 where s == 0
        out = torch.log(mag)
        if shift is not None:
            out.add_(shift)
        ctx.save_for_backward(e, inv, w)
        ctx.log_input = log_input
        ctx.mark_non_differentiable(out_sign)
        return out, out_sign

    @staticmethod
    def backward(
        ctx: Any, g: torch.Tensor, _g_sign: torch.Tensor | None
    ) -> tuple[torch.Tensor | None, None, torch.Tensor | None, None]:
        e, inv, w = ctx.saved_tensors
        gs = g * inv
        gx = gw = None
        if ctx.needs_input_grad[0]:
            ge = _mm(gs, w.transpose(-1, -2))
            gx = ge * e if ctx.log_input else ge
        if ctx.needs_input_grad[2]:
            if w.dim() == 2:
                gw = e.reshape(-1, e.shape[-1]).T @ gs.reshape(-1, gs.shape[-1])
            else:
                gw = torch.bmm(e.transpose(0, 1).transpose(1, 2), gs.transpose(0, 1))
        return gx, None, gw, None


def signed_log_conv(
    x: torch.Tensor, sign: torch.Tensor | None, w: torch.Tensor, *, log_input: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(log|S|, sign S)`` for ``S = conv(v)``.

    Parameters
    ----------
    x : Tensor, shape (B, n, in)
        ``log|v|`` (``log_input=True``; ``-inf`` allowed for zeros) or ``v`` itself.
    sign : Tensor or None
        ``sign v`` for log inputs (``None``: all positive).
    w : Tensor, shape (in, out) or (n, in, out)
        Shared or per-position weights (linear space).

    Returns
    -------
    (Tensor, Tensor), each of shape (B, n, out)
        ``log|S|`` and ``sign S`` (-1, 0 or 1; not differentiable).  Where
        ``S = 0`` exactly the sign is 0 and ``log|S|`` a finite stand-in for
        ``-inf`` (see the module notes); its gradient there is 0.
    """
    out: tuple[torch.Tensor, torch.Tensor] = _SignedLogConv.apply(x, sign, w, log_input)
    return out
