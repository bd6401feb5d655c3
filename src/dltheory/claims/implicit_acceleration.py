"""Claim ``implicit-acceleration``: depth accelerates gradient descent on l_4 regression.

Arora, Cohen and Hazan, "On the Optimization of Deep Networks: Implicit
Acceleration by Overparameterization", ICML 2018, Sections 3 and 8: for l_p
regression ``L(w) = mean_i (1/p) |y_i - x_i^T w|^p``, replacing the weight
vector ``w`` by ``w_1 * omega_2`` (one extra scalar) makes gradient descent
converge faster for ``p = 4`` -- faster even than AdaGrad and AdaDelta -- and
has little or no effect for ``p = 2``.  With a balanced initialization the
end-to-end vector follows ``w <- w - eta ||w||^(2 - 2/N) (g + (N - 1) P_w g)``
(``g`` the gradient, ``P_w`` the projection onto ``w``), an adaptive, momentum
like preconditioner that no regularizer induces.

Protocol (fixed before any result was seen)
-------------------------------------------
Data
    :func:`dltheory.data.load_regression` of the ``dataset`` parameter
    (default ``diabetes``, or a CSV path), seed 0: standardized inputs and
    target, a single target required.  Linear model, no intercept, float64.
Losses
    ``p = 4`` and ``p = 2``, both always.  The optimum ``L*_p`` is computed
    exactly by :func:`dltheory.losses.lp_regression_optimum`.
Methods
    ``gd-depth1`` (``w``, :class:`torch.optim.SGD`), ``gd-depth2``
    (``w = w_1 * omega_2``, SGD on ``w_1`` and the scalar ``omega_2``),
    ``gd-depth3`` (``w = w_1 * omega_2 * omega_3``, SGD on all three),
    ``adagrad``, ``adadelta``, ``adam`` (depth 1, :mod:`torch.optim` defaults
    but the learning rate; Adam is reported beside, not in the verdict).
    Full-batch gradients at every iteration (computed in closed form, equal
    to autograd's; see :func:`loss_and_grad`), then the :mod:`torch.optim`
    optimizer's own step.
Initialization
    Balanced, near zero: ``u`` standard Gaussian from a NumPy generator seeded
    with ``derive_seed(seed, "init")`` (the same for every unit),
    ``w_1 = eps u / ||u||`` and ``omega_j = eps`` (``||w_1|| = |omega_j|``),
    ``eps = init_scale = 0.1``; depth 1 starts at ``w = eps u / ||u||``.
Learning rates
    ``10 ** (j / per_decade)`` for integer ``j`` from ``-4 per_decade`` to
    ``per_decade`` (1e-4 to 10), the same grid for every method.
Run
    At most ``max_iters`` iterations.  ``Gap(t) = L(t) - L*``; iterations to
    target: the first ``t`` with ``Gap(t) <= target * L*`` (``target`` 1e-4).
    A run stops when the target is reached, or when the loss is non-finite
    or exceeds ``1e3 L(0)`` (diverged).  The curve ``(t, Gap(t))`` is kept at
    about 300 log-spaced ``t`` (with ``t = 0`` and the last ``t``).
Best rate
    Per ``(p, method)``: the rate with the fewest iterations to target; if no
    rate reached it, the rate with the smallest final gap (not reached).

Verdict
-------
``I(p, m)`` is the best number of iterations, ``+inf`` if not reached.
Reproduced iff both

(a) ``I(4, gd-depth2)`` and ``I(4, gd-depth3)`` are finite and each is smaller
    than ``min(I(4, gd-depth1), I(4, adagrad), I(4, adadelta))``;
(b) the depth speed-up ``S_p = I(p, gd-depth1) / min(I(p, gd-depth2),
    I(p, gd-depth3))`` is larger for ``p = 4`` than for ``p = 2``.  An
    unreached count only bounds ``S_p``: with ``N = max_iters``, ``S_p`` lies in
    ``[lo, hi]`` = ``[a/b, a/b]`` when both counts are reached,
    ``[N/b, inf]`` when depth 1 is not, ``[0, a/N]`` when depths 2 and 3 are
    not, ``[0, inf]`` when none is (``a``, ``b`` the reached counts, at least
    1); (b) holds iff ``lo_4 > hi_2``.

Figure
------
``Gap(t)`` against ``t`` for ``p = 4`` (left) and ``p = 2`` (right), one curve
per method at its best rate, log ``y``, symlog ``x`` (linear in ``[0, 1]``,
logarithmic beyond), the target ``target * L*`` dashed, like the paper's
l_p regression figures (Section 8).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from ..data.regression import BUNDLED_REGRESSION, load_regression
from ..losses import lp_regression_optimum
from ._util import derive_seed, pyplot
from .base import Claim, Param, Unit, Verdict, register

__all__ = [
    "ImplicitAcceleration",
    "METHODS",
    "P_VALUES",
    "DIVERGE_FACTOR",
    "CURVE_POINTS",
    "lr_grid",
    "init_direction",
    "loss_and_grad",
    "descend",
    "best_runs",
    "speedup_bounds",
]

#: The methods: gradient descent at depth 1, 2, 3 and three adaptive optimizers at depth 1.
METHODS = ("gd-depth1", "gd-depth2", "gd-depth3", "adagrad", "adadelta", "adam")
#: The l_p exponents, both always run (the verdict compares them).
P_VALUES = (4, 2)
#: A run has diverged once its loss exceeds this factor times its initial loss.
DIVERGE_FACTOR = 1e3
#: ``numpy``: the optimizers' updates in NumPy (fast); ``torch``: :mod:`torch.optim` itself.
#: Most points kept of a curve.
CURVE_POINTS = 300

_DEPTH = {"gd-depth1": 1, "gd-depth2": 2, "gd-depth3": 3, "adagrad": 1, "adadelta": 1, "adam": 1}
_LABEL = {
    "gd-depth1": "GD depth 1",
    "gd-depth2": "GD depth 2",
    "gd-depth3": "GD depth 3",
    "adagrad": "AdaGrad",
    "adadelta": "AdaDelta",
    "adam": "Adam",
}


def lr_grid(per_decade: int) -> list[float]:
    """Learning rates ``10 ** (j / per_decade)``, ``j = -4 per_decade, ..., per_decade``."""
    k = int(per_decade)
    if k < 1:
        raise ValueError(f"--set per_decade: must be >= 1, got {per_decade!r}")
    return [10.0 ** (j / k) for j in range(-4 * k, k + 1)]


def init_direction(seed: int, d: int) -> np.ndarray[Any, Any]:
    """The unit vector ``u / ||u||`` of the balanced initialization (``u`` standard Gaussian)."""
    u = np.random.default_rng(derive_seed(seed, "init")).standard_normal(d)
    out: np.ndarray[Any, Any] = u / np.linalg.norm(u)
    return out


class _TorchObjective:
    """The l_p loss of ``x @ w`` and its gradient (torch), constant tensors precomputed."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, p: float) -> None:
        m = int(x.shape[0])
        self.x = x.contiguous()
        self.xt_m = (x.T / m).contiguous()  # x^T / m
        self.neg_y = (-y).contiguous()
        self.p = float(p)
        self.scale = 1.0 / (self.p * m)

    def __call__(self, w: torch.Tensor) -> tuple[float, torch.Tensor]:
        r = torch.addmv(self.neg_y, self.x, w)  # x w - y
        if self.p == 2.0:
            return float(r.dot(r)) * self.scale, self.xt_m.mv(r)
        if self.p == 4.0:
            r2 = r * r
            return float(r2.dot(r2)) * self.scale, self.xt_m.mv(r2.mul_(r))
        a = r.abs()
        ap1 = a.pow(self.p - 1.0)
        loss = float(ap1.dot(a)) * self.scale
        return loss, self.xt_m.mv(ap1.mul_(r.sign()))


def loss_and_grad(
    x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, p: float
) -> tuple[float, torch.Tensor]:
    """The l_p loss of ``x @ w`` and its gradient in ``w``, in closed form.

    ``L = mean_i |r_i|^p / p`` and ``dL/dw = x^T (sign(r) |r|^(p-1)) / m`` with
    ``r = x w - y`` -- equal to autograd of :func:`dltheory.losses.lp_loss`
    (checked by the tests), without its bookkeeping: one loss evaluation per
    iteration, reused for the gap.
    """
    with torch.no_grad():
        return _TorchObjective(x, y, p)(w)


def _torch_optimizer(method: str, lr: float, params: list[torch.Tensor]) -> torch.optim.Optimizer:
    # foreach=False is what the default resolves to for CPU tensors; passing it
    # explicitly skips a per-step dispatch check (identical arithmetic).
    if method == "adagrad":
        return torch.optim.Adagrad(params, lr=lr, foreach=False)
    if method == "adadelta":
        return torch.optim.Adadelta(params, lr=lr, foreach=False)
    if method == "adam":
        return torch.optim.Adam(params, lr=lr, foreach=False)
    return torch.optim.SGD(params, lr=lr, foreach=False)


def _log_times(max_iters: int) -> set[int]:
    n = max(int(max_iters), 1)
    ts = np.unique(np.round(np.logspace(0.0, math.log10(n), CURVE_POINTS - 2)).astype(np.int64))
    return {0, *(int(t) for t in ts)}


def _finite_or_none(v: float) -> float | None:
    return v if math.isfinite(v) else None


class _Tracker:
    """The bookkeeping of a run: gap, target, divergence, the log-spaced curve."""

    def __init__(self, l_star: float, target: float, max_iters: int) -> None:
        self.l_star = float(l_star)
        self.threshold = float(target) * self.l_star
        self.max_iters = int(max_iters)
        self.record = _log_times(max_iters)
        self.curve_t: list[int] = []
        self.curve_gap: list[float | None] = []
        self.loss0 = math.nan
        self.gap = math.nan
        self.reached = self.diverged = False
        self.t = 0

    def stop(self, t: int, loss: float) -> bool:
        """Note the loss at iteration ``t``; ``True`` if the run ends here."""
        if t == 0:
            self.loss0 = loss
        self.t = t
        self.gap = gap = loss - self.l_star
        self.diverged = not math.isfinite(loss) or loss > DIVERGE_FACTOR * self.loss0
        self.reached = not self.diverged and gap <= self.threshold
        last = self.diverged or self.reached or t >= self.max_iters
        if last or t in self.record:
            self.curve_t.append(t)
            self.curve_gap.append(_finite_or_none(gap))
        return last

    def result(self, w: list[float]) -> dict[str, Any]:
        return {
            "iterations": self.t if self.reached else None,
            "reached": self.reached,
            "diverged": self.diverged,
            "final_t": self.t,
            "final_gap": _finite_or_none(self.gap),
            "loss0": self.loss0,
            "curve_t": self.curve_t,
            "curve_gap": self.curve_gap,
            "w": w,
        }


def _run_torch(
    objective: _TorchObjective,
    method: str,
    lr: float,
    w1_init: np.ndarray[Any, Any],
    eps: float,
    tracker: _Tracker,
) -> list[float]:
    depth = _DEPTH[method]
    w1 = torch.tensor(w1_init, dtype=torch.float64, requires_grad=True)
    omegas = [torch.tensor(eps, dtype=torch.float64, requires_grad=True) for _ in range(depth - 1)]
    params = [w1, *omegas]
    grads = [torch.zeros_like(q) for q in params]
    for q, gq in zip(params, grads, strict=True):
        q.grad = gq
    opt = _torch_optimizer(method, lr, params)
    w = w1
    t = 0
    with torch.no_grad():
        while True:
            if depth == 2:
                w = w1 * omegas[0]
            elif depth == 3:
                w = w1 * (omegas[0] * omegas[1])
            loss, g = objective(w)
            if tracker.stop(t, loss):
                break
            if depth == 1:
                grads[0].copy_(g)
            elif depth == 2:
                torch.mul(g, omegas[0], out=grads[0])
                grads[1].copy_(g.dot(w1))
            else:
                gw = g.dot(w1)
                torch.mul(g, omegas[0] * omegas[1], out=grads[0])
                torch.mul(gw, omegas[1], out=grads[1])
                torch.mul(gw, omegas[0], out=grads[2])
            opt.step()
            t += 1
    return [float(v) for v in w.detach()]


def descend(
    x: torch.Tensor,
    y: torch.Tensor,
    p: float,
    method: str,
    lr: float,
    *,
    direction: np.ndarray[Any, Any],
    init_scale: float,
    l_star: float,
    max_iters: int,
    target: float,
) -> dict[str, Any]:
    """Run one method at one learning rate from the balanced initialization.

    Parameters
    ----------
    x, y : torch.Tensor
        Inputs ``(m, d)`` and targets ``(m,)``, float64.
    p : float
        The loss exponent.
    method : str
        One of :data:`METHODS`.
    lr : float
        Learning rate.
    direction : ndarray, shape (d,)
        Unit vector of the initialization (:func:`init_direction`).
    init_scale : float
        ``eps``: ``w_1 = eps * direction``, ``omega_j = eps``.
    l_star : float
        The optimal loss ``L*``.
    max_iters, target : int, float
        Iteration budget and relative gap to reach.

    Returns
    -------
    dict
        ``iterations`` (``None`` if not reached), ``reached``, ``diverged``,
        ``final_t``, ``final_gap`` (``None`` if non-finite), ``loss0``,
        ``curve_t``, ``curve_gap`` and the final end-to-end vector ``w``.
    """
    if method not in METHODS:
        raise ValueError(f"method: expected one of {METHODS}, got {method!r}")
    eps = float(init_scale)
    w1 = eps * np.asarray(direction, dtype=np.float64)
    tracker = _Tracker(l_star, target, max_iters)
    w = _run_torch(_TorchObjective(x, y, p), method, float(lr), w1, eps, tracker)
    return tracker.result(w)


def _load_single_target(dataset: str) -> Any:
    data = load_regression(dataset, seed=0)
    if data.num_targets != 1:
        raise ValueError(
            f"--set dataset: {data.name!r} has {data.num_targets} targets; "
            "implicit-acceleration needs a single target (l_p regression of one output): "
            "pick another data set or a CSV file with the target in the last column"
        )
    return data


def _gap_key(r: Mapping[str, Any]) -> float:
    g = r.get("final_gap")
    return math.inf if g is None or not math.isfinite(float(g)) else float(g)


def best_runs(results: list[dict[str, Any]]) -> dict[tuple[int, str], dict[str, Any]]:
    """The best unit per ``(p, method)``.

    Fewest iterations to target (ties: smaller final gap, then smaller rate);
    if no rate reached it, the smallest final gap (ties: smaller rate).
    """
    groups: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for r in results:
        groups.setdefault((int(r["p"]), str(r["method"])), []).append(r)
    best: dict[tuple[int, str], dict[str, Any]] = {}
    for key, runs in groups.items():
        hit = [r for r in runs if r.get("iterations") is not None]
        if hit:
            best[key] = min(hit, key=lambda r: (int(r["iterations"]), _gap_key(r), r["lr"]))
        else:
            best[key] = min(runs, key=lambda r: (_gap_key(r), r["lr"]))
    return best


def speedup_bounds(i1: float, i23: float, max_iters: int) -> tuple[float, float]:
    """Interval ``[lo, hi]`` holding ``S = I(gd-depth1) / min(I(gd-depth2), I(gd-depth3))``.

    ``i1``, ``i23`` are the counts, ``inf`` when not reached within
    ``max_iters`` (the true count then exceeds ``max_iters``).  Reached counts
    are taken as at least 1.
    """
    n = float(max_iters)
    a_ok, b_ok = math.isfinite(i1), math.isfinite(i23)
    a, b = max(i1, 1.0), max(i23, 1.0)
    if a_ok and b_ok:
        return a / b, a / b
    if b_ok:  # depth 1 not reached: S > N / b
        return n / b, math.inf
    if a_ok:  # depths 2, 3 not reached: S < a / N
        return 0.0, a / n
    return 0.0, math.inf


def _count(i: float) -> str:
    return f"{int(i):,}" if math.isfinite(i) else "not reached"


def _ratio(lo: float, hi: float) -> str:
    if lo == hi:
        return f"{lo:.2f}x"
    return f"in [{lo:.3g}, {hi:.3g}]x"


@register
class ImplicitAcceleration(Claim):
    """Depth-2/3 overparameterization of a linear model accelerates GD on l_4, not on l_2."""

    id = "implicit-acceleration"
    title = "Implicit acceleration by overparameterization (l_4 vs l_2 regression)"
    source = (
        "Arora, Cohen & Hazan, On the Optimization of Deep Networks: Implicit Acceleration by "
        "Overparameterization, ICML 2018, Sections 3 and 8"
    )
    statement = (
        "For l_4 linear regression, gradient descent on w = w1 * omega2 (or w1 * omega2 * omega3) "
        "from a balanced near-zero init reaches 1e-4 relative gap in fewer iterations than plain "
        "GD, AdaGrad and AdaDelta at their best learning rates, and the depth speed-up is larger "
        "for l_4 than for l_2."
    )
    data_note = (
        "The paper used UCI gas-sensor data sets; here scikit-learn's bundled diabetes data "
        "(any bundled single-target set or a CSV file via --set dataset=...)."
    )
    params = (
        Param(
            "dataset",
            "str",
            "diabetes",
            "diabetes",
            f"regression data: one of {', '.join(BUNDLED_REGRESSION)} (single target) or a CSV "
            "path, target in the last column",
        ),
        Param("per_decade", "int", 1, 3, "learning rates per decade in 1e-4 .. 10", minimum=1),
        Param("max_iters", "int", 20000, 200000, "iterations at most per run", minimum=1),
        Param("target", "float", 1e-4, 1e-4, "relative gap (L - L*) / L* to reach", minimum=1e-15),
        Param("init_scale", "float", 0.1, 0.1, "eps of the balanced init", minimum=1e-12),
    )

    def units(self, params: Mapping[str, Any], seed: int) -> list[Unit]:
        name = str(params["dataset"])
        data = _load_single_target(name)
        if name not in BUNDLED_REGRESSION:
            name = os.path.abspath(name)  # units may run in another working directory
        unit_seed = derive_seed(seed, self.id)  # one seed: the same init for every unit
        return [
            Unit(
                {
                    "dataset": name,
                    "fingerprint": data.fingerprint,
                    "p": p,
                    "method": method,
                    "lr": lr,
                    "max_iters": int(params["max_iters"]),
                    "target": float(params["target"]),
                    "init_scale": float(params["init_scale"]),
                },
                unit_seed,
            )
            for p in P_VALUES
            for method in METHODS
            for lr in lr_grid(int(params["per_decade"]))
        ]

    def run_unit(self, config: Mapping[str, Any], seed: int) -> dict[str, Any]:
        t0 = time.perf_counter()
        torch.set_num_threads(1)
        dataset = str(config["dataset"])
        data = _load_single_target(dataset)
        if data.fingerprint != config["fingerprint"]:
            raise ValueError(
                f"--set dataset: the data of {dataset!r} changed since the sweep was planned "
                f"(fingerprint {str(config['fingerprint'])[:12]} -> {data.fingerprint[:12]}); "
                "run the claim again"
            )
        p = int(config["p"])
        method = str(config["method"])
        x, y = data.x, data.y
        _, l_star = lp_regression_optimum(x, y, p)
        run = descend(
            x,
            y,
            p,
            method,
            float(config["lr"]),
            direction=init_direction(seed, data.num_features),
            init_scale=float(config["init_scale"]),
            l_star=float(l_star),
            max_iters=int(config["max_iters"]),
            target=float(config["target"]),
        )
        return {
            "dataset": data.name,
            "fingerprint": data.fingerprint,
            "p": p,
            "method": method,
            "lr": float(config["lr"]),
            "L_star": float(l_star),
            **run,
            "wall_s": time.perf_counter() - t0,
        }

    def verdict(self, params: Mapping[str, Any], results: list[dict[str, Any]]) -> Verdict:
        n = int(params["max_iters"])
        best = best_runs(results)

        def its(p: int, m: str) -> float:
            r = best.get((p, m))
            return math.inf if r is None or r.get("iterations") is None else float(r["iterations"])

        numbers: dict[str, Any] = {}
        for p in P_VALUES:
            stars = [float(r["L_star"]) for r in results if int(r["p"]) == p and "L_star" in r]
            numbers[f"L*_{p}"] = stars[0] if stars else None
        for p in P_VALUES:
            for m in METHODS:
                r = best.get((p, m))
                numbers[f"I(p={p}, {m})"] = None if r is None else r.get("iterations")
                numbers[f"lr(p={p}, {m})"] = None if r is None else r["lr"]
                if r is not None and r.get("iterations") is None:
                    numbers[f"final_gap(p={p}, {m})"] = r.get("final_gap")
        i4 = {m: its(4, m) for m in METHODS}
        rivals = min(i4["gd-depth1"], i4["adagrad"], i4["adadelta"])
        cond_a = (
            math.isfinite(i4["gd-depth2"])
            and math.isfinite(i4["gd-depth3"])
            and i4["gd-depth2"] < rivals
            and i4["gd-depth3"] < rivals
        )
        bounds = {
            p: speedup_bounds(its(p, "gd-depth1"), min(its(p, "gd-depth2"), its(p, "gd-depth3")), n)
            for p in P_VALUES
        }
        cond_b = bounds[4][0] > bounds[2][1]
        for p in P_VALUES:
            numbers[f"S_{p}_lo"], numbers[f"S_{p}_hi"] = bounds[p]
        missing = [f"p={p} {m}" for p in P_VALUES for m in METHODS if (p, m) not in best]
        numbers.update(
            {
                "condition_a": cond_a,
                "condition_b": cond_b,
                "max_iters": n,
                "target": float(params["target"]),
                "sum_unit_wall_s": sum(float(r.get("wall_s", 0.0)) for r in results),
                "diverged_units": sum(bool(r.get("diverged")) for r in results),
            }
        )
        ok = cond_a and cond_b and not missing
        i2 = {m: its(2, m) for m in METHODS}
        summary = (
            f"l4: depth-2 {_count(i4['gd-depth2'])} it., depth-3 {_count(i4['gd-depth3'])} vs "
            f"GD {_count(i4['gd-depth1'])}, AdaGrad {_count(i4['adagrad'])}, AdaDelta "
            f"{_count(i4['adadelta'])} (Adam {_count(i4['adam'])}); l2: GD "
            f"{_count(i2['gd-depth1'])}, depth-2 {_count(i2['gd-depth2'])}, depth-3 "
            f"{_count(i2['gd-depth3'])}; depth speed-up {_ratio(*bounds[4])} (l4) vs "
            f"{_ratio(*bounds[2])} (l2); (a) {'held' if cond_a else 'failed'}, "
            f"(b) {'held' if cond_b else 'failed'} (best rate per method, "
            f"{n:,} iterations at most)"
        )
        if missing:
            summary += f"; missing results: {', '.join(missing)}"
        return Verdict.exact(ok, summary if ok else "not reproduced: " + summary, numbers)

    def figure(self, params: Mapping[str, Any], results: list[dict[str, Any]], path: str) -> None:
        plt = pyplot()
        best = best_runs(results)
        target = float(params["target"])
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
        styles = {
            "gd-depth1": ("C0", "-"),
            "gd-depth2": ("C1", "-"),
            "gd-depth3": ("C3", "-"),
            "adagrad": ("C2", "--"),
            "adadelta": ("C4", "--"),
            "adam": ("C7", ":"),
        }
        for ax, p in zip(axes, P_VALUES, strict=True):
            l_star = None
            for m in METHODS:
                r = best.get((p, m))
                if r is None:
                    continue
                l_star = r.get("L_star", l_star)
                pts = [
                    (t, g)
                    for t, g in zip(r["curve_t"], r["curve_gap"], strict=True)
                    if g is not None and g > 0
                ]
                if not pts:
                    continue
                color, ls = styles[m]
                it = r.get("iterations")
                tag = f"{it:,} it." if it is not None else "not reached"
                ax.plot(
                    [t for t, _ in pts],
                    [g for _, g in pts],
                    ls,
                    color=color,
                    label=f"{_LABEL[m]}, lr={r['lr']:.3g}: {tag}",
                )
            if l_star is not None:
                ax.axhline(
                    target * float(l_star),
                    color="k",
                    ls="--",
                    lw=0.8,
                    label=f"target {target:g} L*",
                )
            ax.set_xscale("symlog", linthresh=1.0)
            ax.set_xlim(left=0.0)
            ax.set_yscale("log")
            ax.set_xlabel("iteration t (symlog: linear below 1, log above)")
            ax.set_ylabel("L(t) - L*")
            star = f", L* = {float(l_star):.4g}" if l_star is not None else ""
            ax.set_title(f"l{p} regression{star}")
            ax.legend(fontsize=7)
        name = results[0].get("dataset", params["dataset"]) if results else params["dataset"]
        fig.suptitle(f"Implicit acceleration by depth ({name}; best learning rate per method)")
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
