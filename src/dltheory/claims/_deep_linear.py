"""Shared pieces of the deep-linear-network claims (ICML'18 end-to-end dynamics).

Trajectories of the end-to-end matrix under gradient descent on the factors
of a :class:`~dltheory.nets.DeepLinear` network, under the end-to-end rule,
and their relative deviation; data loading keyed by fingerprint.
"""

from __future__ import annotations

from collections.abc import Mapping
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
    "literal_rule",
    "load_checked",
    "moments",
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
    Param("depths", "ints", (2, 3, 4), (2, 3, 4), "depths N", minimum=2, maximum=8),
    Param(
        "steps",
        "int",
        1000,
        5000,
        "gradient steps of the tracking runs (>= 1000)",
        minimum=1000,
        maximum=100_000,
    ),
    Param("lr", "float", 1e-3, 1e-3, "learning rate", minimum=1e-8, maximum=0.1),
    Param("hidden", "int", 16, 16, "hidden width of the tracked deep net", minimum=1, maximum=1024),
    Param(
        "init_scale",
        "float",
        0.3,
        0.3,
        "std of the end-to-end matrix's entries",
        minimum=1e-6,
        maximum=10.0,
    ),
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


def moments(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``X^T X / m`` and ``Y^T X / m``: the l_2 loss's gradient in ``W`` is ``W Sxx - Syx``."""
    m = x.shape[0]
    return x.T @ x / m, y.T @ x / m


def gd_path(
    net: DeepLinear, x: torch.Tensor, y: torch.Tensor, lr: float, steps: int
) -> tuple[list[torch.Tensor], tuple[float, float]]:
    """End-to-end matrices of plain gradient descent on the factors, and the first and last loss.

    ``W_j <- W_j - lr * dL/dW_j`` with ``dL/dW_j = (W_N..W_{j+1})^T G (W_{j-1}..W_1)^T``
    and ``G = dL/dW_e = W_e Sxx - Syx`` (the chain rule in closed form, equal to
    autograd of :func:`~dltheory.losses.lp_loss` with ``p = 2``; checked by the
    tests).  The network's own weights are updated in place.
    """
    sxx, syx = moments(x, y)
    ws = [w.detach().clone() for w in net.weights]
    n = len(ws)

    def product(mats: list[torch.Tensor]) -> torch.Tensor:
        e = mats[0]
        for w in mats[1:]:
            e = w @ e
        return e

    path = [product(ws)]
    for _ in range(steps):
        prefix = [torch.eye(ws[0].shape[1], dtype=ws[0].dtype)]
        for w in ws[:-1]:
            prefix.append(w @ prefix[-1])
        we = ws[-1] @ prefix[-1]
        g = we @ sxx - syx
        suffix = torch.eye(ws[-1].shape[0], dtype=ws[0].dtype)
        for j in reversed(range(n)):
            step = suffix.T @ g @ prefix[j].T
            suffix = suffix @ ws[j]
            ws[j] = ws[j] - lr * step
        path.append(product(ws))
    with torch.no_grad():
        for p, w in zip(net.weights, ws, strict=True):
            p.copy_(w)
    losses = (float(lp_loss(x @ path[0].T, y, 2.0)), float(lp_loss(x @ path[-1].T, y, 2.0)))
    return path, losses


def _powers(gram: torch.Tensor, exponents: list[float]) -> list[torch.Tensor]:
    """``gram^e`` for each exponent from one symmetric eigendecomposition (``A^0 = I``).

    Eigenvalues below ``1e-12 * max`` are exact zeros blurred by rounding and
    are set to zero (a fractional power would magnify them).
    """
    evals, evecs = torch.linalg.eigh(gram)
    evals = torch.where(evals > 1e-12 * evals.abs().max(), evals, torch.zeros_like(evals))
    eye = torch.eye(gram.shape[0], dtype=gram.dtype)
    return [eye if e == 0 else (evecs * evals.pow(e)) @ evecs.T for e in exponents]


def literal_rule(w: torch.Tensor, g: torch.Tensor, depth: int) -> torch.Tensor:
    """The literal N-term sum of ICML'18 Eq. 7, ``sum_j [WW^T]^((j-1)/N) G [W^TW]^((N-j)/N)``.

    Term by term from one eigendecomposition of each Gram matrix (no closed
    form, no SVD: independent of :class:`~dltheory.optim.EndToEnd`); equal to
    :func:`~dltheory.optim.end_to_end_update_reference` (tested).
    """
    n = int(depth)
    exps = [j / n for j in range(n)]
    left, right = _powers(w @ w.T, exps), _powers(w.T @ w, exps)
    total = torch.zeros_like(g)
    for j in range(1, n + 1):
        total = total + left[j - 1] @ g @ right[n - j]
    return total


def rule_path(
    w0: torch.Tensor, x: torch.Tensor, y: torch.Tensor, lr: float, steps: int, depth: int
) -> list[torch.Tensor]:
    """The discrete end-to-end rule ``W <- W - lr * literal_rule(W, dL/dW)`` from ``w0`` (l_2)."""
    sxx, syx = moments(x, y)
    w = w0.clone()
    path = [w.clone()]
    for _ in range(steps):
        w = w - lr * literal_rule(w, w @ sxx - syx, depth)
        path.append(w)
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
