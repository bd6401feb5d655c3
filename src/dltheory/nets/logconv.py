"""The signed log-sum-exp 1x1 convolution as one autograd function.

Given channels carried as ``(log|v|, sign v)`` the next ConvAC layer needs
``S = W^T v`` again as ``(log|S|, sign S)``.  With the row maximum ``m`` of
``log|v|`` factored out, ``e = sign * exp(log|v| - m)`` lies in ``[-1, 1]`` and
``S = e^m (W^T e)``; so ``log|S| = m + log|W^T e|``.  The backward pass is
written out (``d log|s| / ds = 1/s``, ``d e / d log|v| = e``) so that a
training step costs two matrix products and a few elementwise operations per
layer, close to an ordinary ReLU convolution.  ``m`` is a constant shift: the
result is exact for any choice of it, so no gradient flows through it.

The module also keeps the whole former log-space forward pass of a ConvAC,
:func:`run_log_space`, as the reference of the tests.

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

import math
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from ._convac_plan import _Group, _Level
    from .convac import ConvAC

__all__ = ["TINY", "run_log_space", "signed_log_conv"]

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


# ------------------------------------------------------------------ the log-space route
def _conv(net: ConvAC, gi: int, vals: torch.Tensor) -> torch.Tensor:
    """Affine 1x1 convolution of group ``gi`` on ``(B, n, in)`` -> ``(B, n, out)``."""
    w = net._weight(gi)
    out = vals @ w if net.shared else torch.einsum("bni,nio->bno", vals, w)
    b = net._bias_of.get(gi)
    return out if b is None else out + net.biases[b]


def _log_conv(
    net: ConvAC, gi: int, logabs: torch.Tensor, sign: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    out, out_sign = signed_log_conv(logabs, sign, net._weight(gi))
    return out, (None if net.positive else out_sign)


def _act(net: ConvAC, u: torch.Tensor, grp: _Group) -> torch.Tensor:
    return torch.relu(u) if net.activation == "relu" and grp.target_level >= 0 else u


def _pool(
    net: ConvAC, a: torch.Tensor, sign: torch.Tensor | None, level: _Level
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Pool each window's children: a reshape for contiguous levels, else a padded gather."""
    b, k, r = a.shape
    neutral = -math.inf if net.pooling == "max" else 0.0
    if level.index is None:
        av = a.reshape(b, k // level.arity, level.arity, r)
        sv = None if sign is None else sign.reshape(av.shape)
    else:
        index = level.index.to(a.device)
        av = torch.cat([a, a.new_full((b, 1, r), neutral)], dim=1)[:, index]
        sv = None if sign is None else torch.cat([sign, sign.new_ones((b, 1, r))], 1)[:, index]
    if net.pooling == "product":  # log-magnitudes add, signs multiply
        return av.sum(dim=2), (None if sv is None else sv.prod(dim=2))
    if net.pooling == "max":
        return av.amax(dim=2), None
    if level.index is None:
        return av.mean(dim=2), None
    return av.sum(dim=2) / level.counts.to(a)[None, :, None], None


def run_log_space(net: ConvAC, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A ConvAC's root outputs through signed log-sum-exp convolutions: ``(log|h|, sign h)``.

    The route :class:`~dltheory.nets.ConvAC` took before
    :mod:`~dltheory.nets.blockwise`: positions last (``(B, n, r)``, depth-first
    order), every product-pooling channel a log-magnitude and a sign (``None``
    for positive weights), each convolution :func:`signed_log_conv`; max /
    average pooling as the plain network, ``(h, None)``.  Kept as the
    independent reference that the tests compare the new route with (float64).
    """
    loc = net.local_vectors(x)
    if net._leaf_perm is not None:
        loc = loc[:, net._leaf_perm.to(loc.device)]
    log_space = net.pooling == "product"
    rep = net.rep._log_forward(loc) if net.positive else net.rep._forward(loc)
    outs: dict[int, tuple[torch.Tensor, torch.Tensor | None]] = {}
    start = 0
    for gi in net._leaf_groups:
        grp = net._groups[gi]
        rows = rep[:, start : start + len(grp.nodes)]
        start += len(grp.nodes)
        if net.positive:
            outs[gi] = _log_conv(net, gi, rows, None)
        elif log_space:
            outs[gi] = signed_log_conv(rows, None, net._weight(gi), log_input=False)
        else:
            outs[gi] = (_act(net, _conv(net, gi, rows), grp), None)
    for level in net._levels:
        parts = [outs.pop(gi) for gi in level.feeders]
        a = parts[0][0] if len(parts) == 1 else torch.cat([p[0] for p in parts], dim=1)
        signs = [p[1] for p in parts if p[1] is not None]
        pooled_sign = None if not signs else signs[0] if len(signs) == 1 else torch.cat(signs, 1)
        pa, ps = _pool(net, a, pooled_sign, level)
        start = 0
        for gi in level.members:
            grp = net._groups[gi]
            rows = pa[:, start : start + len(grp.nodes)]
            srows = None if ps is None else ps[:, start : start + len(grp.nodes)]
            start += len(grp.nodes)
            if log_space:
                outs[gi] = _log_conv(net, gi, rows, srows)
            else:
                outs[gi] = (_act(net, _conv(net, gi, rows), grp), None)
    val, root_sign = outs[net._root_group]
    return val[:, 0, :], (None if root_sign is None else root_sign[:, 0, :])
