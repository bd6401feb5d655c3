"""The shared vocabulary of verdicts: outcomes, effects with intervals, robustness, figures.

Every claim decides with the pieces of this module, so a verdict means the
same thing in every claim and at every scale:

* Three outcomes (:data:`OUTCOMES`).  *Exact* claims (ranks, identities to
  rounding level) are two-valued: :meth:`Verdict.exact`.  Claims whose
  measurement varies with seeds, draws or data decide through one or more
  :class:`Effect` objects: an estimate with a confidence interval over
  seeds, computed by a paired test from :mod:`scipy.stats`, and a threshold
  fixed in the claim's code before any result is seen.  The effect *holds*
  when the whole interval lies on the claimed side of the threshold, *fails*
  when the whole interval lies on the other side, and is ``inconclusive``
  otherwise -- the interval contains both regions, so the rule cannot decide
  at this scale, and :meth:`Effect.decide_by` says how many seeds would.
* A quick profile is the same rule on fewer seeds: its interval is wider, so
  it may be inconclusive where the full profile decides; at the stated
  confidence it gives the opposite decisive outcome only when one of the two
  intervals misses the true effect (at most ``1 - confidence`` each).
* :func:`combine` joins several decisions (all must hold).
* :class:`RobustnessRow` and :func:`robustness_summary`: the same rule on
  other data sets, reported beside the pre-registered verdict ("holds on k of
  m"), never entering it.
* Exact "almost everywhere" statements on integer draws
  (:mod:`~dltheory.claims.evidence.generic`): upper bounds on every draw,
  genericity by a *witness* draw (:func:`find_witness`), short draws reported
  apart (:func:`shortfall_rate`), so more seeds never flip an exact verdict.
* Figure elements: :func:`draw_paired` (per-seed points joined across two
  conditions, with the mean and its interval) and :func:`draw_effects` (each
  effect's interval against its threshold, the two regions shaded).

Statistics: paired effects are computed on the log scale for ratios
(iterations, times), as a one-sample Student t interval of the paired
log-differences (``scipy.stats.ttest_rel``), and reported back as a
geometric-mean ratio; the standardized effect size is Cohen's ``d_z`` (mean
over standard deviation of the paired differences).  Medians use the
distribution-free order-statistic interval (``scipy.stats.quantile_test``).
"""

from .figures import draw_effects, draw_paired
from .generic import (
    EXACT_INT_RANGE,
    RETRIES,
    Witness,
    draw_seeds,
    find_witness,
    shortfall_rate,
    singular_factors,
)
from .rules import (
    CONFIDENCE,
    INCONCLUSIVE,
    NOT_REPRODUCED,
    OUTCOMES,
    REPRODUCED,
    Effect,
    RobustnessRow,
    Verdict,
    combine,
    mean_interval,
    median_interval,
    paired_difference,
    paired_ratio,
    robustness_summary,
)

__all__ = [
    "CONFIDENCE",
    "EXACT_INT_RANGE",
    "RETRIES",
    "Witness",
    "draw_seeds",
    "find_witness",
    "shortfall_rate",
    "singular_factors",
    "INCONCLUSIVE",
    "NOT_REPRODUCED",
    "OUTCOMES",
    "REPRODUCED",
    "Effect",
    "RobustnessRow",
    "Verdict",
    "combine",
    "draw_effects",
    "draw_paired",
    "mean_interval",
    "median_interval",
    "paired_difference",
    "paired_ratio",
    "robustness_summary",
]
