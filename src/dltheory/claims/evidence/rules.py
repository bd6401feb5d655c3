"""Statistical rules of the verdicts: outcomes, effects with intervals, robustness rows.

See :mod:`dltheory.claims.evidence` for the vocabulary as a whole.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

__all__ = [
    "CONFIDENCE",
    "INCONCLUSIVE",
    "NOT_REPRODUCED",
    "OUTCOMES",
    "REPRODUCED",
    "Effect",
    "RobustnessRow",
    "Verdict",
    "combine",
    "mean_interval",
    "median_interval",
    "paired_difference",
    "paired_ratio",
    "robustness_summary",
]

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
INCONCLUSIVE = "inconclusive"
#: The three outcomes of a verdict.
OUTCOMES = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE)
#: Confidence level of every interval unless a claim states another.
CONFIDENCE = 0.95

Direction = Literal["greater", "less"]
Scale = Literal["ratio", "difference"]


def _finite_samples(values: Iterable[float], name: str) -> np.ndarray[Any, Any]:
    arr = np.asarray([float(v) for v in values], dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a sequence of numbers")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: non-finite values {arr[~np.isfinite(arr)].tolist()}")
    return arr


@dataclass(frozen=True)
class Effect:
    """An effect measured over seeds (or draws), its interval, and the claim's threshold.

    Attributes
    ----------
    name : str
        What is measured, e.g. ``"speed-up (original / overparameterized iterations)"``.
    estimate, low, high : float
        The point estimate and the confidence interval ``[low, high]`` on the
        effect's own scale (a ratio for ``scale="ratio"``).
    threshold : float
        The effect *holds* iff it is above (``direction="greater"``) or below
        (``"less"``) this value; fixed in the claim's code.
    direction : {"greater", "less"}
    n : int
        Number of paired samples (seeds).
    confidence : float
    method : str
        How the interval was computed (named in the report).
    scale : {"ratio", "difference"}
        How it prints: ``x1.23`` or ``+0.012``.
    effect_size : float or None
        Standardized effect size (Cohen's ``d_z`` for paired samples).
    samples : tuple of float
        The per-seed values on the effect's scale (figures show them).
    spread : float or None
        Standard deviation of the per-seed values on the test's scale (log for
        ratios); used by :meth:`decide_by`.
    censored : int
        Samples with a value censored at a budget (e.g. a target not reached in
        ``max_iters``, counted as ``max_iters``).  A censored value only bounds
        the effect, so an effect with any censored sample is never decisive:
        its outcome is ``inconclusive`` and a larger budget decides it.
    replicates : str
        What the samples are, for the messages (``"seeds"``, ``"inits"``).
    """

    name: str
    estimate: float
    low: float
    high: float
    threshold: float
    direction: Direction = "greater"
    n: int = 0
    confidence: float = CONFIDENCE
    method: str = ""
    scale: Scale = "difference"
    effect_size: float | None = None
    samples: tuple[float, ...] = ()
    spread: float | None = None
    censored: int = 0
    replicates: str = "seeds"

    def __post_init__(self) -> None:
        if self.direction not in ("greater", "less"):
            raise ValueError(f"direction: expected 'greater' or 'less', got {self.direction!r}")
        if not (self.low <= self.high) or math.isnan(self.estimate):
            raise ValueError(
                f"effect {self.name!r}: interval [{self.low}, {self.high}] around "
                f"{self.estimate} is not an interval"
            )

    # -- the decision -------------------------------------------------------
    @property
    def interval_outcome(self) -> str:
        """What the interval alone says: ``reproduced`` if it lies in the holds region,
        ``not reproduced`` if it lies in the fails region, ``inconclusive`` if it meets both."""
        if self.direction == "greater":
            holds, fails = self.low > self.threshold, self.high <= self.threshold
        else:
            holds, fails = self.high < self.threshold, self.low >= self.threshold
        return REPRODUCED if holds else NOT_REPRODUCED if fails else INCONCLUSIVE

    @property
    def outcome(self) -> str:
        """The decision: :attr:`interval_outcome`, ``inconclusive`` if a sample is censored."""
        return INCONCLUSIVE if self.censored else self.interval_outcome

    def seeds_needed(self) -> int | None:
        """Seeds at which an interval of today's spread would exclude the threshold.

        ``None`` when it cannot be estimated (fewer than 2 seeds, or the
        estimate sits on the threshold: no number of seeds decides an effect
        of exactly that size).  Normal approximation of the t interval:
        ``n' = (z * sd / |estimate - threshold|)^2`` on the test's scale.
        """
        if self.spread is None or self.n < 2:
            return None
        centre = _to_test_scale(self.estimate, self.scale)
        gap = abs(centre - _to_test_scale(self.threshold, self.scale))
        if gap == 0 or not math.isfinite(gap):
            return None
        z = float(_norm_ppf(0.5 + self.confidence / 2))
        need = math.ceil((z * self.spread / gap) ** 2) + 1
        return max(need, self.n + 1)

    def decide_by(self) -> str:
        """One line saying what would decide an inconclusive effect ("" otherwise)."""
        if self.outcome != INCONCLUSIVE:
            return ""
        what = self.replicates
        if self.censored:
            return (
                f"{self.name}: {self.censored} of {self.n} {what} censored at the budget (a "
                "censored value only bounds the effect); a larger budget decides it"
            )
        need = self.seeds_needed()
        if need is None:
            if self.n < 2:
                return f"{self.name}: at least 2 {what} are needed for an interval (have {self.n})"
            return (
                f"{self.name}: the estimate sits on the threshold; no number of {what} decides "
                "an effect of exactly this size"
            )
        return (
            f"{self.name}: about {need} {what} (have {self.n}) would give an interval that "
            f"excludes {self._fmt(self.threshold)} if the effect is as large as estimated"
        )

    # -- text -----------------------------------------------------------------
    def _fmt(self, v: float) -> str:
        if not math.isfinite(v):
            return "inf" if v > 0 else "-inf"
        return f"x{v:.3g}" if self.scale == "ratio" else f"{v:+.3g}"

    def describe(self) -> str:
        """``name x1.23 (95% CI x1.05-x1.41, n=10, d_z=0.9; holds iff > x1)``."""
        size = "" if self.effect_size is None else f", d_z={self.effect_size:.2f}"
        cens = f", {self.censored} censored" if self.censored else ""
        side = ">" if self.direction == "greater" else "<"
        return (
            f"{self.name} {self._fmt(self.estimate)} ({self.confidence:.0%} CI "
            f"{self._fmt(self.low)} to {self._fmt(self.high)}, n={self.n}{size}{cens}; holds iff "
            f"{side} {self._fmt(self.threshold)}): {self.outcome}"
        )

    def to_json(self) -> dict[str, Any]:
        """A plain mapping for the claim summary (infinite bounds as ``None``)."""

        def num(v: float) -> float | None:
            return float(v) if math.isfinite(v) else None

        return {
            "name": self.name,
            "estimate": num(self.estimate),
            "low": num(self.low),
            "high": num(self.high),
            "threshold": self.threshold,
            "direction": self.direction,
            "n": self.n,
            "confidence": self.confidence,
            "method": self.method,
            "scale": self.scale,
            "effect_size": self.effect_size,
            "samples": [float(s) for s in self.samples],
            "outcome": self.outcome,
            "censored": self.censored,
            "replicates": self.replicates,
            "seeds_needed": self.seeds_needed(),
            "text": self.describe(),
        }


def _to_test_scale(v: float, scale: Scale) -> float:
    if scale == "ratio":
        return math.log(v) if v > 0 else -math.inf
    return v


def _norm_ppf(q: float) -> float:
    from scipy import stats

    return float(stats.norm.ppf(q))


def _t_interval(d: np.ndarray[Any, Any], confidence: float) -> tuple[float, float, float, float]:
    """Mean of ``d``, its t interval, and the sample standard deviation (scipy.stats)."""
    from scipy import stats

    mean = float(d.mean())
    n = d.size
    if n < 2:
        return mean, -math.inf, math.inf, math.nan
    sd = float(d.std(ddof=1))
    if sd == 0.0:
        return mean, mean, mean, 0.0
    ci = stats.ttest_1samp(d, 0.0).confidence_interval(confidence)
    return mean, float(ci.low), float(ci.high), sd


def paired_ratio(
    a: Sequence[float],
    b: Sequence[float],
    *,
    name: str,
    threshold: float = 1.0,
    direction: Direction = "greater",
    confidence: float = CONFIDENCE,
    censored: Sequence[bool] | None = None,
    replicates: str = "seeds",
) -> Effect:
    """The geometric-mean ratio ``a / b`` over paired seeds, with a t interval on the log scale.

    ``log(a_i) - log(b_i)`` are the paired differences (Student t, as
    ``scipy.stats.ttest_rel(log a, log b)``); the interval is exponentiated
    back.  Values must be positive and finite: set an unreached count to its
    budget and flag the pair in ``censored`` (the effect is then never
    decisive, see :attr:`Effect.censored`).
    """
    x = _finite_samples(a, f"{name} (first)")
    y = _finite_samples(b, f"{name} (second)")
    if x.shape != y.shape or x.size == 0:
        raise ValueError(f"{name}: expected two non-empty paired samples of equal length")
    if np.any(x <= 0) or np.any(y <= 0):
        raise ValueError(f"{name}: a ratio needs positive values")
    d = np.log(x) - np.log(y)
    mean, lo, hi, sd = _t_interval(d, confidence)
    return Effect(
        name=name,
        estimate=math.exp(mean),
        low=math.exp(lo) if math.isfinite(lo) else 0.0,
        high=math.exp(hi) if math.isfinite(hi) else math.inf,
        threshold=threshold,
        direction=direction,
        n=int(d.size),
        confidence=confidence,
        method="paired t interval of log ratios (scipy.stats.ttest_rel on logs)",
        scale="ratio",
        effect_size=(mean / sd) if sd and math.isfinite(sd) else None,
        samples=tuple(float(v) for v in np.exp(d)),
        spread=sd if math.isfinite(sd) else None,
        censored=_count_censored(censored, int(d.size), name),
        replicates=replicates,
    )


def _count_censored(flags: Sequence[bool] | None, n: int, name: str) -> int:
    if flags is None:
        return 0
    marks = [bool(f) for f in flags]
    if len(marks) != n:
        raise ValueError(f"{name}: censored has {len(marks)} flags for {n} samples")
    return sum(marks)


def paired_difference(
    a: Sequence[float],
    b: Sequence[float],
    *,
    name: str,
    threshold: float = 0.0,
    direction: Direction = "greater",
    confidence: float = CONFIDENCE,
    censored: Sequence[bool] | None = None,
    replicates: str = "seeds",
) -> Effect:
    """The mean paired difference ``a - b`` over seeds with a t interval (``ttest_rel``)."""
    x = _finite_samples(a, f"{name} (first)")
    y = _finite_samples(b, f"{name} (second)")
    if x.shape != y.shape or x.size == 0:
        raise ValueError(f"{name}: expected two non-empty paired samples of equal length")
    return mean_interval(
        x - y,
        name=name,
        threshold=threshold,
        direction=direction,
        confidence=confidence,
        method="paired t interval of differences (scipy.stats.ttest_rel)",
        censored=censored,
        replicates=replicates,
    )


def mean_interval(
    values: Sequence[float],
    *,
    name: str,
    threshold: float = 0.0,
    direction: Direction = "greater",
    confidence: float = CONFIDENCE,
    method: str = "t interval of the mean (scipy.stats.ttest_1samp)",
    censored: Sequence[bool] | None = None,
    replicates: str = "seeds",
) -> Effect:
    """The mean of per-seed values with a one-sample t interval."""
    d = _finite_samples(values, name)
    if d.size == 0:
        raise ValueError(f"{name}: no values")
    mean, lo, hi, sd = _t_interval(d, confidence)
    return Effect(
        name=name,
        estimate=mean,
        low=lo,
        high=hi,
        threshold=threshold,
        direction=direction,
        n=int(d.size),
        confidence=confidence,
        method=method,
        scale="difference",
        effect_size=(mean / sd) if sd and math.isfinite(sd) else None,
        samples=tuple(float(v) for v in d),
        spread=sd if math.isfinite(sd) else None,
        censored=_count_censored(censored, int(d.size), name),
        replicates=replicates,
    )


def median_interval(
    values: Sequence[float],
    *,
    name: str,
    threshold: float,
    direction: Direction = "greater",
    confidence: float = CONFIDENCE,
    scale: Scale = "ratio",
    replicates: str = "samples",
) -> Effect:
    """The median with its distribution-free order-statistic interval (``quantile_test``).

    For noisy measurements without a natural pairing of seeds, e.g. per-block
    timing ratios.  With fewer than about 6 values no 95 % interval exists:
    the bounds are then infinite and the effect cannot be decided.
    """
    from scipy import stats

    d = _finite_samples(values, name)
    if d.size == 0:
        raise ValueError(f"{name}: no values")
    med = float(np.median(d))
    ci = stats.quantile_test(d, q=med, p=0.5).confidence_interval(confidence)
    lo = float(ci.low) if np.isfinite(ci.low) else -math.inf
    hi = float(ci.high) if np.isfinite(ci.high) else math.inf
    if scale == "ratio":
        lo = max(lo, 0.0)
    logs = np.log(d) if scale == "ratio" and np.all(d > 0) else d
    sd = float(np.std(logs, ddof=1)) if d.size > 1 else None
    return Effect(
        name=name,
        estimate=med,
        low=lo,
        high=hi,
        threshold=threshold,
        direction=direction,
        n=int(d.size),
        confidence=confidence,
        method="median, order-statistic interval (scipy.stats.quantile_test)",
        scale=scale,
        samples=tuple(float(v) for v in d),
        spread=sd,
        replicates=replicates,
    )


def combine(outcomes: Iterable[str]) -> str:
    """All must hold: ``not reproduced`` if any fails, else ``inconclusive`` if any is, else
    ``reproduced``.  An empty list is ``not reproduced`` (nothing was shown)."""
    seen = list(outcomes)
    for o in seen:
        if o not in OUTCOMES:
            raise ValueError(f"outcome: expected one of {OUTCOMES}, got {o!r}")
    if not seen or NOT_REPRODUCED in seen:
        return NOT_REPRODUCED
    return INCONCLUSIVE if INCONCLUSIVE in seen else REPRODUCED


@dataclass(frozen=True)
class RobustnessRow:
    """The claim's rule applied to one more setting (a data set), outside the verdict."""

    setting: str
    outcome: str
    detail: str = ""
    preregistered: bool = False

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome: expected one of {OUTCOMES}, got {self.outcome!r}")

    def to_json(self) -> dict[str, Any]:
        return {
            "setting": self.setting,
            "outcome": self.outcome,
            "detail": self.detail,
            "preregistered": self.preregistered,
        }


def robustness_summary(rows: Sequence[RobustnessRow]) -> str:
    """``holds on k of m settings (i inconclusive)``."""
    k = sum(r.outcome == REPRODUCED for r in rows)
    i = sum(r.outcome == INCONCLUSIVE for r in rows)
    text = f"holds on {k} of {len(rows)} data sets"
    return text + (f" ({i} inconclusive)" if i else "")


@dataclass(frozen=True)
class Verdict:
    """A claim's outcome, with the numbers, effects and robustness rows behind it.

    Use :meth:`exact` for two-valued claims and :meth:`from_effects` for
    statistical ones.  ``inconclusive`` requires ``decide_by``: the line
    saying what would decide it.
    """

    outcome: str
    summary: str
    numbers: Mapping[str, Any] = field(default_factory=dict)
    effects: tuple[Effect, ...] = ()
    decide_by: str = ""
    robustness: tuple[RobustnessRow, ...] = ()

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome: expected one of {OUTCOMES}, got {self.outcome!r}")
        if self.outcome == INCONCLUSIVE and not self.decide_by:
            raise ValueError("Verdict: 'inconclusive' needs decide_by (what would decide it)")

    @property
    def reproduced(self) -> bool:
        return self.outcome == REPRODUCED

    @property
    def label(self) -> str:
        return self.outcome

    @classmethod
    def exact(cls, ok: bool, summary: str, numbers: Mapping[str, Any] | None = None) -> Verdict:
        """A two-valued verdict of an exact claim."""
        return cls(REPRODUCED if ok else NOT_REPRODUCED, summary, dict(numbers or {}))

    @classmethod
    def from_effects(
        cls,
        effects: Sequence[Effect],
        summary: str,
        numbers: Mapping[str, Any] | None = None,
        *,
        also: Mapping[str, bool] | None = None,
        robustness: Sequence[RobustnessRow] = (),
        decide_by: str = "",
    ) -> Verdict:
        """The combined decision of ``effects`` (and of exact conditions ``also``, by name).

        ``decide_by`` defaults to the inconclusive effects' own lines; a
        claim can add the profile that would decide it.
        """
        exact = dict(also or {})
        outcome = combine(
            [e.outcome for e in effects]
            + [REPRODUCED if ok else NOT_REPRODUCED for ok in exact.values()]
        )
        lines = "; ".join(d for d in (e.decide_by() for e in effects) if d)
        if decide_by:
            lines = f"{lines}; {decide_by}" if lines else decide_by
        if outcome == INCONCLUSIVE and not lines:  # pragma: no cover - an effect is inconclusive
            lines = "more seeds"
        nums = dict(numbers or {})
        for name, ok in exact.items():
            nums.setdefault(f"condition: {name}", ok)
        return cls(
            outcome,
            summary,
            nums,
            tuple(effects),
            lines if outcome == INCONCLUSIVE else "",
            tuple(robustness),
        )
