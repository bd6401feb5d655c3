"""Claim ``mixed-dilated``: interconnected dilated networks (Cohen, Tamari & Shashua, ICLR'18).

Cohen, Tamari & Shashua, "Boosting Dilated Convolutional Networks with Mixed
Tensor Decompositions", ICLR 2018 (arXiv:1703.06846).  The abstract: "we
show that even a single connection between intermediate layers can already
lead to an almost quadratic gap, which in large-scale settings typically
makes the difference between a model that is practical and one that is
not".  The theorem's exact constants are not restated here (the paper's text
is not available offline); the measured statement is the mechanism of
:mod:`dltheory.mixed.tensor`: a single tree needs width ``r' >= r^2`` for the
rank the mixed decomposition reaches at width ``r``.

Protocol v1 (fixed by the lead before any run)
----------------------------------------------
Trees ``T = ModeTree.dilated(N, (1, 2, 4, ..., N/2))`` (WaveNet) and
``T̄ = ModeTree.dilated(N, (2, 1, 4, ..., N/2))``; the witness partition
``I_w`` of :mod:`dltheory.mixed.tensor` (from each block ``B_k =
{4k..4k+3}``: ``{4k, 4k+1}`` for even ``k``, ``{4k, 4k+2}`` for odd ``k``).

(a) Exact ranks, ``N`` in ``exact_ns`` (8, 16), ``M = 2``, integer weights,
ranks over a prime field (certified).  Per ``N``: (1) single trees ``T`` and
``T̄`` of uniform width ``r' = 1 .. M^2 + 1``: every draw's rank is <= its
min cut and <= ``min(r0, r1, M^2)^(N/8) * min(r0, M)^(N/4)``, and the
smallest ``r'`` at which a witness draw (the scheduled draw and up to 3
retries) reaches ``M^(N/2)`` is >= ``M^2`` ("a single tree needs width >=
r^2" for ``r = M``); (2) mixed, mixture nodes the blocks ``B_k`` (the shared
nodes of the lowest shared level), width ``r = M`` in both trees: a witness
draw reaches ``M^(N/2)``; (3) side by side (no mixture nodes, ``r = M``):
every draw's rank < ``M^(N/2)``.  At the paper's scale (min cuts only) for
``N`` in {64, 256} and ``r`` in {8, 32, 128}, with ``M = r``: the min cut of
``I_w`` for a single tree of width ``r`` against the full rank ``M^(N/2)``
(what the mixed network reaches at ``r = M`` at ``N = 8, 16``; at this scale
its rank is not certified), and the width ``r'`` a single tree needs for its
min cut to reach it, reported as ``r' / r^2`` (not decided).

(b) Training on MNIST-1D (the paper's TIMIT is not available offline; its
accuracies are not quoted): ``load_mnist1d(seed=data_seed,
num_samples=num_samples)``, test fraction 0.2, each signal zero-padded to
64 positions (12 zeros before, 12 after), one scalar per position mapped by
a learned affine representation to ``M = 8`` features, 10 classes.  ReLU
nets with max pooling: ``mixed-k`` = ``MixedDilatedNet(64, 1, width, 10,
interconnections=k, pooling="max", representation="affine",
num_features=8)`` for ``k = 0 .. K`` (``K = 4`` shared levels: blocks of 4,
8, 16, 32), ``single-a`` / ``single-b`` = ``ConvAC`` over ``T`` / ``T̄``
alone (shared, ReLU, max pooling, the same representation).  Equal width
``width`` for every net; at equal parameters (robustness) each ``mixed-k``
at the largest width whose parameter count is <= that of ``mixed-0`` at
``width``.  Training: ``train_net(net, "relu-max", ...)`` (Adam lr 0.001,
weight decay 1e-4 on all but biases, batches of 64, lr x 0.1 after 80 %);
all nets of a seed see the same minibatch order.  Effects, paired over seeds
(``paired_difference``, 95 % t interval, hold iff > 0): E1 ``acc(mixed-K) -
max(acc(single-a), acc(single-b))``; E2 ``acc(mixed-K) - acc(mixed-0)``.
Robustness rows: E1 and E2 at equal parameter count; the Spearman trend of
the mean accuracy in ``k`` is reported, not decided.

Verdict: ``reproduced`` iff all exact conditions and both effects hold;
``not reproduced`` if a condition fails or an interval lies at or below 0;
``inconclusive`` otherwise (``--set seeds=2x`` would decide it).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping
from typing import Any

import torch

from ..data.mnist_1d import MAX_MNIST1D_SAMPLES
from ..nets.convac import MAX_PARAMETERS
from ._mixed_parts import (
    LENGTH,
    build_net,
    cuts_unit,
    equal_param_width,
    exact_unit,
    expected_count,
    mixed_count,
    net_names,
    padded_mnist1d,
    project_training,
    shared_levels,
    single_bound,
)
from ._pooling_training import TrainSettings, train_unit
from ._util import derive_seed
from .base import Claim, Param, Unit, register
from .evidence import (
    INCONCLUSIVE,
    NOT_REPRODUCED,
    Effect,
    RobustnessRow,
    Verdict,
    paired_difference,
    shortfall_rate,
)

__all__ = ["K", "MixedDilated", "THEOREM", "needed_widths"]

#: Shared levels of T and T̄ at N = 64 (blocks of 4, 8, 16, 32): the most interconnections.
K = shared_levels(LENGTH)
STEP_FRACTION = 0.8
FAMILY = "relu-max"
THEOREM = (
    "abstract (arXiv:1703.06846): 'we show that even a single connection between intermediate "
    "layers can already lead to an almost quadratic gap'; measured here: a single tree needs "
    "width r' >= r^2 for the rank the mixed decomposition reaches at r = M. The theorem's exact "
    "constants are not restated (the paper's text is not available offline)."
)
SIZINGS = ("width", "params")


def needed_widths(ex: Mapping[str, Any]) -> dict[str, int | None]:
    """Per single tree, the smallest width whose witness reached ``M^(N/2)`` (None: none)."""
    out: dict[str, int | None] = {}
    for label in ("T", "Tbar"):
        reach = [
            int(row["width"])
            for row in ex["single"]
            if row["tree"] == label and row["witness"]["best"] >= ex["full_rank"]
        ]
        out[label] = min(reach) if reach else None
    return out


def _spearman(x: list[float], y: list[float]) -> float | None:
    from scipy import stats

    if len(x) < 3 or len(set(x)) < 2 or len(set(y)) < 2:
        return None
    return float(stats.spearmanr(x, y).statistic)


@register
class MixedDilated(Claim):
    """Mixed dilated decompositions: quadratic width gap (exact) and accuracy (MNIST-1D)."""

    id = "mixed-dilated"
    title = "Interconnecting dilated networks: a quadratic width gap and better accuracy"
    source = (
        "Cohen, Tamari & Shashua, 'Boosting Dilated Convolutional Networks with Mixed Tensor "
        "Decompositions', ICLR 2018 (arXiv:1703.06846)"
    )
    statement = (
        "The mixed decomposition of the dilated trees T (1, 2, 4, ...) and T̄ (2, 1, 4, ...), "
        "mixed at the blocks of 4, reaches at width r = M the full rank M^(N/2) of the witness "
        "partition, which each tree alone reaches only at width >= r^2, and the two side by side "
        "do not reach (certified ranks, N = 8, 16). Mixed dilated ReLU / max-pool nets with all "
        "interconnections classify MNIST-1D better than either net alone and than the unmixed "
        "pair at equal width."
    )
    data_note = (
        "The paper's TIMIT is not available offline (the paper's TIMIT accuracies are not "
        "available offline and none are quoted); MNIST-1D (Greydanus 2020, generated locally, "
        "40 positions zero-padded to 64) stands in."
    )
    rule = (
        "(a) exact, per N: every integer draw's rank (mod p) <= its min cut and <= min(r0, r1, "
        "M^2)^(N/8) min(r0, M)^(N/4); the smallest single-tree width whose witness reaches "
        "M^(N/2) is >= M^2; the mixed decomposition (blocks mixed, r = M) reaches M^(N/2) on a "
        "witness; side by side every draw stays below it. (b) paired over seeds, 95 % t "
        "interval, each holds iff > 0: E1 acc(mixed-K) - max(acc(single-a), acc(single-b)); E2 "
        "acc(mixed-K) - acc(mixed-0), all at equal width. Reproduced iff (a) and both effects "
        "hold; not reproduced if a condition fails or an interval lies at or below 0; "
        "inconclusive otherwise. E1 and E2 at equal parameter count are robustness rows."
    )
    version = 1
    params = (
        Param(
            "seeds", "int", 2, 6, "seeds (all nets of a seed share batches)", minimum=2, maximum=100
        ),
        Param(
            "width", "int", 16, 32, "channels of every level of every net", minimum=1, maximum=4096
        ),
        Param(
            "iterations",
            "int",
            600,
            6000,
            "Adam steps per run (lr x 0.1 after 80 %)",
            minimum=10,
            maximum=200_000,
        ),
        Param(
            "num_samples",
            "int",
            2000,
            5000,
            "MNIST-1D examples (a multiple of 10; 20 % test)",
            minimum=100,
            maximum=MAX_MNIST1D_SAMPLES,
        ),
        Param(
            "exact_ns",
            "ints",
            (8, 16),
            (8, 16),
            "positions N of the certified ranks (powers of 2 in [8, 16])",
            minimum=8,
            maximum=16,
        ),
        Param("data_seed", "int", 0, 0, "seed of the MNIST-1D generator", minimum=0, maximum=2**31),
    )

    def check(  # pragma: no mutate block (input checks, not the verdict rule)
        self, params: Mapping[str, Any]
    ) -> None:
        ns = [int(n) for n in params["exact_ns"]]
        bad = [n for n in ns if n & (n - 1)]
        if bad or len(set(ns)) != len(ns):
            raise ValueError(
                f"--set exact_ns: expected distinct powers of 2 in [8, 16] (8 and/or 16), got "
                f"{ns}; the dilated trees pool 2**levels positions"
            )
        if int(params["num_samples"]) % 10:
            raise ValueError(
                f"--set num_samples: expected a multiple of 10 (MNIST-1D draws num_samples // 10 "
                f"per class), got {params['num_samples']}"
            )
        count = mixed_count(K, int(params["width"]))
        if count > MAX_PARAMETERS:
            raise ValueError(
                f"--set width: mixed-{K} at width {params['width']} has {count} parameters, above "
                f"the {MAX_PARAMETERS} a network may hold; use a smaller width"
            )

    def units(  # pragma: no mutate block (planning, not the verdict rule)
        self, params: Mapping[str, Any], seed: int
    ) -> list[Unit]:
        out = [
            Unit({"part": "exact", "N": int(n)}, derive_seed(seed, "exact", int(n)))
            for n in params["exact_ns"]
        ]
        out.append(
            Unit({"part": "cuts", "ns": [64, 256], "rs": [8, 32, 128]}, derive_seed(seed, "cuts"))
        )
        width, its = int(params["width"]), int(params["iterations"])
        common = {
            "iterations": its,
            "step_at": max(1, round(STEP_FRACTION * its)),
            "num_samples": int(params["num_samples"]),
            "data_seed": int(params["data_seed"]),
            "nominal_width": width,
        }
        nets = [(name, "width", width) for name in net_names(K)]
        nets += [(f"mixed-{k}", "params", equal_param_width(k, width)) for k in range(1, K + 1)]
        for s in range(int(params["seeds"])):
            for name, sizing, w in nets:  # one unit seed per seed index: shared batches
                config = {"part": "train", "net": name, "sizing": sizing, "width": w}
                out.append(
                    Unit({**config, "seed_index": s, **common}, derive_seed(seed, "train", s))
                )
        return out

    def run_unit(  # pragma: no mutate block (measurement, not the verdict rule)
        self, config: Mapping[str, Any], seed: int
    ) -> dict[str, Any]:
        part = str(config["part"])
        if part == "exact":
            return exact_unit(config, seed)
        if part == "cuts":
            return cuts_unit(config)
        torch.set_num_threads(1)
        t0 = time.perf_counter()
        name, width = str(config["net"]), int(config["width"])
        data = padded_mnist1d(int(config["data_seed"]), int(config["num_samples"]))
        net = build_net(name, width, derive_seed(seed, "init"))
        settings = TrainSettings(int(config["iterations"]), int(config["step_at"]))
        out = train_unit(
            net, FAMILY, data, settings, derive_seed(seed, "batches"), f"{name} at width {width}"
        )
        expected = expected_count(name, width)
        if out["num_params"] != expected:  # pragma: no cover - a counting bug
            raise ValueError(f"{name}: parameter count {out['num_params']} != {expected}")
        return {
            "part": "train",
            "net": name,
            "sizing": str(config["sizing"]),
            "width": width,
            "seed_index": int(config["seed_index"]),
            **out,
            "wall_s": time.perf_counter() - t0,
        }

    # ---------------------------------------------------------------- verdict
    @staticmethod
    def exact_conditions(results: list[dict[str, Any]], ns: Any) -> dict[str, bool]:
        """The exact conditions of every ``N`` in ``ns`` that has a unit, by name."""
        conds: dict[str, bool] = {}
        for n in [int(v) for v in ns]:
            ex = next((r for r in results if r["part"] == "exact" and r["N"] == n), None)
            if ex is None:
                continue
            full, m = int(ex["full_rank"]), int(ex["M"])
            mixed, side = ex["mixed"], ex["side_by_side"]
            bounded = all(
                k <= row["min_cut"] and k <= single_bound(n, int(row["width"]), m)
                for row in ex["single"]
                for k in row["witness"]["ranks"]
            )
            bounded = bounded and all(k <= mixed["min_cut"] for k in mixed["witness"]["ranks"])
            bounded = bounded and all(k <= side["min_cut"] for k in side["ranks"])
            complete = all(
                sorted(int(r["width"]) for r in ex["single"] if r["tree"] == t)
                == list(range(1, m * m + 2))
                for t in ("T", "Tbar")
            )
            needs = needed_widths(ex).values()
            conds[f"N={n}: every rank <= its min cut and the single-tree bound"] = bounded
            conds[f"N={n}: a single tree needs width >= M^2 for the full rank M^(N/2)"] = (
                complete and all(w is None or w >= m * m for w in needs)
            )
            conds[f"N={n}: mixed (r = M) reaches M^(N/2) on a witness"] = (
                mixed["witness"]["best"] >= full
            )
            conds[f"N={n}: side by side (r = M) stays below M^(N/2) on every draw"] = bool(
                side["ranks"]
            ) and all(k < full for k in side["ranks"])
        return conds

    @staticmethod
    def _accuracies(results: list[dict[str, Any]]) -> dict[tuple[str, str], dict[int, float]]:
        """``(net, sizing) -> {seed index: test accuracy}``."""
        acc: dict[tuple[str, str], dict[int, float]] = {}
        for r in results:
            if r["part"] == "train":
                key = (str(r["net"]), str(r["sizing"]))
                acc.setdefault(key, {})[int(r["seed_index"])] = float(r["test_accuracy"])
        return acc

    def effects(self, results: list[dict[str, Any]], sizing: str = "width") -> list[Effect | None]:
        """E1 and E2 with ``mixed-K`` at equal width or at equal parameters (None: no pairs)."""
        acc = self._accuracies(results)
        top = acc.get((f"mixed-{K}", sizing), {})
        base = acc.get(("mixed-0", "width"), {})
        sa, sb = acc.get(("single-a", "width"), {}), acc.get(("single-b", "width"), {})
        tag = "" if sizing == "width" else " (equal parameters)"
        e1_keys = sorted(set(top) & set(sa) & set(sb))
        e2_keys = sorted(set(top) & set(base))
        e1 = (
            paired_difference(
                [top[s] for s in e1_keys],
                [max(sa[s], sb[s]) for s in e1_keys],
                name=f"E1: acc(mixed-{K}) - max(acc(single-a), acc(single-b)){tag}",
            )
            if e1_keys
            else None
        )
        e2 = (
            paired_difference(
                [top[s] for s in e2_keys],
                [base[s] for s in e2_keys],
                name=f"E2: acc(mixed-{K}) - acc(mixed-0){tag}",
            )
            if e2_keys
            else None
        )
        return [e1, e2]

    def verdict(self, params: Mapping[str, Any], results: list[dict[str, Any]]) -> Verdict:
        ns = [int(n) for n in params["exact_ns"]]
        conds = self.exact_conditions(results, ns)
        have = {int(r["N"]) for r in results if r["part"] == "exact"}
        missing = [f"exact N={n}" for n in ns if n not in have]
        e1, e2 = self.effects(results, "width")
        missing += [name for name, e in (("E1", e1), ("E2", e2)) if e is None]
        numbers = self._numbers(results)
        ok = all(conds.values())
        exact_text = f"exact ranks {'as predicted' if ok else 'NOT as predicted'}"
        if missing or e1 is None or e2 is None:
            numbers.update({f"condition: {k}": v for k, v in conds.items()})
            if not ok:
                return Verdict(NOT_REPRODUCED, f"{exact_text}; missing {missing}", numbers)
            return Verdict(
                INCONCLUSIVE,
                f"missing {', '.join(missing)} ({exact_text} where present)",
                numbers,
                decide_by="run the missing units (exact ranks, paired training runs)",
            )
        rows = [
            RobustnessRow(e.name, e.outcome, e.describe())
            for e in self.effects(results, "params")
            if e is not None
        ]
        summary = "; ".join(
            f"{e.name.split(':')[0]} {e.estimate * 100:+.1f} points "
            f"[{e.low * 100:+.1f}, {e.high * 100:+.1f}] over {e.n} seeds"
            for e in (e1, e2)
        )
        need = {f"N={r['N']}": needed_widths(r) for r in results if r["part"] == "exact"}
        summary += f"; {exact_text} (single-tree width needed for the full rank: {need})"
        return Verdict.from_effects(
            [e1, e2],
            summary,
            numbers,
            also=conds,
            robustness=rows,
            decide_by=f"--set seeds={2 * int(params['seeds'])}",
        )

    def _numbers(self, results: list[dict[str, Any]]) -> dict[str, Any]:
        acc = self._accuracies(results)
        means = {
            s: {n: statistics.mean(v.values()) for (n, z), v in acc.items() if z == s}
            for s in SIZINGS
        }
        trend = {}
        for s in SIZINGS:  # mixed-0 is its own equal-parameter net
            pts = [(k, means["width" if k == 0 else s].get(f"mixed-{k}")) for k in range(K + 1)]
            ks = [float(k) for k, v in pts if v is not None]
            trend[f"equal {s}"] = _spearman(ks, [float(v) for _, v in pts if v is not None])
        exact = {}
        for r in results:
            if r["part"] != "exact":
                continue
            rows = r["single"]
            exact[f"N={r['N']}"] = {
                "full_rank": r["full_rank"],
                "single_best_rank": {
                    t: {str(w["width"]): w["witness"]["best"] for w in rows if w["tree"] == t}
                    for t in ("T", "Tbar")
                },
                "single_min_cut": {
                    t: {str(w["width"]): w["min_cut"] for w in rows if w["tree"] == t}
                    for t in ("T", "Tbar")
                },
                "single_bound": {str(w["width"]): w["bound"] for w in rows if w["tree"] == "T"},
                "single_width_needed": needed_widths(r),
                "mixed_rank": r["mixed"]["witness"]["best"],
                "mixed_min_cut": r["mixed"]["min_cut"],
                "side_by_side_ranks": r["side_by_side"]["ranks"],
                "side_by_side_min_cut": r["side_by_side"]["min_cut"],
                # scheduled draws short of a reachable full rank (single trees from M^2 on)
                "short_draws": shortfall_rate(
                    [w["witness"] for w in rows if w["bound"] >= r["full_rank"]]
                    + [r["mixed"]["witness"]]
                ),
            }
        cuts = {
            f"N={c['N']} r=M={c['r']}": {
                "log2 full rank": c["log2_full_rank"],
                "log2 single min cut at r (T, Tbar)": [
                    c["single"][t]["log2_min_cut"] for t in ("T", "Tbar")
                ],
                "r' needed (T, Tbar)": [c["single"][t]["needed_width"] for t in ("T", "Tbar")],
                "r'/r^2 (T, Tbar)": [c["single"][t]["needed_over_r2"] for t in ("T", "Tbar")],
            }
            for r in results
            if r["part"] == "cuts"
            for c in r["rows"]
        }
        train = [r for r in results if r["part"] == "train"]
        return {
            "theorem": THEOREM,
            "paper_timit": "the paper's TIMIT accuracies are not available offline",
            "exact": exact,
            "paper_scale_min_cuts": cuts,
            "mean_test_accuracy": means,
            "params_per_net": {
                s: {r["net"]: r["num_params"] for r in train if r["sizing"] == s} for s in SIZINGS
            },
            "widths_at_equal_params": {
                r["net"]: r["width"] for r in train if r["sizing"] == "params"
            },
            "spearman_mean_accuracy_vs_k": trend,
            "training_seconds_total": sum(float(r["train_seconds"]) for r in train),
        }

    # ---------------------------------------------------------------- projection
    def projection(
        self, params: Mapping[str, Any], results: list[dict[str, Any]], workers: int
    ) -> list[str]:
        """Measured seconds per iteration per net family and width, and the projected training
        time of ``params`` on 1, 2 and ``workers`` workers (see :func:`project_training`)."""
        configs = [u.config for u in self.units(params, 0) if u.config["part"] == "train"]
        return project_training(configs, results, workers)

    # ---------------------------------------------------------------- figure
    def figure(  # pragma: no mutate block (drawing, not the verdict rule)
        self, params: Mapping[str, Any], results: list[dict[str, Any]], path: str
    ) -> None:
        from ._mixed_figure import draw_figure

        draw_figure(self, params, results, path)
