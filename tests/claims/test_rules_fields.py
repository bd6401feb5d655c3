"""Every field of the shared effects against scipy computed here (claims.evidence.rules).

The verdict rules decide claims; a wrong method name, default, bound or count
would be printed in every report, so each is pinned against an independent
computation with scipy.stats.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy import stats

from dltheory.claims.evidence import rules as r

A = [2.0, 3.0, 5.0, 4.0, 6.0]
B = [1.0, 2.0, 2.0, 3.0, 2.5]


def test_paired_ratio_fields() -> None:
    e = r.paired_ratio(A, B, name="speed", censored=[False, True, False, False, False])
    d = np.log(A) - np.log(B)
    ci = stats.ttest_rel(np.log(A), np.log(B)).confidence_interval(0.95)
    assert e.name == "speed" and e.scale == "ratio" and e.n == 5 and e.censored == 1
    assert e.estimate == pytest.approx(math.exp(d.mean()), rel=1e-12)
    assert e.low == pytest.approx(math.exp(ci.low), rel=1e-12)
    assert e.high == pytest.approx(math.exp(ci.high), rel=1e-12)
    assert e.threshold == 1.0 and e.direction == "greater" and e.confidence == 0.95
    assert e.method == "paired t interval of log ratios (scipy.stats.ttest_rel on logs)"
    assert e.effect_size == pytest.approx(d.mean() / d.std(ddof=1), rel=1e-12)
    assert e.spread == pytest.approx(d.std(ddof=1), rel=1e-12)
    np.testing.assert_allclose(e.samples, np.array(A) / np.array(B), rtol=1e-12)
    assert e.replicates == "seeds" and e.outcome == r.INCONCLUSIVE  # censored: never decisive
    one = r.paired_ratio([2.0], [1.0], name="one", threshold=1.5, direction="less")
    assert (one.low, one.high, one.spread, one.effect_size) == (0.0, math.inf, None, None)
    assert one.threshold == 1.5 and one.direction == "less" and one.estimate == 2.0
    same = r.paired_ratio([2.0, 4.0], [1.0, 2.0], name="same", replicates="inits")
    assert same.low == same.high == pytest.approx(2.0) and same.spread == 0.0
    assert same.effect_size is None and same.replicates == "inits"


@pytest.mark.parametrize("fn", [r.paired_ratio, r.paired_difference])
def test_paired_effects_refuse_bad_samples_naming_them(fn: Any) -> None:
    with pytest.raises(ValueError, match=r"^gap \(first\): non-finite values \[nan\]$"):
        fn([1.0, math.nan], [1.0, 1.0], name="gap")
    with pytest.raises(ValueError, match=r"^gap \(second\): non-finite values \[inf\]$"):
        fn([1.0, 1.0], [1.0, math.inf], name="gap")
    for a, b in (([1.0, 2.0], [1.0]), ([], [])):
        with pytest.raises(ValueError) as info:
            fn(a, b, name="gap")
        assert str(info.value) == "gap: expected two non-empty paired samples of equal length"
    with pytest.raises(ValueError, match=r"^gap: censored has 1 flags for 2 samples$"):
        fn([1.0, 2.0], [1.0, 1.0], name="gap", censored=[True])


def test_ratio_needs_positive_values_on_both_sides() -> None:
    for a, b in (([1.0, 0.0], [1.0, 1.0]), ([1.0, 1.0], [1.0, 0.0]), ([1.0, 1.0], [-1.0, 1.0])):
        with pytest.raises(ValueError, match=r"^q: a ratio needs positive values$"):
            r.paired_ratio(a, b, name="q")


def test_paired_difference_fields_and_defaults() -> None:
    e = r.paired_difference(A, B, name="gain")
    d = np.array(A) - np.array(B)
    ci = stats.ttest_rel(A, B).confidence_interval(0.95)
    assert e.estimate == pytest.approx(d.mean()) and e.scale == "difference"
    assert (e.low, e.high) == (pytest.approx(ci.low), pytest.approx(ci.high))
    assert e.threshold == 0.0 and e.direction == "greater" and e.n == 5 and e.censored == 0
    assert e.method == "paired t interval of differences (scipy.stats.ttest_rel)"
    assert e.replicates == "seeds" and e.confidence == 0.95
    np.testing.assert_allclose(e.samples, d)
    f = r.paired_difference(
        A,
        B,
        name="g",
        threshold=0.5,
        direction="less",
        confidence=0.9,
        replicates="draws",
        censored=[True, False, False, False, False],
    )
    assert (f.threshold, f.direction, f.confidence, f.replicates, f.censored) == (
        0.5,
        "less",
        0.9,
        "draws",
        1,
    )
    ci90 = stats.ttest_rel(A, B).confidence_interval(0.9)
    assert (f.low, f.high) == (pytest.approx(ci90.low), pytest.approx(ci90.high))
    single = r.paired_difference([1.0], [0.0], name="s")
    assert single.n == 1 and single.low == -math.inf and single.high == math.inf


def test_mean_interval_fields() -> None:
    e = r.mean_interval(A, name="m")
    ci = stats.ttest_1samp(A, 0.0).confidence_interval(0.95)
    assert e.method == "t interval of the mean (scipy.stats.ttest_1samp)"
    assert (e.estimate, e.low, e.high) == (
        pytest.approx(4.0),
        pytest.approx(ci.low),
        pytest.approx(ci.high),
    )
    assert e.effect_size == pytest.approx(4.0 / np.std(A, ddof=1))
    with pytest.raises(ValueError, match=r"^m: no values$"):
        r.mean_interval([], name="m")


def test_median_interval_fields() -> None:
    values = [1.1, 0.9, 1.3, 1.2, 1.0, 1.4, 1.25, 1.05]
    e = r.median_interval(values, name="t", threshold=1.0)
    ci = stats.quantile_test(values, q=float(np.median(values)), p=0.5).confidence_interval(0.95)
    assert e.estimate == pytest.approx(np.median(values)) and e.scale == "ratio"
    assert (e.low, e.high) == (pytest.approx(ci.low), pytest.approx(ci.high))
    assert e.method == "median, order-statistic interval (scipy.stats.quantile_test)"
    assert e.replicates == "samples" and e.effect_size is None and e.n == 8
    assert e.spread == pytest.approx(float(np.std(np.log(values), ddof=1)))
    diff = r.median_interval(
        [-0.5, 0.2, 0.1, -0.1, 0.3, 0.0], name="d", threshold=0.0, scale="difference"
    )
    assert diff.scale == "difference" and diff.low < 0  # not clipped at 0 on a difference scale
    assert diff.spread == pytest.approx(float(np.std([-0.5, 0.2, 0.1, -0.1, 0.3, 0.0], ddof=1)))
    few = r.median_interval([2.0, 3.0], name="few", threshold=1.0)  # no 95 % interval exists
    assert few.low == 0.0 and few.high == math.inf  # a ratio's lower bound clipped at 0
    lone = r.median_interval([2.0], name="lone", threshold=1.0)
    assert lone.spread is None and lone.n == 1
    with pytest.raises(ValueError, match=r"^t: no values$"):
        r.median_interval([], name="t", threshold=1.0)
    with pytest.raises(ValueError, match=r"^t: non-finite values"):
        r.median_interval([1.0, math.nan], name="t", threshold=1.0)


def test_median_interval_fields_and_spread() -> None:
    x = np.linspace(0.8, 1.6, 21)
    e = r.median_interval(x, name="blocks", threshold=1.0, direction="less", confidence=0.9)
    ci = stats.quantile_test(x, q=float(np.median(x))).confidence_interval(0.9)
    assert (e.low, e.high) == (ci.low, ci.high)
    assert e.name == "blocks" and e.direction == "less" and e.confidence == 0.9
    assert e.samples == tuple(float(v) for v in x) and e.effect_size is None and e.n == 21
    assert e.spread == pytest.approx(float(np.std(np.log(x), ddof=1)), rel=1e-12)
    # a difference is spread on its own scale, even when every value is positive
    d = r.median_interval(x, name="d", threshold=0.0, scale="difference")
    assert d.spread == pytest.approx(float(np.std(x, ddof=1)), rel=1e-12)
    # a ratio sample with a 0 cannot be logged: its spread is that of the values
    z = r.median_interval([0.0, 1.0, 2.0], name="z", threshold=1.0)
    assert z.spread == pytest.approx(1.0, rel=1e-12) and z.low == 0.0
    two = r.median_interval([1.0, 3.0], name="two", threshold=1.0, scale="difference")
    assert two.spread == pytest.approx(math.sqrt(2.0), rel=1e-12)
    assert r.median_interval([1.0], name="one", threshold=1.0).spread is None


def test_paired_ratio_keeps_its_confidence() -> None:
    e = r.paired_ratio(A, B, name="speed", confidence=0.8)
    ci = stats.ttest_rel(np.log(A), np.log(B)).confidence_interval(0.8)
    assert e.confidence == 0.8 and e.low == pytest.approx(math.exp(ci.low), rel=1e-12)
