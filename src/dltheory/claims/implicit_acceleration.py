"""Claim ``implicit-acceleration``: depth accelerates gradient descent on l_4 regression.

Arora, Cohen and Hazan, "On the Optimization of Deep Networks: Implicit
Acceleration by Overparameterization", ICML 2018, Sections 3 and 8: for l_p
regression ``L(w) = mean_i (1/p) |y_i - x_i^T w|^p``, replacing the weight
vector ``w`` by ``w_1 * omega_2`` (one extra scalar) makes gradient descent
converge faster for ``p = 4`` -- faster even than AdaGrad and AdaDelta -- and
has little or no effect for ``p = 2``.  With a balanced initialization the
end-to-end vector follows ``w <- w - eta ||w||^(2 - 2/N) (g + (N - 1) P_w g)``
(Eq. 10; ``g`` the gradient, ``P_w`` the projection onto ``w``), an adaptive,
momentum-like preconditioner that no regularizer induces.

Protocol v2 (fixed 2026-12-01, before any v2 result was seen)
--------------------------------------------------------------
Data
    :func:`dltheory.data.load_regression`, seed 0 (standardized, float64, a
    single target required, no intercept).  The verdict is decided on the
    pre-registered ``dataset`` alone (default ``diabetes``); the ``datasets``
    (default the linnerud targets ``Weight``, ``Waist``, ``Pulse``; CSV paths may
    be added; ``none`` for no others) get the same rule as robustness rows,
    outside the verdict.
Losses
    ``p = 4`` and ``p = 2``; the optimum ``L*_p`` exactly by
    :func:`dltheory.losses.lp_regression_optimum`.
Methods
    ``gd-depth1`` (``w``, SGD), ``gd-depth2`` (``w = w_1 * omega_2``),
    ``gd-depth3`` (``w = w_1 * omega_2 * omega_3``), ``adagrad``, ``adadelta``,
    ``adam`` (depth 1, :mod:`torch.optim` defaults but the rate; Adam is
    reported, not in the verdict).
Initialization
    ``inits`` directions (quick 3, full 10): direction ``k`` is ``u / ||u||``
    for ``u`` standard Gaussian from ``default_rng(derive_seed(seed, "init",
    k))``, the same for every method and ``p`` (paired).  Balanced, near zero:
    ``w_1 = eps u / ||u||``, ``omega_j = eps``, ``eps = init_scale = 0.1``.
Learning rates
    ``10 ** (j / per_decade)`` from 1e-4 to 10, ``per_decade = 3`` in both
    profiles.
Run
    At most ``max_iters`` iterations (quick 20,000, full 200,000).  A run
    (one init, one rate) stops at the target ``L - L* <= 1e-4 L*``, at
    divergence (non-finite loss or above ``1e3 L(0)``) or at the budget.
    Once one rate of an init has reached the target its other rates stop
    (they cannot be best; status ``stopped`` in the stored rows).  All rates
    and inits of one ``(data set, p, method)`` are one batched tensor
    computation (:mod:`._implicit_acceleration_runs`), one unit.
Best rate
    Per ``(data set, p, method, init)``: fewest iterations to target (ties:
    smaller final gap, then smaller rate); none reached: censored.

Verdict
-------
``I_p(m)`` per init, a censored count set to ``max_iters``.  Three paired
effects over the inits (:func:`~dltheory.claims.evidence.paired_ratio`, 95 %,
each holds iff ``> 1``): (a2) ``I_4(rival) / I_4(gd-depth2)`` and (a3)
``I_4(rival) / I_4(gd-depth3)``, ``rival`` the per-init minimum of
``gd-depth1``, ``adagrad``, ``adadelta``; (b) ``S_4 / S_2`` with ``S_p =
I_p(gd-depth1) / min(I_p(gd-depth2), I_p(gd-depth3))``.  An effect one of
whose per-init values is censored (a minimum is censored only when all its
counts are) cannot decide: its outcome counts as ``inconclusive``.  The
verdict is :func:`~dltheory.claims.evidence.combine` of the three (all must
hold).  Robustness data sets: the same rule, one row each, never in the
verdict.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from ..data.regression import BUNDLED_REGRESSION, RegressionData, load_regression
from ..losses import lp_regression_optimum
from ._implicit_acceleration_report import count_text, median, numbers_of, per_init, short_text
from ._implicit_acceleration_runs import (
    CURVE_POINTS,
    DIVERGE_FACTOR,
    METHODS,
    P_VALUES,
    STATUSES,
    best_per_init,
    descend_batched,
    init_directions,
    lr_grid,
)
from ._util import derive_seed
from .base import Claim, Param, Revision, Unit, Verdict, register
from .evidence import (
    INCONCLUSIVE,
    NOT_REPRODUCED,
    Effect,
    RobustnessRow,
    combine,
    paired_ratio,
    robustness_summary,
)

__all__ = [
    "CURVE_POINTS",
    "DIVERGE_FACTOR",
    "FULL_INITS",
    "FULL_MAX_ITERS",
    "ImplicitAcceleration",
    "METHODS",
    "P_VALUES",
    "RIVALS",
    "Evaluation",
    "evaluate",
]

#: The depth-1 methods depth 2 and 3 must beat at p = 4 (effects a2, a3).
RIVALS = ("gd-depth1", "adagrad", "adadelta")
#: The full profile's number of inits and iteration budget (named in ``decide_by``).
FULL_INITS = 10
FULL_MAX_ITERS = 200_000

_EFFECT_NAMES = (
    "(a2) l4 best rival / GD depth 2",
    "(a3) l4 best rival / GD depth 3",
    "(b) speed-up S4 / S2",
)


# -- data ----------------------------------------------------------------------------------


def _load_single_target(name: str, param: str) -> RegressionData:
    data = load_regression(name, seed=0)
    if data.num_targets != 1:
        raise ValueError(
            f"--set {param}: {data.name!r} has {data.num_targets} targets; "
            "implicit-acceleration needs a single target (l_p regression of one output): "
            f"pick one as {data.name}:<target> (targets: {', '.join(data.target_names)}), "
            "another data set, or a CSV file with the target in the last column"
        )
    return data


def _dataset_key(name: str) -> str:
    """How units name a data set: a bundled name as loaded (``linnerud:Weight``), else a path."""
    base = name.partition(":")[0]
    if os.path.isfile(name) or base not in BUNDLED_REGRESSION:
        return os.path.abspath(name)  # units may run in another working directory
    return load_regression(name).name


def _robustness_names(params: Mapping[str, Any]) -> list[str]:
    text = str(params.get("datasets", "none")).strip()
    if text.lower() in ("", "none"):
        return []
    return [s.strip() for s in text.split(",") if s.strip()]


def _keys(params: Mapping[str, Any]) -> tuple[str, list[str], dict[str, str]]:
    """The pre-registered data set's key, the robustness sets' keys (no repeats, not the
    pre-registered one), and each key's name as the user gave it."""
    given = str(params["dataset"])
    pre = _dataset_key(given)
    names, others = {pre: given}, []
    for name in _robustness_names(params):
        try:
            key = _dataset_key(name)
        except ValueError as exc:
            raise ValueError(f"--set datasets: {exc}") from None
        if key not in names:
            names[key] = name
            others.append(key)
    return pre, others, names


def _labels(keys: Sequence[str]) -> dict[str, str]:
    """Display names: a bundled set's key, a CSV file's name (its path if two share it)."""
    short = {k: os.path.basename(k) if os.path.isabs(k) else k for k in keys}
    clash = {v for v in short.values() if list(short.values()).count(v) > 1}
    return {k: (k if v in clash else v) for k, v in short.items()}


# -- the rule ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """The rule applied to one data set.

    Attributes
    ----------
    effects : tuple of Effect
        (a2), (a3), (b), with their censored inits (:attr:`Effect.censored`).
    outcome : str
        :func:`~dltheory.claims.evidence.combine` of the effects' outcomes (a
        censored effect is ``inconclusive``).
    decide_by : str
        What would decide it (``""`` unless inconclusive).
    counts : dict
        ``(p, method) -> (counts, censored flags)`` per init, a censored count
        at ``max_iters``.
    """

    effects: tuple[Effect, ...]
    outcome: str
    decide_by: str
    counts: Mapping[tuple[int, str], tuple[list[float], list[bool]]]


def _minimum(parts: Sequence[tuple[list[float], list[bool]]]) -> tuple[list[float], list[bool]]:
    """Per-init minimum; censored only when every part is (a reached count is <= the budget)."""
    vals = [min(v) for v in zip(*(p[0] for p in parts), strict=True)]
    cens = [all(c) for c in zip(*(p[1] for p in parts), strict=True)]
    return vals, cens


def evaluate(
    units: Mapping[tuple[int, str], Mapping[str, Any]],
    *,
    max_iters: int,
    inits: int,
) -> Evaluation:
    """Effects (a2), (a3), (b) and their combined outcome on one data set.

    Parameters
    ----------
    units : mapping
        ``(p, method) -> unit metrics`` (each with ``best``: per-init dicts
        with ``iterations``, ``None`` when censored), every ``p`` of
        :data:`P_VALUES` and every method but ``adam`` present.
    max_iters : int
        The budget: a censored count is set to it.
    inits : int
        Inits of the current parameters (for ``decide_by``).
    """
    n = int(max_iters)
    counts = {key: per_init(u, n) for key, u in units.items()}
    rival = _minimum([counts[(4, m)] for m in RIVALS])
    pairs: list[tuple[tuple[list[float], list[bool]], tuple[list[float], list[bool]]]] = [
        (rival, counts[(4, "gd-depth2")]),
        (rival, counts[(4, "gd-depth3")]),
    ]
    speedups = []
    for p in P_VALUES:
        one = counts[(p, "gd-depth1")]
        deep = _minimum([counts[(p, "gd-depth2")], counts[(p, "gd-depth3")]])
        speedups.append(
            (
                [a / b for a, b in zip(one[0], deep[0], strict=True)],
                [c or d for c, d in zip(one[1], deep[1], strict=True)],
            )
        )
    pairs.append((speedups[0], speedups[1]))

    effects, lines = [], []
    for name, (a, b) in zip(_EFFECT_NAMES, pairs, strict=True):
        flags = [x or y for x, y in zip(a[1], b[1], strict=True)]
        e = paired_ratio(a[0], b[0], name=name, threshold=1.0, censored=flags, replicates="inits")
        if e.outcome == INCONCLUSIVE:
            lines.append(e.decide_by())
            need = e.seeds_needed()
            if e.censored:
                more = "the full profile" if n < FULL_MAX_ITERS else f"above {n:,}"
                lines.append(f"a larger max_iters ({more}) decides {name}")
            elif need is not None:
                lines.append(
                    f"the full profile ({FULL_INITS} inits) may decide {name}"
                    if need <= FULL_INITS and inits < FULL_INITS
                    else f"about {need} inits (--set inits={need}) would decide {name}"
                )
        effects.append(e)
    result = combine(e.outcome for e in effects)
    return Evaluation(
        effects=tuple(effects),
        outcome=result,
        decide_by="; ".join(lines) if result == INCONCLUSIVE else "",
        counts=counts,
    )


# -- the claim -----------------------------------------------------------------------------


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
        "for l_4 than for l_2 -- over initialization directions with 95 % intervals."
    )
    data_note = (
        "The paper used UCI gas-sensor data; here scikit-learn's bundled diabetes data is "
        "pre-registered (it alone decides), and the linnerud targets Weight, Waist and Pulse "
        "(and any CSV files added via --set datasets=...) are robustness rows."
    )
    rule = (
        "Per init direction (paired across methods and p), I_p(m) = fewest iterations to a "
        "1e-4 relative gap over 3 rates per decade (censored counts at max_iters). Reproduced "
        "iff all three paired geometric-mean ratios have a 95 % t interval above 1 on the "
        "pre-registered data set: (a2) min(I4 GD, AdaGrad, AdaDelta) / I4 depth 2, (a3) the same "
        "over I4 depth 3, (b) S4 / S2 with S_p = I_p(depth 1) / min(I_p(depth 2), I_p(depth 3)); "
        "not reproduced if any interval lies at or below 1, else inconclusive. An effect with "
        "a censored value cannot decide; robustness data sets get the same rule outside the "
        "verdict."
    )
    version = 2
    history = (
        Revision(
            version=2,
            date="2026-12-01",
            change=(
                "Paired inits (quick 3, full 10) with 95 % intervals from paired_ratio instead of "
                "one init; 3 learning rates per decade in both profiles (quick had 1); effects "
                "(a2), (a3), (b) combined, censored counts inconclusive; robustness rows on the "
                "linnerud targets; all rates and inits of a (data set, p, method) batched in one "
                "tensor, an init's slower rates stopped once one reached the target."
            ),
            why=(
                "v1 said 'not reproduced' in quick (1 rate per decade misses the rate that "
                "decides it: at l4 depth-1 GD diverges at lr 0.464 where depth 2 is stable) "
                "and 'reproduced' in full (3 per decade, 200k iterations, ~13 min on 2 cores), "
                "from one initialization direction without error bars, on one data set with "
                "nothing on robustness. v1 full: l4 depth-2 772 / depth-3 867 vs GD 1,202, "
                "AdaGrad 1,694, AdaDelta 1,663 (Adam 241), speed-up 1.56x (l4) vs 0.77x (l2); "
                "quick: depth-2 3,525 / depth-3 3,953 vs GD 2,590, AdaGrad 1,694, AdaDelta "
                "3,372, speed-up 0.73x vs 1.84x."
            ),
        ),
    )
    params = (
        Param(
            "dataset",
            "str",
            "diabetes",
            "diabetes",
            "pre-registered regression data (it alone decides the verdict): diabetes, one "
            "target of a bundled set (linnerud:Weight, linnerud:Waist, linnerud:Pulse) or a CSV "
            "path, target in the last column",
        ),
        Param(
            "datasets",
            "str",
            "linnerud:Weight,linnerud:Waist,linnerud:Pulse",
            "linnerud:Weight,linnerud:Waist,linnerud:Pulse",
            "robustness data sets, comma-separated (bundled targets or CSV paths), or none",
        ),
        Param(
            "inits",
            "int",
            3,
            FULL_INITS,
            "paired initialization directions",
            minimum=2,
            maximum=1000,
        ),
        Param(
            "per_decade",
            "int",
            3,
            3,
            "learning rates per decade in 1e-4 .. 10",
            minimum=1,
            maximum=30,
        ),
        Param(
            "max_iters",
            "int",
            20_000,
            FULL_MAX_ITERS,
            "iterations at most per run",
            minimum=1,
            maximum=10_000_000,
        ),
        Param(
            "target",
            "float",
            1e-4,
            1e-4,
            "relative gap (L - L*) / L* to reach",
            minimum=1e-15,
            maximum=1.0,
        ),
        Param(
            "init_scale", "float", 0.1, 0.1, "eps of the balanced init", minimum=1e-12, maximum=10.0
        ),
    )

    def units(  # pragma: no mutate block (planning, not the verdict rule)
        self, params: Mapping[str, Any], seed: int
    ) -> list[Unit]:
        pre, others, given = _keys(params)
        unit_seed = derive_seed(seed, self.id)  # one seed: the same inits for every unit
        units = []
        for key in (pre, *others):
            param = "dataset" if key == pre else "datasets"
            try:
                data = _load_single_target(given[key], param)
            except ValueError as exc:
                if key == pre or str(exc).startswith("--set"):
                    raise
                raise ValueError(f"--set datasets: {exc}") from None
            for p in P_VALUES:
                for method in METHODS:
                    config = {
                        "dataset": key,
                        "fingerprint": data.fingerprint,
                        "p": p,
                        "method": method,
                        "inits": int(params["inits"]),
                        "per_decade": int(params["per_decade"]),
                        "max_iters": int(params["max_iters"]),
                        "target": float(params["target"]),
                        "init_scale": float(params["init_scale"]),
                    }
                    units.append(Unit(config, unit_seed))
        return units

    def run_unit(  # pragma: no mutate block (measurement, not the verdict rule)
        self, config: Mapping[str, Any], seed: int
    ) -> dict[str, Any]:
        t0 = time.perf_counter()
        torch.set_num_threads(1)
        key = str(config["dataset"])
        data = _load_single_target(key, "dataset")
        if data.fingerprint != config["fingerprint"]:
            raise ValueError(
                f"--set dataset: the data of {key!r} changed since the sweep was planned "
                f"(fingerprint {str(config['fingerprint'])[:12]} -> {data.fingerprint[:12]}); "
                "run the claim again"
            )
        p, method = int(config["p"]), str(config["method"])
        _, l_star = lp_regression_optimum(data.x, data.y, p)
        lrs = lr_grid(int(config["per_decade"]))
        runs = descend_batched(
            data.x,
            data.y,
            p,
            method,
            lrs,
            init_directions(seed, data.num_features, int(config["inits"])),
            init_scale=float(config["init_scale"]),
            l_star=float(l_star),
            max_iters=int(config["max_iters"]),
            target=float(config["target"]),
        )
        best = best_per_init(runs)
        names = runs.status_names()
        t, gap = runs.curves.get(int(best[0]["row"]), ([], []))
        return {
            "dataset": data.name,
            "dataset_key": key,
            "fingerprint": data.fingerprint,
            "p": p,
            "method": method,
            "L_star": float(l_star),
            "lrs": lrs,
            "max_iters": int(config["max_iters"]),
            "best": best,
            "rows": {
                "status": names,
                "final_t": [int(v) for v in runs.final_t],
                "final_gap": [v if math.isfinite(v) else None for v in runs.final_gap.tolist()],
            },
            "status_counts": {s: names.count(s) for s in STATUSES},
            "curve": {"init": 0, "lr": best[0]["lr"], "t": t, "gap": gap},
            "loop_iterations": runs.loop_iterations,
            "wall_s": time.perf_counter() - t0,
        }

    # -- verdict ---------------------------------------------------------------------------
    def verdict(self, params: Mapping[str, Any], results: list[dict[str, Any]]) -> Verdict:
        n, k = int(params["max_iters"]), int(params["inits"])
        pre, labels, groups, evals = _evaluate_all(params, results)
        numbers: dict[str, Any] = {
            "dataset": labels[pre],
            "robustness datasets": ", ".join(v for key, v in labels.items() if key != pre)
            or "none",
            "inits": k,
            "learning rates": len(lr_grid(int(params["per_decade"]))),
            "max_iters": n,
            "target": float(params["target"]),
        }
        rows = []
        for key, label in labels.items():
            units = groups.get(key, {})
            numbers_of(numbers, label, units)
            ev = evals.get(key)
            if ev is None:
                missing = [f"l{p} {m}" for p in P_VALUES for m in METHODS if (p, m) not in units]
                detail = f"missing results: {', '.join(missing)}"
                rows.append(RobustnessRow(label, NOT_REPRODUCED, detail, key == pre))
                continue
            rows.append(
                RobustnessRow(
                    label,
                    ev.outcome,
                    "; ".join(short_text(e) for e in ev.effects),
                    key == pre,
                )
            )
            for e in ev.effects:
                numbers[f"{label}: effect {e.name.split(' ', 1)[0]}"] = e.describe()
        numbers["sum_unit_wall_s"] = sum(float(r.get("wall_s", 0.0)) for r in results)
        tail = f"robustness: {robustness_summary(rows)}"
        if pre not in evals:
            return Verdict(
                NOT_REPRODUCED,
                f"not reproduced: {rows[0].detail} on {labels[pre]}; {tail}",
                numbers,
                robustness=tuple(rows),
            )
        ev = evals[pre]

        def med(p: int, m: str) -> str:
            vals, cens = ev.counts[(p, m)]
            mid = median(vals)
            return count_text(mid, mid >= n and any(cens))

        summary = (
            f"{labels[pre]}, {k} inits (median iterations at the best rate, <= {n:,}): l4 "
            f"depth-2 {med(4, 'gd-depth2')}, depth-3 {med(4, 'gd-depth3')} vs GD "
            f"{med(4, 'gd-depth1')}, AdaGrad {med(4, 'adagrad')}, AdaDelta {med(4, 'adadelta')} "
            f"(Adam {med(4, 'adam')}); l2 GD {med(2, 'gd-depth1')}, depth-2 "
            f"{med(2, 'gd-depth2')}, depth-3 {med(2, 'gd-depth3')}; "
            + "; ".join(short_text(e) for e in ev.effects)
            + f": {ev.outcome}; {tail}"
        )
        verdict = Verdict.from_effects(ev.effects, summary, numbers, robustness=rows)
        # the same outcome as evaluate()'s; its decide_by adds which profile would decide it
        return dataclasses.replace(verdict, decide_by=ev.decide_by)

    def figure(  # pragma: no mutate block (drawing, not the verdict rule)
        self, params: Mapping[str, Any], results: list[dict[str, Any]], path: str
    ) -> None:
        from ._implicit_acceleration_report import draw

        pre, labels, groups, evals = _evaluate_all(params, results)
        draw(pre, groups, evals, labels, params, path)


def _evaluate_all(
    params: Mapping[str, Any], results: list[dict[str, Any]]
) -> tuple[
    str,
    dict[str, str],
    dict[str, dict[tuple[int, str], dict[str, Any]]],
    dict[str, Evaluation],
]:
    """Pre-registered key, display labels (pre-registered first), units and evaluations."""
    pre, others, _ = _keys(params)
    groups: dict[str, dict[tuple[int, str], dict[str, Any]]] = {}
    for r in results:
        groups.setdefault(str(r["dataset_key"]), {})[(int(r["p"]), str(r["method"]))] = r
    labels = _labels([pre, *others])
    evals = {}
    for key in labels:
        units = groups.get(key, {})
        if all((p, m) in units for p in P_VALUES for m in METHODS):
            evals[key] = evaluate(
                units, max_iters=int(params["max_iters"]), inits=int(params["inits"])
            )
    return pre, labels, groups, evals
