"""Batched runs of ``implicit-acceleration``: every rate and init of one method in one tensor.

Arora, Cohen and Hazan, "On the Optimization of Deep Networks: Implicit
Acceleration by Overparameterization", ICML 2018, Sections 3 and 8.  The claim
compares gradient descent on ``w``, ``w_1 * omega_2`` and ``w_1 * omega_2 *
omega_3`` with AdaGrad, AdaDelta and Adam on ``l_p`` regression, each at its
best learning rate, from several balanced initializations.  Every run of one
``(data set, p, method)`` -- ``inits x rates`` of them -- is one row of a
parameter matrix ``W`` of shape ``(rows, d)`` (and one entry of each ``omega``
vector), so one iteration of all of them is one matrix product ``X @ W^T``
for the residuals, one for the closed-form gradients, and a row-wise update.

The row-wise updates are the single-tensor arithmetic of :mod:`torch.optim`
(``foreach=False``, what its defaults resolve to on CPU tensors) with the
scalar learning rate replaced by a column of per-row rates; their state
(AdaGrad's sum of squares, AdaDelta's two averages, Adam's moments) never
depends on the rate.  The tests check the batched rows against one
:mod:`torch.optim` optimizer per rate and init, driven by autograd, to
``1e-10`` relative.

A row stops at the target (``L - L* <= target L*``), at divergence (a
non-finite loss or one above ``1e3 L(0)``) or at ``max_iters``; with
``early_stop`` the other rows of an init stop as soon as one of its rows has
reached the target (status ``"stopped"``): they would reach it later, so they
cannot be its best rate.  Stopped rows leave the matrix (it is compacted), and
the loop ends when no row is left.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ._util import derive_seed

__all__ = [
    "CURVE_POINTS",
    "DEPTH",
    "DIVERGE_FACTOR",
    "METHODS",
    "P_VALUES",
    "STATUSES",
    "BatchedObjective",
    "BatchedRuns",
    "best_per_init",
    "descend_batched",
    "init_directions",
    "lr_grid",
]

#: The methods: gradient descent at depth 1, 2, 3 and three adaptive optimizers at depth 1.
METHODS = ("gd-depth1", "gd-depth2", "gd-depth3", "adagrad", "adadelta", "adam")
#: The l_p exponents, both always run (effect (b) of the claim compares them).
P_VALUES = (4, 2)
#: Depth ``N`` of each method's parameterization ``w = w_1 * omega_2 * ... * omega_N``.
DEPTH = {"gd-depth1": 1, "gd-depth2": 2, "gd-depth3": 3, "adagrad": 1, "adadelta": 1, "adam": 1}
#: A run has diverged once its loss exceeds this factor times its initial loss.
DIVERGE_FACTOR = 1e3
#: Most points kept of a curve.
CURVE_POINTS = 300
#: How a row ended: reached the target, diverged, ran out of iterations, or was stopped
#: because another rate of its init had reached the target first.
STATUSES = ("reached", "diverged", "budget", "stopped")
_REACHED, _DIVERGED, _BUDGET, _STOPPED = range(4)


def lr_grid(per_decade: int) -> list[float]:
    """Learning rates ``10 ** (j / per_decade)``, ``j = -4 per_decade, ..., per_decade``.

    From ``1e-4`` to ``10``; ``per_decade = 3`` gives the 16 rates of the
    protocol.
    """
    k = int(per_decade)
    if k < 1:
        raise ValueError(f"--set per_decade: must be >= 1, got {per_decade!r}")
    return [10.0 ** (j / k) for j in range(-4 * k, k + 1)]


def init_directions(seed: int, d: int, inits: int) -> np.ndarray[Any, Any]:
    """Unit initialization directions, shape ``(inits, d)``.

    Direction ``k`` is ``u / ||u||`` for ``u`` standard Gaussian from
    ``numpy.random.default_rng(derive_seed(seed, "init", k))``: the same ``k``-th
    direction for every method and ``p`` (the inits are paired across them).
    """
    out = np.empty((int(inits), int(d)), dtype=np.float64)
    for k in range(int(inits)):
        u = np.random.default_rng(derive_seed(seed, "init", k)).standard_normal(int(d))
        out[k] = u / np.linalg.norm(u)
    return out


class BatchedObjective:
    """The ``l_p`` losses of ``X w_r`` for every row ``w_r`` of ``W`` and their gradients.

    ``L(w) = mean_i |x_i^T w - y_i|^p / p`` (Arora et al., Section 8) and
    ``dL/dw = X^T (sign(r) |r|^(p-1)) / m`` with ``r = X w - y``, for all rows
    at once: ``R = W X^T - y`` is one ``addmm``, the gradients one ``mm``.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, p: float) -> None:
        m = int(x.shape[0])
        self.xt = x.T.contiguous()  # (d, m)
        self.x_m = (x / m).contiguous()  # (m, d)
        self.neg_y = (-y).contiguous()  # (m,), broadcast over rows
        self.p = float(p)
        self.scale = 1.0 / (self.p * m)

    def __call__(self, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Losses ``(rows,)`` and gradients ``(rows, d)`` at ``w`` of shape ``(rows, d)``."""
        r = torch.addmm(self.neg_y, w, self.xt)  # x w - y for every row
        if self.p == 2.0:
            return torch.linalg.vecdot(r, r) * self.scale, r.mm(self.x_m)
        if self.p == 4.0:
            r2 = r * r
            return torch.linalg.vecdot(r2, r2) * self.scale, r2.mul_(r).mm(self.x_m)
        a = r.abs()
        ap1 = a.pow(self.p - 1.0)
        loss = torch.linalg.vecdot(ap1, a) * self.scale
        return loss, ap1.mul_(r.sign()).mm(self.x_m)


# -- the row-wise optimizer updates (torch.optim's single-tensor arithmetic) ------------


class _Rule:
    """An optimizer over parameter tensors whose first dimension is the row (one run each)."""

    def __init__(self, params: list[torch.Tensor], lr: torch.Tensor) -> None:
        self.params = params
        self.neg_lr = -lr  # (rows,)
        self.state: list[list[torch.Tensor]] = [[] for _ in params]
        self.steps = 0

    def lr_for(self, q: torch.Tensor) -> torch.Tensor:
        """``-lr`` shaped to broadcast against ``q`` (a column for a matrix)."""
        return self.neg_lr.view(-1, *([1] * (q.dim() - 1)))

    def keep(self, rows: torch.Tensor) -> None:
        """Keep only ``rows`` (compaction after some rows stopped)."""
        self.params = [q[rows] for q in self.params]
        self.state = [[s[rows] for s in st] for st in self.state]
        self.neg_lr = self.neg_lr[rows]

    def step(self, grads: Sequence[torch.Tensor]) -> None:
        self.steps += 1
        for i, (q, g) in enumerate(zip(self.params, grads, strict=True)):
            self._update(i, q, g)

    def _update(self, i: int, q: torch.Tensor, g: torch.Tensor) -> None:  # pragma: no cover
        raise NotImplementedError


class _SGD(_Rule):
    """``torch.optim.SGD`` defaults: ``q <- q - lr g``."""

    def _update(self, i: int, q: torch.Tensor, g: torch.Tensor) -> None:
        q.addcmul_(g, self.lr_for(q))


class _Adagrad(_Rule):
    """``torch.optim.Adagrad`` defaults: ``s += g^2``, ``q <- q - lr g / (sqrt(s) + 1e-10)``."""

    eps = 1e-10

    def _update(self, i: int, q: torch.Tensor, g: torch.Tensor) -> None:
        if not self.state[i]:
            self.state[i] = [torch.zeros_like(q)]
        (state_sum,) = self.state[i]
        state_sum.addcmul_(g, g, value=1)
        std = state_sum.sqrt().add_(self.eps)
        q.addcmul_(g.div(std), self.lr_for(q))


class _Adadelta(_Rule):
    """``torch.optim.Adadelta`` defaults (``rho = 0.9``, ``eps = 1e-6``), rate per row."""

    rho, eps = 0.9, 1e-6

    def _update(self, i: int, q: torch.Tensor, g: torch.Tensor) -> None:
        if not self.state[i]:
            self.state[i] = [torch.zeros_like(q), torch.zeros_like(q)]
        square_avg, acc_delta = self.state[i]
        square_avg.mul_(self.rho).addcmul_(g, g, value=1 - self.rho)
        std = square_avg.add(self.eps).sqrt_()
        delta = acc_delta.add(self.eps).sqrt_()
        delta.div_(std).mul_(g)
        acc_delta.mul_(self.rho).addcmul_(delta, delta, value=1 - self.rho)
        q.addcmul_(delta, self.lr_for(q))


class _Adam(_Rule):
    """``torch.optim.Adam`` defaults (``betas = (0.9, 0.999)``, ``eps = 1e-8``), rate per row."""

    beta1, beta2, eps = 0.9, 0.999, 1e-8

    def _update(self, i: int, q: torch.Tensor, g: torch.Tensor) -> None:
        if not self.state[i]:
            self.state[i] = [torch.zeros_like(q), torch.zeros_like(q)]
        exp_avg, exp_avg_sq = self.state[i]
        exp_avg.lerp_(g, 1 - self.beta1)
        exp_avg_sq.mul_(self.beta2).addcmul_(g, g, value=1 - self.beta2)
        step = float(self.steps)
        bias_correction1 = 1 - self.beta1**step
        bias_correction2_sqrt = (1 - self.beta2**step) ** 0.5
        denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(self.eps)
        q.addcmul_(exp_avg.div(denom), self.lr_for(q) / bias_correction1)


_RULES: dict[str, type[_Rule]] = {
    "gd-depth1": _SGD,
    "gd-depth2": _SGD,
    "gd-depth3": _SGD,
    "adagrad": _Adagrad,
    "adadelta": _Adadelta,
    "adam": _Adam,
}


def _end_to_end(params: list[torch.Tensor]) -> torch.Tensor:
    """``w = w_1 * omega_2 * ... * omega_N`` per row."""
    w1 = params[0]
    if len(params) == 1:
        return w1
    scale = params[1] if len(params) == 2 else params[1] * params[2]
    return w1 * scale.unsqueeze(1)


def _chain_rule(g: torch.Tensor, params: list[torch.Tensor]) -> list[torch.Tensor]:
    """Gradients of every factor from the end-to-end gradient ``g`` (rows, d)."""
    if len(params) == 1:
        return [g]
    w1 = params[0]
    gw = torch.linalg.vecdot(g, w1)  # g . w_1 per row
    if len(params) == 2:
        return [g * params[1].unsqueeze(1), gw]
    o2, o3 = params[1], params[2]
    return [g * (o2 * o3).unsqueeze(1), gw * o3, gw * o2]


def _log_times(max_iters: int) -> set[int]:
    n = max(int(max_iters), 1)
    ts = np.unique(np.round(np.logspace(0.0, math.log10(n), CURVE_POINTS - 2)).astype(np.int64))
    return {0, *(int(t) for t in ts)}


@dataclass
class BatchedRuns:
    """The outcome of every row (one init at one rate) of one ``(data set, p, method)``.

    Rows are ordered init-major: row ``k * len(lrs) + j`` is init ``k`` at rate
    ``lrs[j]``.

    Attributes
    ----------
    lrs : list of float
    inits : int
    status : ndarray of int, shape (rows,)
        Index into :data:`STATUSES`.
    final_t : ndarray of int
        The iteration each row ended at (its count to target when reached).
    final_gap, loss0 : ndarray of float
        ``L - L*`` at ``final_t`` (``nan`` when not finite) and ``L(0)``.
    w : ndarray, shape (rows, d)
        The final end-to-end vectors.
    curves : dict
        Row -> ``(t, gap)`` lists at about :data:`CURVE_POINTS` log-spaced
        iterations, for the rows of init ``curve_init``.
    loop_iterations : int
        Iterations the batch ran (the last row's ``final_t``).
    """

    lrs: list[float]
    inits: int
    status: np.ndarray[Any, Any]
    final_t: np.ndarray[Any, Any]
    final_gap: np.ndarray[Any, Any]
    loss0: np.ndarray[Any, Any]
    w: np.ndarray[Any, Any]
    curves: dict[int, tuple[list[int], list[float | None]]] = field(default_factory=dict)
    loop_iterations: int = 0

    def status_names(self) -> list[str]:
        return [STATUSES[int(s)] for s in self.status]


def descend_batched(
    x: torch.Tensor,
    y: torch.Tensor,
    p: float,
    method: str,
    lrs: Sequence[float],
    directions: np.ndarray[Any, Any],
    *,
    init_scale: float,
    l_star: float,
    max_iters: int,
    target: float,
    early_stop: bool = True,
    curve_init: int | None = 0,
) -> BatchedRuns:
    """Run ``method`` at every rate from every init direction, all rows in one tensor.

    Parameters
    ----------
    x, y : torch.Tensor
        Inputs ``(m, d)`` and targets ``(m,)``, float64.
    p : float
        The loss exponent (Arora et al., Section 8: ``p = 4`` and ``p = 2``).
    method : str
        One of :data:`METHODS`.
    lrs : sequence of float
        The learning rates (:func:`lr_grid`).
    directions : ndarray, shape (inits, d)
        Unit init directions (:func:`init_directions`).
    init_scale : float
        ``eps`` of the balanced initialization (Section 3, Eq. 10 starts
        balanced): ``w_1 = eps u`` and ``omega_j = eps``, so ``||w_1|| =
        |omega_j|``; depth 1 starts at ``w = eps u``.
    l_star : float
        The optimal loss ``L*``.
    max_iters, target : int, float
        Iteration budget; a row reaches the target at the first ``t`` with
        ``L(t) - L* <= target L*``.
    early_stop : bool
        Stop an init's other rows once one of them has reached the target.
    curve_init : int or None
        Keep the gap curves of this init's rows.

    Returns
    -------
    BatchedRuns
    """
    if method not in METHODS:
        raise ValueError(f"method: expected one of {METHODS}, got {method!r}")
    dirs = np.asarray(directions, dtype=np.float64)
    inits, d = dirs.shape
    n_lr = len(lrs)
    rows = inits * n_lr
    eps = float(init_scale)
    w1 = torch.from_numpy(np.repeat(eps * dirs, n_lr, axis=0))
    params = [
        w1,
        *(torch.full((rows,), eps, dtype=torch.float64) for _ in range(DEPTH[method] - 1)),
    ]
    rule = _RULES[method](
        params, torch.tensor([float(r) for r in lrs], dtype=torch.float64).repeat(inits)
    )
    objective = BatchedObjective(x, y, p)
    l_star = float(l_star)
    threshold = float(target) * l_star
    record = _log_times(max_iters)

    status = np.full(rows, -1, dtype=np.int64)
    final_t = np.zeros(rows, dtype=np.int64)
    final_gap = np.full(rows, math.nan)
    loss0 = np.full(rows, math.nan)
    w_out = np.zeros((rows, d))
    row_init = np.arange(rows) // n_lr
    curves: dict[int, tuple[list[int], list[float | None]]] = {
        r: ([], []) for r in range(rows) if curve_init is not None and row_init[r] == curve_init
    }
    active = np.arange(rows)  # full-row index of each row of the (compacted) matrix
    curve_pos = np.flatnonzero(np.isin(active, list(curves)))
    div_level = torch.empty(0)
    t = 0
    with torch.no_grad():
        while True:
            w = _end_to_end(rule.params)
            loss, g = objective(w)
            gap = loss - l_star
            if t == 0:
                loss0[:] = loss.numpy()
                div_level = DIVERGE_FACTOR * loss
            ok = loss <= div_level  # False for nan, inf and above the bound
            reached = (gap <= threshold) & ok
            last = t >= int(max_iters)
            finish = torch.ones_like(ok) if last else reached | ~ok
            noted = t in record
            if noted and curve_pos.size:
                _note(curves, active[curve_pos], t, gap[torch.from_numpy(curve_pos)])
            if last or bool(finish.any()):
                fin = finish.numpy().copy()
                code = np.where(reached.numpy(), _REACHED, np.where(ok.numpy(), _BUDGET, _DIVERGED))
                if early_stop:
                    done_inits = np.unique(row_init[active[reached.numpy()]])
                    stop = ~fin & np.isin(row_init[active], done_inits)
                    code[stop] = _STOPPED
                    fin |= stop
                idx = active[fin]
                status[idx] = code[fin]
                final_t[idx] = t
                gaps = gap.numpy()[fin]
                final_gap[idx] = np.where(np.isfinite(gaps), gaps, math.nan)
                w_out[idx] = w.numpy()[fin]
                if not noted:
                    pos = np.flatnonzero(fin & np.isin(active, list(curves)))
                    if pos.size:
                        _note(curves, active[pos], t, gap[torch.from_numpy(pos)])
                keep = np.flatnonzero(~fin)
                if keep.size == 0:
                    break
                kt = torch.from_numpy(keep)
                rule.keep(kt)
                g, div_level, active = g[kt], div_level[kt], active[keep]
                curve_pos = np.flatnonzero(np.isin(active, list(curves)))
            rule.step(_chain_rule(g, rule.params))
            t += 1
    return BatchedRuns(
        lrs=[float(r) for r in lrs],
        inits=int(inits),
        status=status,
        final_t=final_t,
        final_gap=final_gap,
        loss0=loss0,
        w=w_out,
        curves=curves,
        loop_iterations=t,
    )


def _note(
    curves: dict[int, tuple[list[int], list[float | None]]],
    rows: np.ndarray[Any, Any],
    t: int,
    gaps: torch.Tensor,
) -> None:
    for r, v in zip(rows.tolist(), gaps.tolist(), strict=True):
        curves[r][0].append(t)
        curves[r][1].append(v if math.isfinite(v) else None)


def best_per_init(runs: BatchedRuns) -> list[dict[str, Any]]:
    """The best rate of each init.

    Fewest iterations to target (ties: smaller final gap, then smaller rate);
    if no rate reached it, the count is censored (``iterations`` ``None``) and
    the rate with the smallest final gap is reported (ties: smaller rate).

    Returns
    -------
    list of dict
        Per init: ``init``, ``row``, ``lr``, ``iterations`` (``None`` if not
        reached), ``reached``, ``final_gap`` (``None`` if not finite).
    """
    n_lr = len(runs.lrs)
    out = []
    for k in range(runs.inits):
        rows = range(k * n_lr, (k + 1) * n_lr)

        def gap(r: int) -> float:
            v = float(runs.final_gap[r])
            return v if math.isfinite(v) else math.inf

        hit = [r for r in rows if runs.status[r] == _REACHED]
        if hit:
            best = min(hit, key=lambda r: (int(runs.final_t[r]), gap(r), runs.lrs[r % n_lr]))
        else:
            best = min(rows, key=lambda r: (gap(r), runs.lrs[r % n_lr]))
        g = gap(best)
        out.append(
            {
                "init": k,
                "row": best,
                "lr": runs.lrs[best % n_lr],
                "iterations": int(runs.final_t[best]) if hit else None,
                "reached": bool(hit),
                "final_gap": g if math.isfinite(g) else None,
            }
        )
    return out
