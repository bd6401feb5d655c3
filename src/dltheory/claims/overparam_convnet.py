"""Claim ``overparam-convnet``: overparameterizing the dense layers of a ConvNet speeds it up.

Arora, Cohen and Hazan, "On the Optimization of Deep Networks: Implicit
Acceleration by Overparameterization", ICML 2018, Section 8: replacing each
dense layer of a ConvNet by a product of two matrices (no nonlinearity between
them) leaves the set of functions the network can express unchanged, yet with
the same optimizer and learning rate the overparameterized network reaches a
given training loss in fewer iterations.

Protocol (fixed before any result was seen)
-------------------------------------------
Data
    :func:`dltheory.data.load_digits` (default split, seed 0); training on the
    1437 training images of shape ``(1, 8, 8)``.
Networks
    ``original``: ``Conv2d(1, 32, 3, padding=1)`` + ReLU + ``MaxPool2d(2)``,
    ``Conv2d(32, 64, 3, padding=1)`` + ReLU + ``MaxPool2d(2)``, flatten (256),
    ``Linear(256, 72)`` + ReLU, ``Linear(72, 10)``.  ``overparam``: the same,
    with each ``Linear(a, b)`` replaced by ``Linear(a, k, bias=False)``
    followed by ``Linear(k, b)``, ``k = min(a, b)``, so the product has no rank
    constraint (pure overparameterization, about 14 % more parameters).
    PyTorch default initialization, float32.
Pairing
    For seed index ``s`` both variants share the unit seed; the minibatch order
    comes from a :class:`torch.Generator` seeded from it (identical for both
    variants) and the initialization from ``torch.manual_seed`` of a seed
    derived from it (so the convolutional layers start identical too).
Training
    Adam, learning rate ``lr`` (1e-3), minibatches of ``batch_size`` (64)
    drawn by reshuffling every epoch, cross-entropy loss.
Measurement
    At step 0 and every ``eval_every`` (10) steps, the full training-set
    cross-entropy (eval mode, no gradient).  Iterations to target: the first
    evaluated step with training loss ``<= target`` (0.05).  A run stops at
    ``max_steps`` (then: ``None``), at a non-finite loss (``None`` and a note),
    or once the target has been reached and the loss evaluated for a further
    10 % of steps.

Verdict
-------
Unreached counts as ``+inf``.  Reproduced iff the median over seeds of the
overparameterized net's iterations is finite and smaller than the original
net's median.
"""

from __future__ import annotations

import functools
import math
import statistics
import time
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from ..data import load_digits
from ._util import derive_seed, pyplot
from .base import Claim, Param, Unit, Verdict, register

__all__ = [
    "OverparamConvNet",
    "VARIANTS",
    "build",
    "count_params",
    "collapse_into",
    "train_curve",
    "iterations_to_target",
]

#: ``original``: the plain ConvNet; ``overparam``: each dense layer a product of two matrices.
VARIANTS = ("original", "overparam")

_CONV_OUT = 64 * 2 * 2
_HIDDEN = 72
_CLASSES = 10


def _dense(a: int, b: int, overparam: bool) -> nn.Module:
    if not overparam:
        return nn.Linear(a, b)
    k = min(a, b)
    return nn.Sequential(nn.Linear(a, k, bias=False), nn.Linear(k, b))


def build(variant: str) -> nn.Sequential:
    """The ConvNet of this claim: ``original`` or ``overparam`` (dense layers factorized).

    The module indices agree between the variants: ``0`` and ``3`` are the
    convolutions, ``7`` and ``9`` the dense layers (a :class:`~torch.nn.Linear`
    or a two-factor :class:`~torch.nn.Sequential`).
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant: expected one of {VARIANTS}, got {variant!r}")
    over = variant == "overparam"
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        _dense(_CONV_OUT, _HIDDEN, over),
        nn.ReLU(),
        _dense(_HIDDEN, _CLASSES, over),
    )


def count_params(net: nn.Module) -> int:
    """Number of scalar parameters of ``net``."""
    return sum(p.numel() for p in net.parameters())


def collapse_into(over: nn.Sequential, orig: nn.Sequential) -> None:
    """Set ``orig`` to the function of ``over``: copy the convolutions, multiply the factors.

    Each dense layer of ``orig`` gets weight ``W2 @ W1`` and the bias of the
    second factor, so both networks compute the same function.
    """
    with torch.no_grad():
        for i in (0, 3):
            conv_o, conv_v = orig[i], over[i]
            assert isinstance(conv_o, nn.Conv2d) and isinstance(conv_v, nn.Conv2d)
            conv_o.weight.copy_(conv_v.weight)
            assert conv_o.bias is not None and conv_v.bias is not None
            conv_o.bias.copy_(conv_v.bias)
        for i in (7, 9):
            lin, pair = orig[i], over[i]
            assert isinstance(lin, nn.Linear) and isinstance(pair, nn.Sequential)
            first, second = pair[0], pair[1]
            assert isinstance(first, nn.Linear) and isinstance(second, nn.Linear)
            lin.weight.copy_(second.weight @ first.weight)
            assert second.bias is not None
            lin.bias.copy_(second.bias)


@functools.lru_cache(maxsize=1)
def _train_data() -> tuple[torch.Tensor, torch.Tensor]:
    ds = load_digits()
    return ds.x_train, ds.y_train


def iterations_to_target(curve: list[tuple[int, float]], target: float) -> int | None:
    """The first evaluated step whose training loss is ``<= target``; ``None`` if none."""
    for step, loss in curve:
        if loss <= target:
            return step
    return None


def train_curve(
    variant: str,
    seed: int,
    *,
    max_steps: int,
    lr: float,
    batch_size: int,
    target: float,
    eval_every: int,
) -> dict[str, Any]:
    """Train one network of the protocol; the training-loss curve and the iterations to target.

    Returns a dict with ``curve`` (list of ``(step, loss)``), ``iterations``
    (``int`` or ``None``), ``steps`` (steps taken), ``note`` and
    ``num_params``.  Deterministic in ``seed`` (single-threaded CPU).
    """
    x, y = _train_data()
    n = x.shape[0]
    torch.manual_seed(derive_seed(seed, "init"))
    net = build(variant)
    gen = torch.Generator().manual_seed(derive_seed(seed, "batches"))
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()

    def full_loss() -> float:
        net.eval()
        with torch.no_grad():
            value = float(loss_fn(net(x), y))
        net.train()
        return value

    curve: list[tuple[int, float]] = []
    hit: int | None = None
    stop_at = max_steps
    note = ""
    perm = torch.randperm(n, generator=gen)
    pos = 0
    step = 0
    while True:
        if step % eval_every == 0 or step == max_steps:
            loss = full_loss()
            curve.append((step, loss))
            if not math.isfinite(loss):
                note = f"non-finite training loss at step {step}"
                hit = None
                break
            if hit is None and loss <= target:
                hit = step
                stop_at = min(max_steps, step + max(eval_every, math.ceil(0.1 * step)))
        if step >= stop_at:
            break
        if pos + batch_size > n:  # reshuffle every epoch (the last partial batch is dropped)
            perm = torch.randperm(n, generator=gen)
            pos = 0
        idx = perm[pos : pos + batch_size]
        pos += batch_size
        opt.zero_grad()
        loss_fn(net(x[idx]), y[idx]).backward()
        opt.step()
        step += 1
    if hit is None and not note:
        note = f"target {target:g} not reached in {max_steps} steps"
    return {
        "curve": curve,
        "iterations": hit,
        "steps": step,
        "note": note,
        "num_params": count_params(net),
    }


def _subsample(curve: list[tuple[int, float]], most: int = 200) -> list[list[float]]:
    if len(curve) <= most:
        keep = list(range(len(curve)))
    else:
        keep = sorted({round(i * (len(curve) - 1) / (most - 1)) for i in range(most)})
    return [[int(curve[i][0]), float(curve[i][1])] for i in keep]


def _param_counts() -> dict[str, int]:
    return {v: count_params(build(v)) for v in VARIANTS}


def _median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else math.inf


@register
class OverparamConvNet(Claim):
    """Factorized dense layers reach a target training loss in fewer Adam steps (ACH 2018, S8)."""

    id = "overparam-convnet"
    title = "Implicit acceleration by overparameterization in a ConvNet"
    source = (
        "Arora, Cohen, Hazan, 'On the Optimization of Deep Networks: Implicit Acceleration "
        "by Overparameterization', ICML 2018, Section 8"
    )
    statement = (
        "A small ConvNet on real digits whose dense layers are each replaced by a product of two "
        "matrices (no nonlinearity between, no rank constraint) reaches a target training loss "
        "in fewer iterations, with the same optimizer (Adam) and learning rate."
    )
    data_note = (
        "The paper used MNIST with TensorFlow's tutorial ConvNet; here scikit-learn's bundled "
        "8x8 digits and a small two-conv, two-dense ConvNet stand in."
    )
    params = (
        Param("seeds", "int", 3, 10, "seeds (paired runs of both variants)", minimum=1),
        Param("max_steps", "int", 1500, 3000, "step budget of a run", minimum=1),
        Param("lr", "float", 1e-3, 1e-3, "Adam learning rate (both variants)", minimum=0.0),
        Param("batch_size", "int", 64, 64, "minibatch size", minimum=1),
        Param("target", "float", 0.05, 0.05, "target full training cross-entropy", minimum=0.0),
        Param("eval_every", "int", 10, 10, "steps between training-loss evaluations", minimum=1),
    )

    def units(self, params: Mapping[str, Any], seed: int) -> list[Unit]:
        return [
            Unit(
                {
                    "variant": v,
                    "seed_index": s,
                    "max_steps": int(params["max_steps"]),
                    "lr": float(params["lr"]),
                    "batch_size": int(params["batch_size"]),
                    "target": float(params["target"]),
                    "eval_every": int(params["eval_every"]),
                },
                # The same seed for both variants: paired minibatch order and conv init.
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
            lr=float(config["lr"]),
            batch_size=int(config["batch_size"]),
            target=float(config["target"]),
            eval_every=int(config["eval_every"]),
        )
        curve: list[tuple[int, float]] = out["curve"]
        return {
            "variant": variant,
            "seed_index": int(config["seed_index"]),
            "iterations": out["iterations"],
            "steps": out["steps"],
            "final_loss": float(curve[-1][1]),
            "curve": _subsample(curve),
            "num_params": out["num_params"],
            "note": out["note"],
            "wall_s": time.perf_counter() - t0,
        }

    def verdict(self, params: Mapping[str, Any], results: list[dict[str, Any]]) -> Verdict:
        target, lr = float(params["target"]), float(params["lr"])
        iters: dict[str, dict[int, float]] = {v: {} for v in VARIANTS}
        for r in results:
            it = r["iterations"]
            iters[r["variant"]][int(r["seed_index"])] = math.inf if it is None else float(it)
        med = {v: _median(list(iters[v].values())) for v in VARIANTS}
        m_orig, m_over = med["original"], med["overparam"]
        ok = math.isfinite(m_over) and m_over < m_orig
        ratio = m_orig / m_over if m_over > 0 else math.inf
        seeds = sorted(set(iters["original"]) & set(iters["overparam"]))
        faster = sum(iters["overparam"][s] < iters["original"][s] for s in seeds)
        counts = _param_counts()
        extra = counts["overparam"] / counts["original"] - 1.0

        def show(value: float) -> float | None:
            return value if math.isfinite(value) else None

        numbers: dict[str, Any] = {
            "median_iterations_original": show(m_orig),
            "median_iterations_overparam": show(m_over),
            "speedup_ratio": show(ratio),
            "spread_original": [
                show(min(iters["original"].values(), default=math.inf)),
                show(max(iters["original"].values(), default=math.inf)),
            ],
            "spread_overparam": [
                show(min(iters["overparam"].values(), default=math.inf)),
                show(max(iters["overparam"].values(), default=math.inf)),
            ],
            "per_seed_original_vs_overparam": {
                str(s): [show(iters["original"][s]), show(iters["overparam"][s])] for s in seeds
            },
            "seeds_overparam_faster": f"{faster}/{len(seeds)}",
            "params_original": counts["original"],
            "params_overparam": counts["overparam"],
            "extra_param_fraction": extra,
            "target": target,
            "lr": lr,
        }

        def fmt(value: float) -> str:
            return f"{value:g}" if math.isfinite(value) else "never"

        summary = (
            f"median iterations to training loss <= {target:g}: original {fmt(m_orig)}, "
            f"overparameterized {fmt(m_over)} (speed-up x{ratio:.2f}; overparam faster on "
            f"{faster}/{len(seeds)} seeds; {extra:+.1%} parameters, Adam lr {lr:g})"
        )
        return Verdict.exact(ok, summary if ok else "failed: " + summary, numbers)

    def figure(self, params: Mapping[str, Any], results: list[dict[str, Any]], path: str) -> None:
        plt = pyplot()
        target = float(params["target"])
        colours = {"original": "tab:blue", "overparam": "tab:orange"}
        fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.5), width_ratios=(2.2, 1))
        for v in VARIANTS:
            runs = [r for r in results if r["variant"] == v]
            for r in runs:
                steps = [p[0] for p in r["curve"]]
                ax.plot(steps, [p[1] for p in r["curve"]], color=colours[v], lw=0.6, alpha=0.35)
            grid = sorted({int(p[0]) for r in runs for p in r["curve"]})
            # Median over seeds; a run stopped early (target reached) keeps its last loss.
            med_x = grid
            med_y = [float(statistics.median(_value_at(r["curve"], t) for r in runs)) for t in grid]
            ax.plot(med_x, med_y, color=colours[v], lw=2.4, label=f"{v} (median)")
        ax.axhline(target, color="k", ls="--", lw=1, label=f"target {target:g}")
        ax.set_yscale("log")
        ax.set_xlabel("iteration")
        ax.set_ylabel("full training cross-entropy")
        ax.legend(fontsize=8)

        pairs: dict[int, dict[str, float]] = {}
        for r in results:
            it = r["iterations"]
            pairs.setdefault(int(r["seed_index"]), {})[r["variant"]] = (
                math.nan if it is None else float(it)
            )
        cap = float(params["max_steps"])
        for s in sorted(pairs):
            ys = [pairs[s].get(v, math.nan) for v in VARIANTS]
            shown = [cap * 1.05 if math.isnan(u) else u for u in ys]
            bx.plot([0, 1], shown, color="0.6", lw=0.8)
            for i, v in enumerate(VARIANTS):
                marker = "x" if math.isnan(ys[i]) else "o"
                bx.plot([i], [shown[i]], marker, color=colours[v])
        if any(math.isnan(u) for d in pairs.values() for u in d.values()):
            bx.axhline(cap * 1.05, color="0.8", ls=":", lw=1)
            bx.text(0.5, cap * 1.05, "not reached (x)", ha="center", va="bottom", fontsize=7)
        bx.set_xticks([0, 1], list(VARIANTS))
        bx.set_xlim(-0.5, 1.5)
        bx.set_ylabel("iterations to target")
        ver = self.verdict(params, results)
        m_orig = ver.numbers["median_iterations_original"]
        m_over = ver.numbers["median_iterations_overparam"]
        ratio = ver.numbers["speedup_ratio"]
        fig.suptitle(
            f"{ver.label}: median iterations to loss {target:g}: original "
            f"{'never' if m_orig is None else f'{m_orig:g}'}, overparam "
            f"{'never' if m_over is None else f'{m_over:g}'} "
            f"(speed-up x{'inf' if ratio is None else f'{ratio:.2f}'}; Adam lr {params['lr']:g})",
            fontsize=10,
        )
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)


def _value_at(curve: list[list[float]], step: int) -> float:
    """Loss of a (subsampled) curve at ``step``: its last point at or before ``step``."""
    value = curve[0][1]
    for s, loss in curve:
        if s > step:
            break
        value = loss
    return float(value)
