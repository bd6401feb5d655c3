"""The shared vocabulary of verdicts: intervals against scipy, the three-valued decision."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from dltheory.claims.evidence import (
    INCONCLUSIVE,
    NOT_REPRODUCED,
    REPRODUCED,
    Effect,
    RobustnessRow,
    Verdict,
    combine,
    draw_effects,
    draw_paired,
    mean_interval,
    median_interval,
    paired_difference,
    paired_ratio,
    robustness_summary,
    shortfall_rate,
)


def test_paired_ratio_is_the_t_interval_of_log_differences() -> None:
    a = np.array([400.0, 380, 450, 410, 395])
    b = np.array([350.0, 360, 390, 400, 330])
    e = paired_ratio(a, b, name="speed-up")
    ref = stats.ttest_rel(np.log(a), np.log(b)).confidence_interval(0.95)
    assert e.low == pytest.approx(math.exp(ref.low), rel=1e-12)
    assert e.high == pytest.approx(math.exp(ref.high), rel=1e-12)
    assert e.estimate == pytest.approx(math.exp(np.mean(np.log(a / b))), rel=1e-12)
    d = np.log(a / b)
    assert e.effect_size == pytest.approx(d.mean() / d.std(ddof=1), rel=1e-12)
    assert e.n == 5 and e.samples == pytest.approx(tuple(a / b))
    assert e.outcome == REPRODUCED  # every ratio > 1, interval above 1
    assert paired_ratio(b, a, name="slow-down").outcome == NOT_REPRODUCED


def test_three_regions_and_direction() -> None:
    def eff(lo: float, hi: float, direction: str = "greater") -> Effect:
        return Effect("x", (lo + hi) / 2, lo, hi, threshold=1.0, direction=direction)  # type: ignore[arg-type]

    assert eff(1.01, 2.0).outcome == REPRODUCED
    assert eff(0.5, 1.0).outcome == NOT_REPRODUCED  # at the threshold: the claim does not hold
    assert eff(0.9, 1.1).outcome == INCONCLUSIVE
    assert eff(0.5, 0.99, "less").outcome == REPRODUCED
    assert eff(1.0, 2.0, "less").outcome == NOT_REPRODUCED
    assert eff(0.9, 1.1, "less").outcome == INCONCLUSIVE
    with pytest.raises(ValueError, match="interval"):
        Effect("x", 1.0, 2.0, 1.0, threshold=1.0)
    with pytest.raises(ValueError, match="direction"):
        Effect("x", 1.0, 0.0, 2.0, threshold=1.0, direction="up")  # type: ignore[arg-type]


def test_inconclusive_says_what_would_decide_it() -> None:
    rng = np.random.default_rng(0)
    a = 1.05 * np.exp(rng.normal(0, 0.2, 4))
    b = np.ones(4)
    e = paired_ratio(a, b, name="speed-up")
    assert e.outcome == INCONCLUSIVE
    need = e.seeds_needed()
    assert need is not None and need > 4
    assert f"about {need} seeds" in e.decide_by()
    # an effect of the same mean and spread: decided with 2x that many seeds, not with a quarter
    z = np.log(a / b)

    def with_n(n: int) -> str:
        c = np.linspace(-1.0, 1.0, n)
        c = (c - c.mean()) / c.std(ddof=1)
        return paired_ratio(np.exp(z.mean() + z.std(ddof=1) * c), np.ones(n), name="s").outcome

    assert with_n(2 * need) == REPRODUCED
    assert with_n(max(2, need // 4)) == INCONCLUSIVE
    assert paired_ratio([2.0], [1.0], name="one").outcome == INCONCLUSIVE  # n = 1: no interval
    assert "at least 2 seeds" in paired_ratio([2.0], [1.0], name="one").decide_by()
    assert e.describe().startswith("speed-up x")


def test_zero_spread_and_bad_samples() -> None:
    e = paired_ratio([2.0, 4.0], [1.0, 2.0], name="r")  # identical ratios: a point interval
    assert e.low == e.high == pytest.approx(2.0) and e.outcome == REPRODUCED
    with pytest.raises(ValueError, match="non-finite"):
        paired_ratio([1.0, math.nan], [1.0, 1.0], name="r")
    with pytest.raises(ValueError, match="positive"):
        paired_ratio([1.0, 0.0], [1.0, 1.0], name="r")
    with pytest.raises(ValueError, match="equal length"):
        paired_ratio([1.0, 2.0], [1.0], name="r")


def test_difference_mean_and_median_intervals() -> None:
    a, b = [3.0, 4.0, 5.5, 4.5], [1.0, 2.5, 2.0, 3.0]
    e = paired_difference(a, b, name="gain")
    ref = stats.ttest_rel(a, b).confidence_interval(0.95)
    assert (e.low, e.high) == pytest.approx((ref.low, ref.high), rel=1e-12)
    m = mean_interval([0.1, -0.2, 0.05], name="m")
    assert m.low < 0 < m.high and m.outcome == INCONCLUSIVE
    x = np.linspace(0.8, 1.6, 21)
    med = median_interval(x, name="ratio", threshold=1.0)
    ci = stats.quantile_test(x, q=float(np.median(x))).confidence_interval(0.95)
    assert (med.low, med.high) == (ci.low, ci.high) and med.estimate == pytest.approx(1.2)
    assert median_interval([1.2, 1.3], name="few", threshold=1.0).outcome == INCONCLUSIVE


def test_combine_and_verdict() -> None:
    assert combine([REPRODUCED, REPRODUCED]) == REPRODUCED
    assert combine([REPRODUCED, INCONCLUSIVE]) == INCONCLUSIVE
    assert combine([INCONCLUSIVE, NOT_REPRODUCED]) == NOT_REPRODUCED
    assert combine([]) == NOT_REPRODUCED
    with pytest.raises(ValueError, match="outcome"):
        combine(["maybe"])
    with pytest.raises(ValueError, match="decide_by"):
        Verdict(INCONCLUSIVE, "s")
    with pytest.raises(ValueError, match="outcome"):
        Verdict("true", "s")  # no booleans in disguise
    good = paired_ratio([2.0, 2.2, 1.9], [1.0, 1.0, 1.0], name="a")
    unsure = paired_ratio([1.1, 0.95, 1.3], [1.0, 1.0, 1.0], name="b")
    v = Verdict.from_effects([good, unsure], "s", also={"exact part": True})
    assert v.outcome == INCONCLUSIVE and "b:" in v.decide_by and not v.reproduced
    assert v.numbers["condition: exact part"] is True
    v = Verdict.from_effects([good, unsure], "s", also={"exact part": False})
    assert v.outcome == NOT_REPRODUCED and v.decide_by == ""
    assert Verdict.from_effects([good], "s").reproduced
    assert Verdict.exact(False, "s").label == NOT_REPRODUCED


def test_robustness_rows() -> None:
    rows = [
        RobustnessRow("diabetes", REPRODUCED, preregistered=True),
        RobustnessRow("a", NOT_REPRODUCED),
        RobustnessRow("b", INCONCLUSIVE),
    ]
    assert robustness_summary(rows) == "holds on 1 of 3 data sets (1 inconclusive)"
    with pytest.raises(ValueError):
        RobustnessRow("x", "yes")


def test_effect_json_has_no_infinities() -> None:
    import json

    e = paired_ratio([2.0], [1.0], name="one")
    doc = e.to_json()
    json.dumps(doc, allow_nan=False)
    assert doc["high"] is None and doc["outcome"] == INCONCLUSIVE


def test_shortfall_rate() -> None:
    rows = [
        {"first": 4, "target": 4, "singular_factors": [0], "found": True},
        {"first": 2, "target": 4, "singular_factors": [1, 0], "found": True},
        {"first": 3, "target": 4, "singular_factors": [0, 0], "found": True},
    ]
    out = shortfall_rate(rows)
    assert (out["short"], out["short_with_singular_factor"], out["short_unexplained"]) == (2, 1, 1)
    ci = stats.binomtest(2, 3).proportion_ci(0.95)
    assert out["short_rate_ci95"] == pytest.approx([ci.low, ci.high])


def test_figure_elements_draw(tmp_path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, bx) = plt.subplots(1, 2)
    draw_paired(ax, [400, 380, 450], [350, 360, 390], ("original", "overparam"), ylabel="it.")
    effects = [
        paired_ratio([400, 380, 450], [350, 360, 390], name="speed-up"),
        paired_ratio([2.0], [1.0], name="one seed"),  # unbounded interval
        mean_interval([0.1, 0.3, 0.2], name="gain"),
    ]
    draw_effects(bx, effects[:2])
    assert len(ax.lines) >= 6 and bx.get_xscale() == "log"
    fig.savefig(tmp_path / "f.png")
    plt.close(fig)
    fig, ax = plt.subplots()
    draw_effects(ax, effects[2:])
    assert ax.get_xscale() == "linear"
    plt.close(fig)


def test_censored_samples_are_never_decisive() -> None:
    a, b = [400.0, 420.0, 440.0], [200.0, 210.0, 225.0]  # the third run hit its budget
    e = paired_ratio(a, b, name="speed-up", censored=[False, False, True], replicates="inits")
    assert e.interval_outcome == REPRODUCED and e.outcome == INCONCLUSIVE
    assert "1 of 3 inits censored" in e.decide_by() and "larger budget" in e.decide_by()
    assert e.to_json()["censored"] == 1 and "1 censored" in e.describe()
    v = Verdict.from_effects([e], "s")
    assert v.outcome == INCONCLUSIVE and "larger budget" in v.decide_by
    fails = paired_ratio(b, a, name="slow", censored=[False, False, True])
    assert fails.interval_outcome == NOT_REPRODUCED and fails.outcome == INCONCLUSIVE
    with pytest.raises(ValueError, match="censored has 2 flags for 3"):
        paired_ratio(a, b, name="x", censored=[True, False])
    assert paired_ratio([2.0], [1.0], name="one", replicates="inits").decide_by().startswith(
        "one: at least 2 inits"
    )
