"""Product pooling in linear space with one power-of-two scale per position.

A ConvAC with product pooling multiplies ``N`` local factors, so its channel
values span hundreds of orders of magnitude at ``N = 1024`` (Cohen, Sharir &
Shashua, COLT'16, eq. (2)).  Instead of carrying every channel as a sign and a
log-magnitude (:mod:`dltheory.nets.logconv`, a ``log`` and an ``exp`` per
channel and per layer), each position's channel vector ``v`` is carried here
as ``v = 2**E * q``: a linear vector ``q`` (signed: no separate sign tensor)
and a per-position integer exponent ``E``.  Then

* a 1x1 convolution is one matrix product of ``q`` (``E`` passes through);
* product pooling of ``k`` children is their elementwise product, the
  children's exponents add, and the product is rescaled by the power of two
  ``2**-e`` that brings its bound (largest entry, or Euclidean norm for
  signed values) into ``[1/2, 1)``; ``E`` gains ``e``.  A bound already
  within :data:`LAZY` (``2**8``) of 1 is left alone: the next products stay far
  inside the float range, and the rescale would cost a pass over the tensor.

Scaling by a power of two is exact, so the only rounding is that of the
products and of the matrix products themselves: the norm-wise error of every
position's vector stays at rounding level, as in log-space, with one
reduction per pooled position.  The exponents are integers (exact in
floating point), no gradient flows through them (the represented value does
not depend on the choice of scale), and the backward pass of a product is one
division per entry (or, with exact zeros, partial products).

Out of range.  A product whose bound leaves ``[2**-100, 2**100]``
(:data:`UNDERFLOW`; float32's normal numbers reach ``2**-126`` and ``2**128``)
although none of its children is exactly zero would lose digits: children
whose large channels never coincide, or huge weights.  Such a level is
recomputed through log-magnitudes by :func:`log_pool`, so the result stays
exact.  Exact zeros (an all-zero local vector) are tracked per position and
propagate as exact zeros.  Windows of more than four children (a flat,
CP-like tree) are multiplied four at a time, rescaled after each.
"""

from __future__ import annotations

import math
from functools import reduce
from typing import Any

import torch

__all__ = [
    "LN2",
    "UNDERFLOW",
    "log_pool",
    "normalize",
    "pool_product",
    "pow2_exponent",
]

#: ``log 2``: a scale ``2**E`` is ``exp(E * LN2)``.
LN2 = math.log(2.0)
#: A pooled product's bound outside ``[UNDERFLOW, 1 / UNDERFLOW]`` is recomputed in log-space.
UNDERFLOW = 2.0**-100
#: Bounds within this factor of 1 (``2**-8 .. 2**8``) are not rescaled: the next products
#: stay far inside float range, and a rescale would cost a pass over the tensor.
LAZY = 2.0**8
#: Most children multiplied by one product kernel (larger windows are chunked).
MAX_CHUNK = 4


def pow2_exponent(m: torch.Tensor) -> torch.Tensor:
    """The integer ``e`` with ``m < 2**e <= 2 m`` (``e = 0`` where ``m = 0``), in ``m``'s dtype."""
    return torch.frexp(m).exponent.to(m.dtype)


def _bound(t: torch.Tensor, positive: bool) -> torch.Tensor:
    """An upper bound ``m`` of the largest magnitude over the last axis, within ``sqrt(r)``.

    The largest entry for non-negative ``t``, else the Euclidean norm (one pass,
    where ``aminmax`` takes several); no gradient.
    """
    with torch.no_grad():
        if positive:
            return t.amax(dim=-1, keepdim=True)
        if t.stride(-1) != 1:  # e.g. image channels: vector_norm is slow across strides
            return t.abs().amax(dim=-1, keepdim=True)
        return torch.linalg.vector_norm(t, dim=-1, keepdim=True)


def normalize(
    f: torch.Tensor, positive: bool = False
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """``f = 2**e * q`` per position, with ``max |q|`` in ``[1/2, 1)``.

    Returns ``(q, e, zero)``: ``e`` of shape ``f.shape[:-1] + (1,)``, and the
    positions whose vector is exactly 0 (``None`` when there are none).  When
    every position's bound is within :data:`LAZY` of 1, ``f`` is returned as it
    is, with ``e = None`` (all 0).
    """
    m = _bound(f, positive)
    lo, hi = float(m.amin()), float(m.amax())
    if 1.0 / LAZY <= lo and hi <= LAZY:
        return f, None, None
    e = pow2_exponent(m)
    zero = (m == 0) if lo == 0 else None
    return f * torch.exp2(-e), e, zero


class _Product(torch.autograd.Function):
    """Product of ``k <= 4`` children ``(n, B, r)``, rescaled by a power of two per position.

    The children come either as one ``(k, n, B, r)`` tensor (a convolution's
    output in block order: one ``prod`` kernel, no copy) or as ``k`` separate
    tensors (the first level's blocks, each from its own matrix product, so
    that no ``(k, n, B, r)`` tensor is allocated: at ``r = 128`` and batch 64 it
    would be 32 MiB, which the C allocator maps and faults in afresh on every
    call).

    Backward: the gradient of child ``c`` is ``g * p / x_c`` (one division per
    entry) when ``divide`` is set and every entry of the product is at least
    :data:`UNDERFLOW` in magnitude, so that the quotient, the product of the
    other children, is accurate to a few roundings; else (exact zeros, entries
    near float's subnormal range) it is ``g * s * prod_{c' != c} x_c'`` from
    partial products, which is zero-safe.
    """

    @staticmethod
    def forward(
        ctx: Any, positive: bool, whole: bool, divide: bool, *inputs: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor, float, float]:
        xs = inputs[0].unbind(0) if whole else inputs
        if len(xs) == 1:
            p = xs[0].clone()
        elif whole:
            p = torch.prod(inputs[0], dim=0)
        else:
            p = xs[0] * xs[1]
            for x in xs[2:]:
                p.mul_(x)
        m = _bound(p, positive)
        lo, hi = float(m.amin()), float(m.amax())
        e = s = None
        if not (1.0 / LAZY <= lo and hi <= LAZY):  # else the product is left as it is
            e = pow2_exponent(m)
            s = torch.exp2(-e)
            p.mul_(s)
            ctx.mark_non_differentiable(e)
        ctx.whole, ctx.divide, ctx.positive = whole, divide, positive
        ctx.save_for_backward(p, s, *inputs)
        ctx.mark_non_differentiable(m)
        return p, e, m, lo, hi

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor, *_: torch.Tensor | None) -> tuple[Any, ...]:
        p, s, *inputs = ctx.saved_tensors
        xs = inputs[0].unbind(0) if ctx.whole else inputs
        if ctx.divide and len(xs) > 1:
            smallest = p.amin() if ctx.positive else p.abs().amin()
            if float(smallest) >= UNDERFLOW:  # (NaN fails too: the partial products follow)
                t = g * p
                if ctx.whole:
                    return None, None, None, t / inputs[0]
                return (None, None, None, *[t / x for x in xs])
        gs = g if s is None else g * s
        grads = []
        for c in range(len(xs)):  # gs times the product of the other children
            others = [x for i, x in enumerate(xs) if i != c]
            grads.append(reduce(torch.mul, others, gs))
        if ctx.whole:
            return None, None, None, torch.stack(grads)
        return (None, None, None, *grads)


def _pad(t: torch.Tensor, k: int, value: float | bool) -> torch.Tensor:
    """``t`` with ``k - len(t)`` neutral children appended along axis 0."""
    extra = t.new_full((k - t.shape[0],) + tuple(t.shape[1:]), value)
    return torch.cat([t, extra])


def pool_product(
    x: torch.Tensor | list[torch.Tensor],
    ex: torch.Tensor | None,
    zero: torch.Tensor | None,
    positive: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """Product pooling of scaled children -> ``(n, B, r)``.

    Parameters
    ----------
    x : Tensor of shape (k, n, B, r), or a list of k tensors (n, B, r)
        Child ``c`` of window ``j`` is ``x[c][j]`` (padding children: 1).
    ex : Tensor of shape (k, n, B, 1), or None
        The children's exponents (``value = 2**ex * x``; ``None``: all 0).
    zero : Tensor or None, shape (k, n, B, 1)
        Children that are exactly zero vectors (``None``: none is).
    positive : bool
        Whether every entry is >= 0 (a cheaper bound).

    Returns
    -------
    (q, E, zero)
        The pooled vectors (``|q| < 1``, with norm or largest entry at least
        1/2; or 0), their exponents, and the windows that are exactly zero
        (``None``: none).  A window whose product leaves ``[2**-100, 2**100]``
        although no child is zero (children with a huge range, or huge
        weights) is recomputed by :func:`log_pool`.
    """
    zp = None if zero is None else zero.any(dim=0)
    k = len(x)
    if k <= MAX_CHUNK:
        whole = isinstance(x, torch.Tensor)
        q, e_total, m, lo, hi = _Product.apply(positive, whole, True, *([x] if whole else x))
        # the extreme bounds settle the usual case; NaN fails them and takes the slow check
        bad = None if UNDERFLOW <= lo and hi <= 1.0 / UNDERFLOW else _out_of_range(m)
    else:
        q, e_total, bad = _staged(x if isinstance(x, torch.Tensor) else torch.stack(x), positive)
    if bad is not None:
        if zp is not None:
            bad = bad & ~zp
        if bool(bad.any()):
            q, e_total = log_pool(x if isinstance(x, torch.Tensor) else torch.stack(x))
    if ex is None:
        return q, e_total, zp
    ex = ex.sum(dim=0)
    return q, (ex if e_total is None else ex.add_(e_total)), zp


def _out_of_range(m: torch.Tensor) -> torch.Tensor:
    """Bounds outside ``[UNDERFLOW, 1 / UNDERFLOW]`` (or NaN): the product may have lost digits."""
    return ~((m >= UNDERFLOW) & (m <= 1.0 / UNDERFLOW))


def _staged(x: torch.Tensor, positive: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Multiply ``k > 4`` children four at a time; flag windows that may have underflowed."""
    k, n = x.shape[0], x.shape[1]
    rest = tuple(x.shape[2:])
    acc: torch.Tensor | None = None  # exponents of the partial products, (chunks, n, B, 1)
    bad: torch.Tensor | None = None
    while True:
        chunks = -(-k // MAX_CHUNK)
        if chunks > 1 and k % MAX_CHUNK:
            x = _pad(x, chunks * MAX_CHUNK, 1.0)
            if acc is not None:
                acc = _pad(acc, chunks * MAX_CHUNK, 0.0)
            k = chunks * MAX_CHUNK
        width = k // chunks  # children per chunk (k itself when it fits in one)
        q, e, m, _, _ = _Product.apply(positive, True, False, x.reshape((width, chunks * n) + rest))
        e = torch.zeros_like(m) if e is None else e
        e = e.reshape((chunks, n) + tuple(e.shape[1:]))
        if acc is not None:
            e = e + acc.reshape((width, chunks, n) + tuple(acc.shape[2:])).sum(dim=0)
        low = _out_of_range(m)
        low = low.reshape((chunks, n) + tuple(low.shape[1:])).any(dim=0)
        bad = low if bad is None else bad | low
        if chunks == 1:
            return q.reshape((n,) + rest), e[0], bad
        x, acc, k = q.reshape((chunks, n) + rest), e, chunks


def log_pool(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The same product pooling computed through log-magnitudes (the underflow-safe fallback).

    ``x`` is ``(k, n, B, r)``; returns ``(q, e)`` for the product of the
    ``k`` children (without their own exponents): ``q`` has largest magnitude
    in ``(1/2, 1]`` (or is 0) and ``e`` is an integer exponent.  Zero channels
    give exact zeros and zero gradients.
    """
    mag = x.abs()
    nonzero = mag > 0
    logs = torch.log(torch.where(nonzero, mag, torch.ones_like(mag))).sum(dim=0)
    xd = x.detach()
    sign = (torch.sign(xd) + xd * 0).prod(dim=0)  # + 0 * x: NaN stays NaN (sign(NaN) is 0)
    logs = logs.masked_fill(sign == 0, -math.inf)
    with torch.no_grad():
        shift = logs.amax(dim=-1, keepdim=True)
        shift = torch.where(torch.isfinite(shift), shift, torch.zeros_like(shift))
        e = torch.ceil(shift / LN2)
    return sign * torch.exp(logs - e * LN2), e
