"""The network and training loop of claim ``overparam-convnet``: TensorFlow's MNIST tutorial.

The convolutional network of ``tensorflow/models``,
``tutorials/image/mnist/convolutional.py`` (the network Arora, Cohen & Hazan,
ICML 2018, overparameterized), at 8x8 input, with its initialization,
optimizer, L2 objective and dropout, and its overparameterized twin whose
dense weights are products of two matrices.  The protocol is described in
:mod:`dltheory.claims.overparam_convnet`.
"""

from __future__ import annotations

import functools
import hashlib
import math
import statistics
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..data import load_digits
from ._util import derive_seed

__all__ = [
    "BATCH_SIZE",
    "ConvNet",
    "Dense",
    "L2_WEIGHT",
    "VARIANTS",
    "build",
    "collapse_into",
    "count_params",
    "iterations_to_target",
    "learning_rate",
    "train_curve",
    "subsample",
]

#: ``original``: the tutorial ConvNet; ``overparam``: each dense layer a product of two matrices.
VARIANTS = ("original", "overparam")

# -- the tutorial's constants (tensorflow/models tutorials/image/mnist/convolutional.py) --
#: Minibatch size.
BATCH_SIZE = 64
#: Weight of the L2 term ``sum(t ** 2) / 2`` of the dense weights and biases.
L2_WEIGHT = 5e-4
_LR0 = 0.01
_DECAY_RATE = 0.95
_DECAY_EXAMPLES = 55000  # the tutorial's training-set size: one decay per "epoch" of MNIST
_MOMENTUM = 0.9
_KEEP = 0.5  # dropout keep probability
_INIT_STD = 0.1
_CONV1_BIAS, _CONV2_BIAS, _DENSE_BIAS = 0.0, 0.1, 0.1
_KERNEL = 5
_CONV1, _CONV2 = 32, 64
_HIDDEN = 512
_CLASSES = 10
_SIDE = 8  # digits are 8x8 (MNIST: 28x28)
_FLAT = _CONV2 * (_SIDE // 4) ** 2  # 256 (MNIST: 3136)


def _trunc_normal(shape: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
    """TensorFlow's ``truncated_normal(stddev=0.1)``: normal, redrawn beyond two std."""
    t = torch.empty(shape, dtype=torch.float32)
    return nn.init.trunc_normal_(t, 0.0, _INIT_STD, -2 * _INIT_STD, 2 * _INIT_STD, generator=gen)


class Dense(nn.Module):
    """A dense layer ``x -> W x + b``, with ``W`` one matrix or a product of two.

    Parameters
    ----------
    fan_in, fan_out : int
        Input and output widths.
    overparam : bool
        If true, ``W = W2 @ W1`` with ``W1`` of shape ``(k, fan_in)`` and ``W2`` of
        shape ``(fan_out, k)``, ``k = min(fan_in, fan_out)``: the product can be any
        matrix, so the layer expresses the same functions (ACH 2018, Section 8).
    gen : torch.Generator
        Draws the weight matrices (truncated normal, std 0.1, in order ``W1, W2``).
    """

    def __init__(self, fan_in: int, fan_out: int, overparam: bool, gen: torch.Generator) -> None:
        super().__init__()
        k = min(fan_in, fan_out)
        shapes = [(k, fan_in), (fan_out, k)] if overparam else [(fan_out, fan_in)]
        self.factors = nn.ParameterList([nn.Parameter(_trunc_normal(s, gen)) for s in shapes])
        self.bias = nn.Parameter(torch.full((fan_out,), _DENSE_BIAS))

    def end_to_end(self) -> torch.Tensor:
        """The matrix the layer applies: the product of its factors (last on the left)."""
        w = self.factors[0]
        for f in list(self.factors)[1:]:
            w = f @ w
        return w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for f in self.factors:
            x = F.linear(x, f)
        return x + self.bias

    def l2(self) -> torch.Tensor:
        """``(|W|^2 + |b|^2) / 2`` of the end-to-end matrix ``W`` (TensorFlow's ``l2_loss``)."""
        return (self.end_to_end().square().sum() + self.bias.square().sum()) / 2


class ConvNet(nn.Module):
    """TensorFlow's MNIST tutorial ConvNet on 8x8 input, dense layers plain or factorized.

    Parameters
    ----------
    variant : {"original", "overparam"}
    conv_gen, dense_gen : torch.Generator
        Draw the convolution weights (``conv1`` then ``conv2``) and the dense
        matrices (``fc1`` then ``fc2``); biases are the tutorial's constants.
    """

    def __init__(self, variant: str, conv_gen: torch.Generator, dense_gen: torch.Generator) -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"variant: expected one of {VARIANTS}, got {variant!r}")
        over = variant == "overparam"
        self.variant = variant
        self.conv1 = nn.Conv2d(1, _CONV1, _KERNEL, padding=_KERNEL // 2)
        self.conv2 = nn.Conv2d(_CONV1, _CONV2, _KERNEL, padding=_KERNEL // 2)
        with torch.no_grad():
            for conv, bias in ((self.conv1, _CONV1_BIAS), (self.conv2, _CONV2_BIAS)):
                conv.weight.copy_(_trunc_normal(tuple(conv.weight.shape), conv_gen))
                assert conv.bias is not None
                conv.bias.fill_(bias)
        self.fc1 = Dense(_FLAT, _HIDDEN, over, dense_gen)
        self.fc2 = Dense(_HIDDEN, _CLASSES, over, dense_gen)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The flattened output of the two conv + ReLU + max-pool blocks."""
        h = F.max_pool2d(F.relu(self.conv1(x)), 2)
        return F.max_pool2d(F.relu(self.conv2(h)), 2).flatten(1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Logits; ``mask`` (already scaled by ``1 / keep``) is the dropout of the hidden layer."""
        h = F.relu(self.fc1(self.features(x)))
        if mask is not None:
            h = h * mask
        return self.fc2(h)

    def shared_parameters(self) -> list[torch.Tensor]:
        """The parameters both variants share at initialization: convolutions and biases."""
        out = [self.conv1.weight, self.conv2.weight, self.fc1.bias, self.fc2.bias]
        for conv in (self.conv1, self.conv2):
            assert conv.bias is not None
            out.append(conv.bias)
        return out

    def l2(self) -> torch.Tensor:
        """The tutorial's regularizer: ``5e-4 * l2_loss`` of the dense (end-to-end) weights."""
        return L2_WEIGHT * (self.fc1.l2() + self.fc2.l2())


def build(variant: str, seed: int = 0) -> ConvNet:
    """The network of the protocol for a unit seed (conv layers shared between variants).

    The convolutions are drawn from a generator seeded by ``(seed, "conv")``,
    the same for both variants, the dense matrices from ``(seed, variant,
    "dense")``.
    """
    conv_gen = torch.Generator().manual_seed(derive_seed(seed, "conv"))
    dense_gen = torch.Generator().manual_seed(derive_seed(seed, variant, "dense"))
    return ConvNet(variant, conv_gen, dense_gen)


def count_params(net: nn.Module) -> int:
    """Number of scalar parameters of ``net``."""
    return sum(p.numel() for p in net.parameters())


def collapse_into(over: ConvNet, orig: ConvNet) -> None:
    """Set ``orig`` to the function of ``over``: copy the convolutions, multiply the factors.

    Each dense layer of ``orig`` gets the end-to-end matrix ``W2 @ W1`` and the
    bias of ``over``'s layer, so both networks compute the same function and
    have the same L2 term.
    """
    with torch.no_grad():
        for name in ("conv1", "conv2"):
            src, dst = getattr(over, name), getattr(orig, name)
            dst.weight.copy_(src.weight)
            dst.bias.copy_(src.bias)
        for name in ("fc1", "fc2"):
            src, dst = getattr(over, name), getattr(orig, name)
            assert len(dst.factors) == 1
            dst.factors[0].copy_(src.end_to_end())
            dst.bias.copy_(src.bias)


def learning_rate(step: int) -> float:
    """The tutorial's schedule: ``0.01 * 0.95 ** floor(64 * step / 55000)`` (staircase)."""
    return _LR0 * _DECAY_RATE ** ((BATCH_SIZE * step) // _DECAY_EXAMPLES)


@functools.lru_cache(maxsize=1)
def _train_data() -> tuple[torch.Tensor, torch.Tensor]:
    ds = load_digits()
    return ds.x_train - 0.5, ds.y_train


def iterations_to_target(curve: Sequence[Sequence[float]], target: float) -> int | None:
    """The first evaluated step whose training objective is ``<= target``; ``None`` if none.

    ``curve`` holds ``(step, objective, ...)`` rows in increasing step order.
    """
    for row in curve:
        if row[1] <= target:
            return int(row[0])
    return None


def _digest(h: Any, t: torch.Tensor) -> None:
    h.update(t.detach().contiguous().numpy().tobytes())


def train_curve(
    variant: str, seed: int, *, max_steps: int, target: float, eval_every: int
) -> dict[str, Any]:
    """Train one network of the protocol; its training-objective curve and iterations to target.

    Returns a dict with ``curve`` (rows ``[step, objective, cross_entropy]``,
    full training set, eval mode), ``batch_curve`` (rows ``[step, mean
    minibatch objective since the previous evaluation]``: the paper's
    measurement), ``iterations`` (``int`` or ``None``), ``steps``, ``note``,
    ``num_params``, ``init_digest`` (SHA-256 of the initial parameters shared
    between the variants: convolutions and biases) and ``stream_digest`` (of
    every minibatch index and dropout mask consumed).  Deterministic in
    ``seed`` (single-threaded CPU).
    """
    x, y = _train_data()
    n = x.shape[0]
    if n <= BATCH_SIZE:
        raise ValueError(f"training set of {n} examples is not larger than a batch")
    net = build(variant, seed)
    shared = hashlib.sha256()
    for t in net.shared_parameters():
        _digest(shared, t)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(derive_seed(seed, "order")))
    drop_gen = torch.Generator().manual_seed(derive_seed(seed, "dropout"))
    stream = hashlib.sha256()
    opt = torch.optim.SGD(net.parameters(), lr=_LR0, momentum=_MOMENTUM)

    def objective() -> tuple[float, float]:
        net.eval()
        with torch.no_grad():
            ce = float(F.cross_entropy(net(x), y))
            total = ce + float(net.l2())
        net.train()
        return total, ce

    curve: list[list[float]] = []
    batch_curve: list[list[float]] = []
    window: list[float] = []
    hit: int | None = None
    stop_at = max_steps
    note = ""
    step = 0
    while True:
        if step % eval_every == 0 or step == max_steps:
            total, ce = objective()
            curve.append([step, total, ce])
            if window:
                batch_curve.append([step, float(statistics.fmean(window))])
                window = []
            if not math.isfinite(total):
                note = f"non-finite training objective at step {step}"
                hit = None
                break
            if hit is None and total <= target:
                hit = step
                stop_at = min(max_steps, step + max(eval_every, math.ceil(0.1 * step)))
        if step >= stop_at:
            break
        offset = (BATCH_SIZE * step) % (n - BATCH_SIZE)
        idx = order[offset : offset + BATCH_SIZE]
        mask = (torch.rand(BATCH_SIZE, _HIDDEN, generator=drop_gen) < _KEEP).float() / _KEEP
        _digest(stream, idx)
        _digest(stream, mask)
        for group in opt.param_groups:
            group["lr"] = learning_rate(step)
        loss = F.cross_entropy(net(x[idx], mask), y[idx]) + net.l2()
        opt.zero_grad()
        loss.backward()
        opt.step()
        window.append(float(loss.detach()))
        step += 1
    if hit is None and not note:
        note = f"target {target:g} not reached in {max_steps} steps"
    return {
        "curve": curve,
        "batch_curve": batch_curve,
        "iterations": hit,
        "steps": step,
        "note": note,
        "num_params": count_params(net),
        "init_digest": shared.hexdigest(),
        "stream_digest": stream.hexdigest(),
    }


def subsample(rows: list[list[float]], most: int = 200) -> list[list[float]]:
    if len(rows) <= most:
        return [list(r) for r in rows]
    keep = sorted({round(i * (len(rows) - 1) / (most - 1)) for i in range(most)})
    return [list(rows[i]) for i in keep]
