"""Claim ``overparam-convnet``: overparameterizing the dense layers of a ConvNet speeds it up.

Arora, Cohen and Hazan, "On the Optimization of Deep Networks: Implicit
Acceleration by Overparameterization", ICML 2018 (arXiv 1802.06509),
Section 8 (non-linear experiment, Figure 6): the convolutional network of
TensorFlow's MNIST tutorial (``tensorflow/models``,
``tutorials/image/mnist/convolutional.py``) was overparameterized "by simply
placing two matrices in succession instead of the matrix in each dense
layer" -- no nonlinearity between them, inner widths the smallest that do not
restrict the product, so the set of functions is unchanged -- and with "an
addition of roughly 15% in number of parameters, optimization accelerated by
orders of magnitude" (N. Cohen, offconvex.org, 2 March 2018).  Their figure
plots the minibatch training objective (cross-entropy plus the tutorial's L2
term) against iterations over the tutorial's 10 epochs (about 8600 steps):
the original network goes from about 4 to 1.6, the overparameterized one
from about 14 to 0.05.

Protocol v2 (fixed before any v2 result was seen)
-------------------------------------------------
The paper's network, optimizer, regularization and overparameterization,
on data a 2-core CPU can train on in the budget:

Data
    :func:`dltheory.data.load_digits` (default split, seed 0): the 1437
    training images, 8x8, pixels mapped to ``[-0.5, 0.5]`` as the tutorial
    maps MNIST's (MNIST is not available offline, and at 28x28 one step costs
    about 8x more than at 8x8, which would leave a few hundred steps per run).
Network (the tutorial's, at 8x8 input)
    ``conv 5x5, 32`` (SAME padding) + ReLU + ``max-pool 2x2``, ``conv 5x5, 64``
    + ReLU + ``max-pool 2x2``, flatten (``2*2*64 = 256``; MNIST: 3136),
    dense ``256 -> 512`` + ReLU + dropout 0.5 (training only), dense
    ``512 -> 10``.  Initialization as the tutorial: weights truncated normal
    (std 0.1, redrawn beyond 2 std), biases conv1 0, conv2 0.1, dense 0.1.
Overparameterization (the paper's)
    Each dense weight ``W (out x in)`` becomes a product ``W2 @ W1`` with inner
    width ``min(in, out)`` (256 and 10; MNIST: 512 and 10), the new matrix
    initialized like the others (truncated normal, std 0.1), the bias kept
    after the product: +34.8 % parameters (MNIST: +15.8 %, "roughly 15 %").
Objective (the tutorial's)
    Mean cross-entropy of the minibatch plus ``5e-4 * (|W|^2 + |b|^2) / 2``
    summed over the dense layers.  In the overparameterized network the L2
    term is taken on the end-to-end matrix ``W2 @ W1``, so both networks
    minimize the same function of the end-to-end network.  The paper does not
    say this in the text available here; it is inferred from its figure: the
    overparameterized curve starts near 14, which is the initial L2 term of
    the products (about 12) plus the cross-entropy, while an L2 term on the
    factors (about 3.6) would start it below the original's.
Optimizer (the tutorial's)
    SGD with momentum 0.9, learning rate ``0.01 * 0.95 ** floor(64 * step /
    55000)`` (the tutorial decays once per 55000 examples; the same
    per-iteration schedule is kept here, not one decay per pass over 1437
    images), minibatches of 64 at offsets ``(64 * step) mod (n - 64)`` of the
    training set as the tutorial reads MNIST, here in a seeded random order.
Pairing
    For seed index ``s`` both variants share the unit seed, hence the data
    order, the dropout masks (drawn from their own generator, one ``64 x 512``
    mask per step) and the initialization of both convolutional layers and
    all biases; the dense matrices are drawn from a per-variant generator.
Measurement
    At step 0 and every ``eval_every`` (25) steps, the full training
    objective: the cross-entropy of the whole training set in eval mode (no
    dropout) plus the L2 term.  (The paper plots the minibatch objective,
    which dropout and sampling make too noisy for a first-crossing time; its
    per-window mean is recorded beside.)  Iterations to target: the first
    evaluated step with objective ``<= target`` (0.26).  A run stops at
    ``max_steps`` (2000), at a non-finite objective, or once the target has
    been reached and a further 10 % of steps evaluated.  Both profiles use the
    same target and step budget; they differ in the number of seeds (quick 4,
    full 24).
Choice of target and budget
    Sized by a one-seed probe of the *original* network alone (a seed outside
    the protocol's; the overparameterized network's objective was not looked
    at): its objective fell from 2.65 to 0.33 by step 200, 0.26 by step 600
    and 0.25 by step 1000, with the cross-entropy below 0.01 from step 500 on,
    so from there on its objective is mostly its L2 term -- as the original's
    curve in the paper's figure.  A target the original reaches after about a
    third of the budget lets a slow-down of up to about 3x be measured without
    censoring.  One step costs about 8 ms (original) and 12 ms
    (overparameterized) on one core: 2000 steps of 4 seeds fit the quick
    budget even where every run is censored.

Verdict
-------
The speed-up is ``iterations_to_target(original) /
iterations_to_target(overparam)`` paired over seeds, as
:func:`~dltheory.claims.evidence.paired_ratio` (geometric mean, 95 % t interval
of the log ratios).  The claim holds iff the speed-up is > 1: ``reproduced``
if the whole interval lies above 1, ``not reproduced`` if it lies at or
below 1, ``inconclusive`` otherwise (with the seeds that would decide it).  A
run that does not reach the target counts as ``max_steps`` (censored); if any
count is censored the verdict is ``inconclusive`` ("a larger step budget
decides it"), whatever the interval says.
"""

from __future__ import annotations

import functools
import hashlib
import math
import statistics
import time
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..data import load_digits
from ._util import derive_seed, pyplot
from .base import Claim, Param, Revision, Unit, register
from .evidence import INCONCLUSIVE, Effect, Verdict, draw_effects, draw_paired, paired_ratio

__all__ = [
    "BATCH_SIZE",
    "ConvNet",
    "Dense",
    "L2_WEIGHT",
    "OverparamConvNet",
    "SPEEDUP",
    "VARIANTS",
    "build",
    "collapse_into",
    "count_params",
    "iterations_to_target",
    "learning_rate",
    "train_curve",
]

#: ``original``: the tutorial ConvNet; ``overparam``: each dense layer a product of two matrices.
VARIANTS = ("original", "overparam")
#: Name of the effect the verdict decides on.
SPEEDUP = "speed-up (original / overparameterized iterations to target)"

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


def _subsample(rows: list[list[float]], most: int = 200) -> list[list[float]]:
    if len(rows) <= most:
        return [list(r) for r in rows]
    keep = sorted({round(i * (len(rows) - 1) / (most - 1)) for i in range(most)})
    return [list(rows[i]) for i in keep]


def _param_counts() -> dict[str, int]:
    return {v: count_params(build(v)) for v in VARIANTS}


def _counts(
    results: list[dict[str, Any]], max_steps: int
) -> tuple[list[int], list[float], list[float], list[bool], list[bool]]:
    """Paired seeds and their iterations to target (censored at ``max_steps``)."""
    by: dict[str, dict[int, dict[str, Any]]] = {v: {} for v in VARIANTS}
    for r in results:
        by[str(r["variant"])][int(r["seed_index"])] = r
    seeds = sorted(set(by["original"]) & set(by["overparam"]))
    out: dict[str, tuple[list[float], list[bool]]] = {}
    for v in VARIANTS:
        its = [by[v][s]["iterations"] for s in seeds]
        # a run at the target from the start counts as one iteration (a ratio needs > 0)
        out[v] = (
            [float(max_steps) if it is None else float(max(int(it), 1)) for it in its],
            [it is None for it in its],
        )
    return seeds, out["original"][0], out["overparam"][0], out["original"][1], out["overparam"][1]


@register
class OverparamConvNet(Claim):
    """Factorized dense layers reach a target training objective in fewer steps (ACH 2018, S8)."""

    id = "overparam-convnet"
    title = "Implicit acceleration by overparameterization in a ConvNet"
    source = (
        "Arora, Cohen, Hazan, 'On the Optimization of Deep Networks: Implicit Acceleration "
        "by Overparameterization', ICML 2018 (arXiv 1802.06509), Section 8 and Figure 6; "
        "network and optimizer: TensorFlow's MNIST tutorial "
        "(tensorflow/models tutorials/image/mnist/convolutional.py)"
    )
    statement = (
        "Replacing each dense weight matrix of TensorFlow's MNIST tutorial ConvNet by a product "
        "of two matrices (inner width min(in, out), so nothing is lost in expressiveness) makes "
        "the tutorial's own optimizer (SGD with momentum 0.9, learning rate 0.01 decayed by 0.95 "
        "per 55000 examples, batch 64, dropout 0.5, L2 5e-4 on the dense layers) reach a target "
        "training objective in fewer iterations."
    )
    data_note = (
        "MNIST (28x28, 55000 training images) is replaced by scikit-learn's bundled 8x8 digits "
        "(1437 training images), so the tutorial network's first dense layer has 256 inputs "
        "instead of 3136 and the overparameterization adds 34.8 % parameters instead of 15.8 %."
    )
    rule = (
        "Paired over seeds (both variants of a seed share the minibatch order, the dropout masks "
        "and the initial convolutions and biases), the speed-up is the geometric mean of "
        "iterations-to-target(original) / iterations-to-target(overparameterized) with a 95 % t "
        "interval of the log ratios (evidence.paired_ratio); it holds iff > 1: reproduced if the "
        "whole interval lies above 1, not reproduced if it lies at or below 1, inconclusive "
        "otherwise (with the seeds that would decide it).  A run that misses the target counts "
        "at max_steps (censored), and any censored count makes the verdict inconclusive: a "
        "larger step budget decides it."
    )
    version = 2
    history = (
        Revision(
            version=2,
            date="2026-12-01",
            change=(
                "The paper's own set-up instead of a home-made one: TensorFlow's MNIST tutorial "
                "ConvNet (5x5 convolutions with 32 and 64 filters, dense 512 with dropout 0.5, "
                "truncated-normal initialization) on 8x8 digits, the tutorial's optimizer (SGD "
                "with momentum 0.9, learning rate 0.01 decayed 0.95 per 55000 examples) and "
                "objective (cross-entropy plus 5e-4 L2 on the dense layers, on the end-to-end "
                "matrix when factorized) instead of Adam at 1e-3 without regularization; target "
                "on the full training objective (0.26, 2000-step budget) instead of the "
                "cross-entropy (0.05); "
                "verdict by a paired geometric-mean speed-up with a 95 % t interval over 4 "
                "(quick) or 24 (full) seeds, censored runs making it inconclusive, instead of "
                "comparing medians."
            ),
            why=(
                "v1 said 'not reproduced' on 3 seeds (quick: median 390 vs 430 iterations, "
                "overparam faster on 1/3) and 'reproduced' on 10 (full: 405 vs 385, x1.05, faster "
                "on 7/10) with an effect inside the seed spread: a median comparison with no "
                "interval cannot tell a refuted claim from an under-powered run; and v1's "
                "network and optimizer were not the paper's."
            ),
        ),
    )
    params = (
        Param("seeds", "int", 4, 24, "seeds (paired runs of both variants)", minimum=1),
        Param("max_steps", "int", 2000, 2000, "step budget of a run (censoring point)", minimum=1),
        Param(
            "target", "float", 0.26, 0.26, "target full training objective (CE + L2)", minimum=0.0
        ),
        Param("eval_every", "int", 25, 25, "steps between objective evaluations", minimum=1),
    )

    def units(self, params: Mapping[str, Any], seed: int) -> list[Unit]:
        return [
            Unit(
                {
                    "variant": v,
                    "seed_index": s,
                    "max_steps": int(params["max_steps"]),
                    "target": float(params["target"]),
                    "eval_every": int(params["eval_every"]),
                },
                # The same seed for both variants: paired data order, dropout and conv init.
                derive_seed(seed, self.id, s),
            )
            for s in range(int(params["seeds"]))
            for v in VARIANTS
        ]

    def run_unit(self, config: Mapping[str, Any], seed: int) -> dict[str, Any]:
        torch.set_num_threads(1)
        variant = str(config["variant"])
        t0 = time.perf_counter()
        out = train_curve(
            variant,
            seed,
            max_steps=int(config["max_steps"]),
            target=float(config["target"]),
            eval_every=int(config["eval_every"]),
        )
        curve: list[list[float]] = out["curve"]
        return {
            "variant": variant,
            "seed_index": int(config["seed_index"]),
            "iterations": out["iterations"],
            "censored": out["iterations"] is None,
            "steps": out["steps"],
            "final_objective": float(curve[-1][1]),
            "final_cross_entropy": float(curve[-1][2]),
            "curve": _subsample(curve),
            "batch_curve": _subsample(out["batch_curve"]),
            "num_params": out["num_params"],
            "note": out["note"],
            "init_digest": out["init_digest"],
            "stream_digest": out["stream_digest"],
            "wall_s": time.perf_counter() - t0,
        }

    def _effect(
        self, params: Mapping[str, Any], results: list[dict[str, Any]]
    ) -> tuple[Effect | None, dict[str, Any]]:
        max_steps = int(params["max_steps"])
        seeds, orig, over, cens_o, cens_v = _counts(results, max_steps)
        counts = _param_counts()
        info: dict[str, Any] = {
            "seeds": seeds,
            "original": orig,
            "overparam": over,
            "censored_original": cens_o,
            "censored_overparam": cens_v,
            "params": counts,
        }
        if not seeds:
            return None, info
        return paired_ratio(orig, over, name=SPEEDUP, threshold=1.0), info

    def verdict(self, params: Mapping[str, Any], results: list[dict[str, Any]]) -> Verdict:
        target, max_steps = float(params["target"]), int(params["max_steps"])
        effect, info = self._effect(params, results)
        counts = info["params"]
        extra = counts["overparam"] / counts["original"] - 1.0
        if effect is None:
            return Verdict(
                INCONCLUSIVE,
                "no seed has results for both variants",
                {"target": target, "max_steps": max_steps},
                decide_by="run both variants on at least 2 seeds",
            )
        seeds, orig, over = info["seeds"], info["original"], info["overparam"]
        cens_o, cens_v = info["censored_original"], info["censored_overparam"]
        n_cens = sum(cens_o) + sum(cens_v)
        faster = sum(b < a for a, b in zip(orig, over, strict=True))

        def shown(value: float, censored: bool) -> float | None:
            return None if censored else value

        numbers: dict[str, Any] = {
            "speedup": effect.estimate,
            "speedup_ci95": [effect.low, effect.high if math.isfinite(effect.high) else None],
            "speedup_effect": effect.to_json(),
            "median_iterations_original": statistics.median(orig),
            "median_iterations_overparam": statistics.median(over),
            "per_seed_original_vs_overparam": {
                str(s): [shown(a, ca), shown(b, cb)]
                for s, a, b, ca, cb in zip(seeds, orig, over, cens_o, cens_v, strict=True)
            },
            "seeds_overparam_faster": f"{faster}/{len(seeds)}",
            "censored_runs": {"original": sum(cens_o), "overparam": sum(cens_v)},
            "params_original": counts["original"],
            "params_overparam": counts["overparam"],
            "extra_param_fraction": extra,
            "target": target,
            "max_steps": max_steps,
            "paper": (
                "Figure 6 (batch objective, MNIST, ~8600 steps): original ~4 -> 1.6, "
                "overparameterized ~14 -> 0.05; 'accelerated by orders of magnitude'"
            ),
        }
        hi = "inf" if not math.isfinite(effect.high) else f"x{effect.high:.2f}"
        summary = (
            f"speed-up x{effect.estimate:.2f} (95% CI x{effect.low:.2f} to {hi}, n={effect.n}) "
            f"in iterations to training objective <= {target:g}: median original "
            f"{statistics.median(orig):g}, overparameterized {statistics.median(over):g}; "
            f"overparam faster on {faster}/{len(seeds)} seeds; {n_cens} of {2 * len(seeds)} runs "
            f"censored at {max_steps} steps; {extra:+.1%} parameters"
        )
        if n_cens:
            line = (
                f"a larger step budget decides it: {n_cens} of {2 * len(seeds)} runs did not "
                f"reach the target in max_steps={max_steps} (e.g. --set max_steps={2 * max_steps})"
            )
            own = effect.decide_by()
            return Verdict(
                INCONCLUSIVE,
                summary,
                numbers,
                (effect,),
                decide_by=f"{line}; {own}" if own else line,
            )
        return Verdict.from_effects([effect], summary, numbers)

    def figure(self, params: Mapping[str, Any], results: list[dict[str, Any]], path: str) -> None:
        plt = pyplot()
        target, max_steps = float(params["target"]), int(params["max_steps"])
        colours = {"original": "tab:blue", "overparam": "tab:orange"}
        fig, (ax, bx, cx) = plt.subplots(1, 3, figsize=(15, 4.6), width_ratios=(2.2, 1, 1.4))
        for v in VARIANTS:
            runs = [r for r in results if r["variant"] == v]
            if not runs:
                continue
            for r in runs:
                ax.plot(
                    [p[0] for p in r["curve"]],
                    [p[1] for p in r["curve"]],
                    color=colours[v],
                    lw=0.6,
                    alpha=0.35,
                )
            grid = sorted({int(p[0]) for r in runs for p in r["curve"]})
            # Median over seeds; a run stopped early (target reached) keeps its last value.
            med = [float(statistics.median(_value_at(r["curve"], t) for r in runs)) for t in grid]
            ax.plot(grid, med, color=colours[v], lw=2.4, label=f"{v} (median of {len(runs)})")
        ax.axhline(target, color="k", ls="--", lw=1, label=f"target {target:g}")
        ax.set_yscale("log")
        ax.set_xlabel("iteration")
        ax.set_ylabel("full training objective (cross-entropy + L2)")
        ax.legend(fontsize=8)

        ver = self.verdict(params, results)
        effect, info = self._effect(params, results)
        if effect is not None:
            draw_paired(
                bx,
                info["original"],
                info["overparam"],
                ("original", "overparam"),
                ylabel="iterations to target",
                colours=(colours["original"], colours["overparam"]),
            )
            if any(info["censored_original"]) or any(info["censored_overparam"]):
                bx.axhline(max_steps, color="0.6", ls=":", lw=1)
                bx.text(
                    0.5, max_steps, "censored at max_steps", ha="center", va="bottom", fontsize=7
                )
            draw_effects(cx, [effect], title="speed-up over paired seeds")
        fig.suptitle(f"{ver.label}: {ver.summary}", fontsize=8.5)
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)


def _value_at(curve: list[list[float]], step: int) -> float:
    """Objective of a (subsampled) curve at ``step``: its last point at or before ``step``."""
    value = curve[0][1]
    for row in curve:
        if row[0] > step:
            break
        value = row[1]
    return float(value)
