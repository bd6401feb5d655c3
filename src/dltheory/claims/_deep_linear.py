"""Shared pieces of the deep-linear-network claims (ICML'18 end-to-end dynamics).

Trajectories of the end-to-end matrix under gradient descent on the factors
of a :class:`~dltheory.nets.DeepLinear` network, under the end-to-end rule,
and their relative deviation; data loading keyed by fingerprint.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from ..data import RegressionData, load_regression
from ..losses import lp_loss
from ..nets import DeepLinear
from .base import Param

__all__ = [
    "DATA_NOTE",
    "TRACKING_PARAMS",
    "curve_points",
    "dataset_configs",
    "deviation",
    "gd_path",
    "load_checked",
    "rule_path",
    "xy",
]


#: The data of both claims.
DATA_NOTE = "Real data: scikit-learn's bundled diabetes (1 target) and linnerud (3 targets)."

#: The tracking protocol shared by ``end-to-end-dynamics`` and ``end-to-end-optimizer``.
TRACKING_PARAMS: tuple[Param, ...] = (
    Param(
        "datasets",
        "str",
        "diabetes,linnerud",
        "diabetes,linnerud",
        "comma-separated bundled regression sets or CSV paths",
    ),
    Param("depths", "ints", (2, 3, 4), (2, 3, 4), "depths N", minimum=2),
    Param(
        "steps", "int", 1000, 5000, "gradient steps of the tracking runs (>= 1000)", minimum=1000
    ),
    Param("lr", "float", 1e-3, 1e-3, "learning rate", minimum=0),
    Param("hidden", "int", 16, 16, "hidden width of the tracked deep net", minimum=1),
    Param("init_scale", "float", 0.3, 0.3, "std of the end-to-end matrix's entries", minimum=0),
)


def dataset_configs(names: str) -> list[dict[str, Any]]:
    """Load each comma-separated data set once (errors surface before any work).

    Returns ``{"dataset": name, "fingerprint": ...}`` per data set; the
    fingerprint goes into every unit's configuration, so stored results of an
    edited CSV file are never reused.
    """
    items = [n.strip() for n in str(names).split(",") if n.strip()]
    if not items:
        raise ValueError("--set datasets: expected comma-separated data set names or CSV paths")
    out = []
    for name in items:
        try:
            ds = load_regression(name)
        except ValueError as exc:
            raise ValueError(f"--set datasets: {exc}") from None
        out.append({"dataset": name, "fingerprint": ds.fingerprint})
    return out


def load_checked(config: Mapping[str, Any]) -> RegressionData:
    """The unit's data set, refusing one whose contents changed since the sweep was planned."""
    ds = load_regression(config["dataset"])
    if ds.fingerprint != config["fingerprint"]:
        raise ValueError(
            f"dataset: {config['dataset']!r} changed since this sweep was planned "
            "(fingerprint differs); rerun the claim to plan it again"
        )
    return ds


def xy(ds: RegressionData) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs ``(m, d)`` and targets as a matrix ``(m, k)``, float64."""
    y = ds.y if ds.y.ndim == 2 else ds.y[:, None]
    return ds.x, y


def gd_path(
    net: DeepLinear, x: torch.Tensor, y: torch.Tensor, p: float, lr: float, steps: int
) -> tuple[list[torch.Tensor], list[float]]:
    """End-to-end matrices and losses of plain gradient descent on the factors."""
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    path, losses = [net.end_to_end], []
    for _ in range(steps):
        opt.zero_grad()
        loss = lp_loss(net(x), y, p)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        path.append(net.end_to_end)
    return path, losses


def rule_path(
    w0: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    p: float,
    lr: float,
    steps: int,
    update: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
) -> list[torch.Tensor]:
    """The discrete end-to-end rule ``W <- W - lr * update(W, dL/dW)`` from ``w0``."""
    w = w0.clone()
    path = [w.clone()]
    for _ in range(steps):
        wr = w.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(lp_loss(x @ wr.T, y, p), wr)
        w = w - lr * update(w, g)
        path.append(w.clone())
    return path


def deviation(
    a: list[torch.Tensor], b: list[torch.Tensor]
) -> tuple[np.ndarray[Any, Any], float, float]:
    """Per step ``||a_t - b_t||_F / ||a_t||_F``; the distance ``a`` travelled (max over t);
    and ``max_t ||a_t - b_t||_F`` over that distance (0 if ``a`` did not move)."""
    diff = np.array([float((s - t).norm()) for s, t in zip(a, b, strict=True)])
    norm = np.array([float(s.norm()) for s in a])
    travelled = max(float((s - a[0]).norm()) for s in a)
    over_travel = float(diff.max()) / travelled if travelled > 0 else 0.0
    return diff / norm, travelled, over_travel


def curve_points(values: np.ndarray[Any, Any], points: int = 200) -> list[list[float]]:
    """``[[t, value], ...]`` at about ``points`` log-spaced steps (first and last kept)."""
    n = len(values)
    idx = np.unique(
        np.concatenate([[0, n - 1], np.geomspace(1, max(n - 1, 1), points).astype(int)])
    )
    return [[int(i), float(values[i])] for i in idx if i < n]
