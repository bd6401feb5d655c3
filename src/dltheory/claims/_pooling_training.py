"""Networks and training loop of the pooling-geometry experiment (Cohen & Shashua, ICLR'17, Sec. 6).

The networks, as in the authors' experiment (``HUJI-Deep/inductive-pooling``):

* **deep ConvAC** (``family="convac"``): a one-hot representation of each
  pixel (``M = 2``), five levels of a 1x1 convolution followed by 2x2 product
  pooling (32 -> 1), then a dense 2-way output; the log-space form with
  positive weights ``w = exp(b)``, ``b ~ U(-1, 1)`` at initialization, no
  biases; the loss is softmax cross-entropy on the log outputs.  Adam
  (lr 0.003, betas (0.9, 0.9), eps 1e-16), no weight decay.
* **deep ReLU nets** (``"relu-avg"``, ``"relu-max"``): the same layout with a
  ReLU after each hidden 1x1 convolution and average or max pooling; Glorot
  (Xavier) uniform weights, zero biases; Adam (lr 0.001, betas (0.9, 0.999))
  with weight decay 1e-4 on the weights, not on the biases.
* **shallow baselines** (``depth="shallow"``): one 1x1 convolution of width
  ``K``, global pooling (product / average / max) over all 1024 pixels, dense
  output.

The geometry enters only through the mode tree: ``ModeTree.grid((32, 32),
geometry="square" | "mirror")``; mirror pooling is the authors' permutation
before every 2x2 pooling.  Both geometries have the same layer shapes, so a
seed gives both the same initial weights and the same minibatch order: the
comparison is paired.

Training: minibatches of 64 drawn by a seeded permutation per pass over the
training set, ``iterations`` Adam steps, the learning rate multiplied by 0.1
after ``step_at`` iterations (the paper: 15,000 and 12,000).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..nets import ConvAC
from ..trees import ModeTree

__all__ = [
    "TASKS",
    "own_geometry",
    "FAMILIES",
    "GEOMETRIES",
    "OPTIMIZER",
    "Shallow",
    "TrainSettings",
    "build_net",
    "positive_convac",
    "train_net",
    "train_unit",
]

#: Network families of the experiment.
FAMILIES: tuple[str, ...] = ("convac", "relu-avg", "relu-max")
#: Pooling geometries compared.
GEOMETRIES: tuple[str, ...] = ("square", "mirror")
#: The two synthetic tasks and the geometry the theory says suits each.
TASKS: tuple[str, ...] = ("closedness", "symmetry")
_OWN = {"closedness": "square", "symmetry": "mirror"}


def own_geometry(task: str) -> str:
    """The geometry the theory favours on ``task``: square (closedness) or mirror (symmetry)."""
    return _OWN[task]


#: The optimizer settings per family (the authors').
OPTIMIZER: dict[str, dict[str, Any]] = {
    "convac": {"lr": 0.003, "betas": (0.9, 0.9), "eps": 1e-16, "weight_decay": 0.0},
    "relu": {"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 1e-4},
}
_POOLING = {"convac": "product", "relu-avg": "average", "relu-max": "max"}
SIDE = 32


class Shallow(nn.Module):
    """A ConvAC over the flat tree of all 1024 pixels, fed images (flattened row-major)."""

    def __init__(self, net: ConvAC) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(2).transpose(1, 2))


def positive_convac(tree: ModeTree, ranks: list[int], seed: int) -> ConvAC:
    """The authors' deep ConvAC over ``tree``: one-hot tokens (M = 2), shared 1x1 convolutions,
    positive weights ``exp(b)`` with log-weights ``b ~ U(-1, 1)``, two outputs."""
    net = ConvAC(
        tree,
        1,
        ranks,
        2,
        positive=True,
        representation="one-hot",
        num_features=2,
        shared=True,
        seed=seed,
    )
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # the authors' init: log-weights b ~ U(-1, 1)
        for w in net.weights:
            w.copy_(torch.rand(w.shape, generator=g) * 2.0 - 1.0)
    return net


def build_net(
    family: str, geometry: str, width: int, seed: int, *, depth: str = "deep"
) -> nn.Module:
    """The experiment's network; same ``seed`` -> same weights in both geometries.

    ``width`` is the breadth of every level (deep) or of the single hidden
    layer (shallow).
    """
    if family not in FAMILIES:
        raise ValueError(f"family: expected one of {FAMILIES}, got {family!r}")
    if depth == "deep":
        tree = ModeTree.grid((SIDE, SIDE), geometry=geometry)  # type: ignore[arg-type]
        ranks = [width] * tree.depth
    else:
        tree = ModeTree.flat(SIDE * SIDE)
        ranks = [width]
    common: dict[str, Any] = {
        "representation": "one-hot",
        "num_features": 2,
        "shared": True,
        "seed": seed,
    }
    if family == "convac":
        net = positive_convac(tree, ranks, seed)
    else:
        net = ConvAC(
            tree,
            1,
            ranks,
            2,
            pooling=_POOLING[family],  # type: ignore[arg-type]
            activation="relu",
            bias=True,
            init="xavier",
            **common,
        )
    return net if depth == "deep" else Shallow(net)


def _optimizer(net: nn.Module, family: str) -> torch.optim.Optimizer:
    cfg = OPTIMIZER["convac" if family == "convac" else "relu"]
    weights = [p for n, p in net.named_parameters() if "bias" not in n]
    biases = [p for n, p in net.named_parameters() if "bias" in n]
    groups: list[dict[str, Any]] = [{"params": weights, "weight_decay": cfg["weight_decay"]}]
    if biases:
        groups.append({"params": biases, "weight_decay": 0.0})
    return torch.optim.Adam(groups, lr=cfg["lr"], betas=cfg["betas"], eps=cfg["eps"])


@dataclass(frozen=True)
class TrainSettings:
    """Length of a training run: Adam steps, the step of the 0.1 decay, batch size."""

    iterations: int
    step_at: int
    batch_size: int = 64
    eval_points: int = 5


def _accuracy(net: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 1000) -> float:
    net.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, x.shape[0], batch):
            correct += int((net(x[i : i + batch]).argmax(1) == y[i : i + batch]).sum())
    net.train()
    return correct / max(1, x.shape[0])


def train_net(
    net: nn.Module,
    family: str,
    data: Any,
    settings: TrainSettings,
    seed: int,
) -> dict[str, Any]:
    """Train ``net`` and return accuracies, a loss curve and timings (JSON-ready).

    A non-finite loss stops the run: the result then says ``"diverged"`` and
    carries no accuracy (a NaN is never a number to store).
    """
    opt = _optimizer(net, family)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[settings.step_at], gamma=0.1)
    g = torch.Generator().manual_seed(seed)
    x, y = data.x_train, data.y_train
    n = x.shape[0]
    perm = torch.randperm(n, generator=g)
    pos = 0
    every = max(1, settings.iterations // 50)
    checkpoints = {
        max(1, round(settings.iterations * (k + 1) / settings.eval_points))
        for k in range(settings.eval_points)
    }
    curve: list[list[float]] = []
    evals: list[list[float]] = []
    running, count = 0.0, 0
    t0 = time.perf_counter()
    for it in range(1, settings.iterations + 1):
        if pos + settings.batch_size > n:
            perm, pos = torch.randperm(n, generator=g), 0
        idx = perm[pos : pos + settings.batch_size]
        pos += settings.batch_size
        loss = nn.functional.cross_entropy(net(x[idx]), y[idx])
        if not torch.isfinite(loss):
            return {
                "diverged": True,
                "stopped_at": it,
                "curve": curve,
                "train_seconds": time.perf_counter() - t0,
            }
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        running += float(loss.detach())
        count += 1
        if it % every == 0 or it == settings.iterations:
            curve.append([it, running / count])
            running, count = 0.0, 0
        if it in checkpoints and it != settings.iterations:
            evals.append([it, _accuracy(net, data.x_test, data.y_test)])
    train_seconds = time.perf_counter() - t0
    test_acc = _accuracy(net, data.x_test, data.y_test)
    evals.append([settings.iterations, test_acc])
    k = min(n, 4000)
    train_acc = _accuracy(net, x[:k], y[:k])
    for v in (test_acc, train_acc):
        if not math.isfinite(v):  # pragma: no cover - accuracies are ratios of counts
            raise ValueError("accuracy: not finite")
    return {
        "diverged": False,
        "test_accuracy": test_acc,
        "train_accuracy": train_acc,
        "test_curve": evals,
        "curve": curve,
        "train_seconds": train_seconds,
        "seconds_per_iteration": train_seconds / settings.iterations,
        "num_params": sum(p.numel() for p in net.parameters()),
    }


def train_unit(
    net: nn.Module, family: str, data: Any, settings: TrainSettings, seed: int, what: str
) -> dict[str, Any]:
    """:func:`train_net` for a lab unit: a diverged run is a failed unit, never a result.

    Returns the metrics (without the ``diverged`` flag); raises ``ValueError``
    saying at which iteration the loss became non-finite and for ``what``.
    """
    out = train_net(net, family, data, settings, seed)
    if out["diverged"]:
        raise ValueError(
            f"training diverged (non-finite loss at iteration {out['stopped_at']}) for {what}"
        )
    return {k: v for k, v in out.items() if k != "diverged"}
