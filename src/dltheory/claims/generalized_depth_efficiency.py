"""Claim ``generalized-depth-efficiency``: depth efficiency is weaker for ReLU + max-pool ConvNets.

Cohen & Shashua, "Convolutional rectifier networks as generalized tensor decompositions",
ICML'16 (arXiv:1603.00162); lectures [C].  The abstract: "we show that convolutional
rectifier networks are universal with max pooling but not with average pooling. Second,
and more importantly, we show that depth efficiency is weaker with convolutional
rectifier networks than it is with convolutional arithmetic circuits", where ConvACs have
"complete depth efficiency", meaning that "besides a negligible set, all functions that
can be implemented by a deep network of polynomial size, require exponential size in
order to be implemented (or even approximated) by a shallow network".

The paper's tools (Sec. 4; in our words, the full text was not at hand offline, only the
abstract and the supplementary's App. A): the *grid tensor* ``A(h)[d_1..d_N] =
h(x^(d_1), .., x^(d_N))`` of a network on M template points (eq. 3: "the values of h_y on
all instances ... whose patches are taken from the set of templates (recurrence
allowed)"), and the activation-pooling operator that replaces the product of a ConvAC:
``max{a, b, 0}`` for ReLU + max pooling, ``max{a, 0} + max{b, 0}`` for ReLU + average
(sum) pooling; the shallow network is a generalized CP decomposition of the grid tensor,
the deep one a generalized hierarchical Tucker decomposition.  Sec. 5.1 (universality):
with ReLU + max pooling a shallow network realizes every grid tensor given enough width;
with ReLU + average pooling it does not (its functions are sums of functions of one
patch each).  Sec. 5.2 (depth efficiency): with ReLU + max pooling some deep networks
need exponentially wide shallow ones, but the deep weights whose function a
polynomially sized shallow network realizes form a set of *positive* measure, where for
ConvACs it has measure zero.

Protocol (v1).  Templates: the M one-hot points (the representation matrix F = I).
Networks over balanced trees (size-2 pooling) with width ``r`` at every level, weights
drawn from a float initialization and quantized to integers with one scale per level
(:func:`~dltheory.claims._generalized.draw_weights`; level scales do not change any rank
of these bias-free, positively homogeneous networks, so He/Kaiming, LeCun, Xavier and unit
versions of one distribution coincide: the families are the shapes ``normal``,
``uniform`` and ``orthogonal``).  The same integer weights serve three poolings: ReLU +
max, ReLU + average (pooled by sums: the grid tensor times ``2^levels``) and product
(the ConvAC).  Ranks of the odd/even matricization are exact: the rank modulo
``2^31 - 1`` is a lower bound; a rank at most ``generic^low_exponent`` (``generic``: the
ConvAC's min cut, ``M^(N/2)`` for ``r >= M``) is certified from above by further primes
against the Hadamard bound (:func:`~dltheory.claims._generalized.certified_rank`).  The
float SVD rank and its spectral gap are reported beside.

Rule (fixed before the first full run):

* (a) ConvAC: on every draw of the pre-registered inits (normal, uniform) the exact rank
  is ``<= generic`` (the min cut), above ``generic^low_exponent`` ("far below"), and
  some draw of each family reaches ``generic``.
* (b) ReLU + max, per config and pre-registered init: the fraction of draws whose rank is
  certified ``<= generic^low_exponent`` is positive: the lower end of its 95 %
  Clopper-Pearson interval is > 0 (no such draw: inconclusive).
* (c) Depth still helps ReLU + max: per config, the fraction of draws whose certified rank
  exceeds the ceiling ``Z * M * N/2`` of a shallow ReLU + max net with as many weights
  (``Z`` hidden channels) is positive, the same way.  The ceiling: each hidden channel
  ``max_i relu(w_i[d_i])`` takes at most ``M * N/2`` values on one side of the partition,
  so its matricization has at most that many distinct rows.
* (d) ReLU + average, deep: every rank ``<= 2 M^(N/4)`` (the root's average makes ``h`` a
  sum of a function of the left half and one of the right half).
* (e) Shallow (flat tree, width K, normal init): ReLU + max ranks ``<= min(K M N/2,
  M^(N/2))`` and a draw of the widest net at ``M^(N/2)``; ReLU + average ranks certified
  ``<= 2`` for every K (a sum of one-patch functions), a ceiling below ``M^(N/2)``.
* (f) Universality: the grid tensors of the K hidden channels of the widest shallow
  ReLU + max net span all ``M^N`` grid tensors (certified) and fit a random target to
  ``fit_tol``; for ReLU + average the span is certified ``<= 1 + N(M - 1)`` at every K.
* (g) The evaluator agrees with :class:`dltheory.ConvAC` (``grid_tensor`` on the same
  weights) to 1e-10 for the three poolings.

The orthogonal init (not a density on weight space) gets the rule of (b) as a robustness
row, outside the verdict.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..analysis import min_cut, odd_even
from ..trees import ModeTree
from ._generalized import (
    INITS,
    quantization_bits,
    run_deep,
    run_library,
    run_shallow,
    run_span,
    serial,
)
from ._util import derive_seed
from .base import Claim, Param, Unit, Verdict, register
from .evidence import Effect, RobustnessRow

__all__ = ["GeneralizedDepthEfficiency", "parse_configs", "BLOCK", "PREREGISTERED"]

#: Draws per deep unit.
BLOCK = 25
#: Initializations whose results enter the verdict (the others are robustness rows).
PREREGISTERED = ("normal", "uniform")


def parse_configs(text: Any, name: str) -> list[tuple[int, int]]:
    """``"8:4,16:2"`` -> ``[(8, 4), (16, 2)]`` (positions N, templates M)."""
    out = []
    for item in str(text).split(","):
        parts = item.strip().split(":")
        try:
            n, m = (int(p) for p in parts)
        except ValueError:
            raise ValueError(
                f"--set {name}: expected N:M pairs like 8:4,16:2, got {item.strip()!r}"
            ) from None
        out.append((n, m))
    if not out:
        raise ValueError(f"--set {name}: expected at least one N:M pair")
    return out


def parse_inits(text: Any) -> list[str]:
    """``"normal,uniform"`` -> ``["normal", "uniform"]``, each one of :data:`INITS`."""
    names = [t.strip() for t in str(text).split(",") if t.strip()]
    bad = [t for t in names if t not in INITS]
    if bad or not names:
        raise ValueError(f"--set inits: expected names from {INITS}, got {str(text)!r}")
    return list(dict.fromkeys(names))


@register
class GeneralizedDepthEfficiency(Claim):
    """Grid-tensor ranks of ReLU/max, ReLU/average and product-pooling nets, exactly."""

    id = "generalized-depth-efficiency"
    title = "Depth efficiency of convolutional rectifier networks (generalized decompositions)"
    source = "[C] Cohen & Shashua, ICML'16"
    statement = (
        "With ReLU + max pooling (generalized tensor decomposition, grid tensors on M template "
        "points): deep nets still reach ranks a shallow net can't, but not almost always: a "
        "positive fraction of random deep ReLU/max-pool nets has low grid-tensor rank, while "
        "the fraction for ConvACs is 0. Shallow ReLU + average pooling is not universal; + max "
        "pooling is."
    )
    rule = (
        "Odd/even grid-tensor ranks, exact (integer weights; rank mod p, certified from above by "
        "more primes vs the Hadamard bound when <= generic^low_exponent, 'far below'). (a) ConvAC "
        "(same weights, product pooling): every draw <= the min cut (generic), none far below, "
        "a draw at generic per family; (b) ReLU/max: per config and init (normal, uniform) the "
        "fraction far below has a 95% Clopper-Pearson interval above 0; (c) the fraction above "
        "the ceiling Z*M*N/2 of an equal-size shallow ReLU/max net is above 0 the same way; "
        "(d) deep ReLU/avg ranks <= 2 M^(N/4); (e) shallow width K: ReLU/max <= min(K M N/2, "
        "M^(N/2)) with the widest at M^(N/2), ReLU/avg certified <= 2; (f) the widest shallow "
        "ReLU/max net's channels span all M^N grid tensors and fit a random one to fit_tol, "
        "ReLU/avg spans <= 1+N(M-1); (g) the evaluator matches ConvAC.grid_tensor to 1e-10. "
        "No draw far below in (b): inconclusive."
    )
    params = (
        Param("deep", "str", "8:4,16:2", "8:4,16:2", "deep nets N:M (balanced trees, M templates)"),
        Param(
            "width", "int", 4, 4, "width r of every level of the deep nets", minimum=1, maximum=8
        ),
        Param(
            "inits",
            "str",
            "normal,uniform,orthogonal",
            "normal,uniform,orthogonal",
            f"weight initializations, from {INITS} (normal and uniform enter the verdict)",
        ),
        Param(
            "draws", "int", 30, 200, "random deep nets per config and init", minimum=1, maximum=5000
        ),
        Param(
            "low_exponent",
            "float",
            0.5,
            0.5,
            "a rank <= generic^low_exponent is 'far below' the generic rank",
            minimum=0.05,
            maximum=0.95,
        ),
        Param("shallow", "str", "8:4", "8:4", "shallow nets N:M for the rank ceiling (e)"),
        Param(
            "shallow_widths",
            "ints",
            (1, 4, 16, 64, 128),
            (1, 2, 4, 8, 16, 32, 48, 64, 96, 128, 192),
            "(e) widths K of the shallow nets; the widest must reach M^(N/2)",
            minimum=1,
            maximum=512,
        ),
        Param("shallow_draws", "int", 2, 4, "(e) draws per width", minimum=1, maximum=50),
        Param("span", "str", "8:2", "8:2", "(f) shallow nets N:M whose channels' span is measured"),
        Param(
            "span_widths",
            "ints",
            (64, 256, 512),
            (16, 64, 128, 256, 320, 384, 448, 512, 768),
            "(f) widths K; the widest must span all M^N grid tensors",
            minimum=1,
            maximum=4096,
        ),
        Param(
            "fit_tol",
            "float",
            1e-6,
            1e-6,
            "(f) relative residual of the random target the widest ReLU/max net must reach",
            minimum=1e-14,
            maximum=1e-2,
        ),
        Param(
            "library_seeds",
            "int",
            1,
            2,
            "(g) ConvAC nets per config and pooling",
            minimum=1,
            maximum=20,
        ),
    )

    def check(  # pragma: no mutate block (input checks, not the verdict rule)
        self, params: Mapping[str, Any]
    ) -> None:
        """Sizes the exact ranks can handle, and integer weights that cannot overflow."""
        for n, m in parse_configs(params["deep"], "deep"):
            if n < 4 or n > 16 or n & (n - 1) or m < 2:
                raise ValueError(f"--set deep: {n}:{m}: expected N a power of 2 in 4..16, M >= 2")
            if m ** (n // 2) > 512:
                raise ValueError(
                    f"--set deep: {n}:{m}: the odd/even matricization is {m ** (n // 2)} wide; "
                    "exact ranks are computed up to 512"
                )
            tree = ModeTree.balanced(n)
            bits = quantization_bits(tree, tree.resolve_ranks(int(params["width"])))
            if bits < 6:
                raise ValueError(
                    f"--set deep/width: {n}:{m} with width {params['width']} leaves {bits} bits "
                    "per integer weight before int64 could overflow; use a smaller width or N"
                )
        parse_inits(params["inits"])
        if not set(parse_inits(params["inits"])) & set(PREREGISTERED):
            raise ValueError(f"--set inits: include at least one of {PREREGISTERED}")
        for key, widths in (("shallow", "shallow_widths"), ("span", "span_widths")):
            pairs = parse_configs(params[key], key)
            if len(pairs) != 1:
                raise ValueError(f"--set {key}: expected one N:M pair, got {len(pairs)}")
            for n, m in pairs:
                if n < 2 or n % 2 or m < 2 or m**n > 2**16:
                    raise ValueError(
                        f"--set {key}: {n}:{m}: expected N even >= 2, M >= 2, M^N <= 65536"
                    )
                if key == "span" and m**n > 1024:
                    raise ValueError(
                        f"--set span: {n}:{m}: the span is an exact rank of an M^N x K matrix; "
                        f"M^N = {m**n} exceeds 1024"
                    )
                if m**n * max(params[widths]) > 2**25:
                    raise ValueError(
                        f"--set {widths}: {m}^{n} grid points x width {max(params[widths])} "
                        "exceed 2^25 entries; use smaller widths"
                    )

    def units(  # pragma: no mutate block (planning, not the verdict rule)
        self, params: Mapping[str, Any], seed: int
    ) -> list[Unit]:
        out: list[Unit] = []
        width, draws = int(params["width"]), int(params["draws"])
        for n, m in parse_configs(params["deep"], "deep"):
            generic = int(min_cut(ModeTree.balanced(n), width, odd_even(n), in_dim=m).value)
            # ranks up to "far below" are certified exactly (above: exact lower bounds)
            cap = int(math.floor(generic ** float(params["low_exponent"]) + 1e-9))
            for init in parse_inits(params["inits"]):
                fam = derive_seed(seed, self.id, "deep", n, m, width, init)
                for start in range(0, draws, BLOCK):
                    cfg = {
                        "part": "deep",
                        "n": n,
                        "m": m,
                        "width": width,
                        "init": init,
                        "start": start,
                        "stop": min(draws, start + BLOCK),
                        "cap": cap,
                    }
                    out.append(Unit(cfg, fam))
            for i in range(int(params["library_seeds"])):
                out.append(
                    Unit(
                        {"part": "library", "n": n, "m": m, "width": width, "index": i},
                        derive_seed(seed, self.id, "library", n, m, i),
                    )
                )
        n, m = parse_configs(params["shallow"], "shallow")[0]
        for k in params["shallow_widths"]:
            out.append(
                Unit(
                    {
                        "part": "shallow",
                        "n": n,
                        "m": m,
                        "K": int(k),
                        "draws": int(params["shallow_draws"]),
                    },
                    derive_seed(seed, self.id, "shallow", n, m, k),
                )
            )
        n, m = parse_configs(params["span"], "span")[0]
        for k in params["span_widths"]:
            out.append(
                Unit(
                    {"part": "span", "n": n, "m": m, "K": int(k)},
                    derive_seed(seed, self.id, "span", n, m, k),
                )
            )
        return out

    def run_unit(  # pragma: no mutate block (measurement, not the verdict rule)
        self, config: Mapping[str, Any], seed: int
    ) -> dict[str, Any]:
        run = {"deep": run_deep, "library": run_library, "shallow": run_shallow}.get(
            config["part"], run_span
        )
        with serial():
            return run(config, seed)

    def verdict(self, params: Mapping[str, Any], results: list[dict[str, Any]]) -> Verdict:
        low_exp, fit_tol = float(params["low_exponent"]), float(params["fit_tol"])
        numbers: dict[str, Any] = {}
        effects: list[Effect] = []
        robust: list[RobustnessRow] = []
        lines: list[str] = []
        deep_a = deep_d = bool([r for r in results if r["part"] == "deep"])
        for (n, m), fams in _deep_families(results).items():
            info = next(iter(fams.values()))[0]
            generic, ceiling = info["generic"], info["shallow_ceiling"]
            avg_bound = info["avg_bound"]
            t = int(math.floor(generic**low_exp + 1e-9))
            certified_up_to = min(u["cap"] for f in fams.values() for u in f)
            key = f"N={n} M={m}"
            numbers[key] = (
                f"generic (min cut) {generic}; far below: rank <= {t}; equal-size shallow "
                f"ReLU/max ceiling {ceiling} (Z={info['shallow_width_equal_params']}, "
                f"{info['params']} weights); deep ReLU/avg bound {avg_bound}; {info['bits']}-bit "
                "integer weights"
            )
            beyond_k = beyond_n = 0
            parts = []
            for init, units in fams.items():
                draws = [d for u in units for d in u["draws"]]
                mx = [d["max"] for d in draws]
                low = sum(1 for c in mx if c["exact"] and c["rank"] <= t and t <= certified_up_to)
                beyond = sum(1 for c in mx if c["rank"] > ceiling)
                prod = [d["product"]["rank"] for d in draws]
                avg = [d["average"]["rank"] for d in draws]
                name = f"{key} {init}: fraction of deep ReLU/max nets with rank <= {t}"
                eff = _fraction(name, low, len(draws))
                numbers[f"{key} {init} ReLU/max"] = _describe(mx, t, ceiling)
                numbers[f"{key} {init} ReLU/max histogram"] = _histogram(
                    [c["rank"] for c in mx], generic
                )
                numbers[f"{key} {init} ReLU/avg"] = (
                    f"ranks {_spread(avg)}; max {max(avg)} <= {avg_bound}: {max(avg) <= avg_bound}"
                )
                short = [d for d in draws if d["product"]["rank"] < generic]
                numbers[f"{key} {init} ConvAC"] = (
                    f"{len(draws) - len(short)}/{len(draws)} at {generic}; {len(short)} short "
                    f"({sum(d['product']['singular_factors'] > 0 for d in short)} with a singular "
                    f"factor), min {min(prod)}; far below: {sum(r <= t for r in prod)}"
                )
                if init not in PREREGISTERED:
                    robust.append(RobustnessRow(f"{init} init, {key}", eff.outcome, eff.describe()))
                    continue
                effects.append(eff)
                beyond_k, beyond_n = beyond_k + beyond, beyond_n + len(draws)
                deep_a = deep_a and max(prod) == generic and all(t < r <= generic for r in prod)
                deep_d = deep_d and max(avg) <= avg_bound
                parts.append(f"{init} {low}/{len(draws)}")
            if beyond_n:
                effects.append(
                    _fraction(
                        f"{key}: fraction of deep ReLU/max nets above the equal-size shallow "
                        f"ceiling {ceiling}",
                        beyond_k,
                        beyond_n,
                    )
                )
            lines.append(
                f"{key}: ReLU/max far below generic {generic} (rank <= {t}) in "
                f"{', '.join(parts)}; above the equal-size shallow ceiling {ceiling} in "
                f"{beyond_k}/{beyond_n}"
            )
        e, f, g = self._shallow_parts(results, fit_tol, numbers, lines)
        also = {
            "(a) ConvAC: every draw <= min cut, none far below, one at it": deep_a,
            "(d) deep ReLU/avg ranks <= 2 M^(N/4)": deep_d,
            "(e) shallow ceilings: ReLU/max <= K M N/2 reaching M^(N/2), ReLU/avg <= 2": e,
            "(f) widest shallow ReLU/max spans every grid tensor, ReLU/avg <= 1+N(M-1)": f,
            "(g) evaluator = ConvAC.grid_tensor to 1e-10": g,
        }
        failed = [k for k, ok in also.items() if not ok]
        summary = "; ".join(lines) + (f". Failed: {failed}" if failed else "")
        return Verdict.from_effects(
            effects,
            summary,
            numbers,
            also=also,
            robustness=robust,
            decide_by=(
                "more draws (--set draws=...): a positive fraction p shows in about 3/p draws"
                if any(x.outcome == "inconclusive" for x in effects)
                else ""
            ),
        )

    @staticmethod
    def _shallow_parts(
        results: list[dict[str, Any]], fit_tol: float, numbers: dict[str, Any], lines: list[str]
    ) -> tuple[bool, bool, bool]:
        """Parts (e), (f), (g): shallow ceilings, universality, agreement with the library."""
        shallow = sorted((r for r in results if r["part"] == "shallow"), key=lambda r: r["K"])
        e = bool(shallow)
        for r in shallow:
            mx = [d["max"] for d in r["draws"]]
            av = [d["average"] for d in r["draws"]]
            e = e and all(c["rank"] <= r["bound"] for c in mx)
            e = e and all(c["exact"] and c["upper"] <= 2 for c in av)
        if shallow:
            widest = shallow[-1]
            e = e and max(d["max"]["rank"] for d in widest["draws"]) == widest["full"]
            numbers["(e) shallow ReLU/max rank by K"] = {
                str(r["K"]): [d["max"]["rank"] for d in r["draws"]] for r in shallow
            }
            numbers["(e) shallow ReLU/avg rank by K"] = {
                str(r["K"]): [d["average"]["rank"] for d in r["draws"]] for r in shallow
            }
            lines.append(
                f"shallow N={widest['n']} M={widest['m']}: ReLU/max rank "
                f"{max(d['max']['rank'] for d in widest['draws'])} of {widest['full']} at "
                f"K={widest['K']}, ReLU/avg at most "
                f"{max(d['average']['rank'] for r in shallow for d in r['draws'])} for every K"
            )
        span = sorted((r for r in results if r["part"] == "span"), key=lambda r: r["K"])
        f = bool(span) and all(
            r["average"]["exact"] and r["average"]["upper"] <= r["additive_dim"] for r in span
        )
        if span:
            w = span[-1]
            f = f and w["max"]["exact"] and w["max"]["rank"] == w["grid"]
            f = f and w["max"]["residual"] <= fit_tol
            numbers["(f) span of the hidden channels by K (max / avg)"] = {
                str(r["K"]): [r["max"]["rank"], r["average"]["rank"]] for r in span
            }
            numbers["(f) random target residual by K (max / avg)"] = {
                str(r["K"]): [r["max"]["residual"], r["average"]["residual"]] for r in span
            }
            lines.append(
                f"span N={w['n']} M={w['m']}: K={w['K']} ReLU/max channels span "
                f"{w['max']['rank']} of {w['grid']} grid tensors (random target residual "
                f"{w['max']['residual']:.1e}), ReLU/avg at most "
                f"{max(r['average']['rank'] for r in span)} (1+N(M-1) = {w['additive_dim']})"
            )
        lib = [r for r in results if r["part"] == "library"]
        worst = max((v for r in lib for v in r["rel_diff"].values()), default=math.inf)
        numbers["(g) evaluator vs ConvAC.grid_tensor, max relative difference"] = worst
        return e, f, bool(lib) and worst <= 1e-10

    def figure(  # pragma: no mutate block (drawing, not the verdict rule)
        self, params: Mapping[str, Any], results: list[dict[str, Any]], path: str
    ) -> None:
        from ._generalized_figure import draw_figure

        draw_figure(params, results, path)


def _deep_families(
    results: list[dict[str, Any]],
) -> dict[tuple[int, int], dict[str, list[dict[str, Any]]]]:
    """Deep units grouped by config ``(N, M)`` and init, draws in order."""
    out: dict[tuple[int, int], dict[str, list[dict[str, Any]]]] = {}
    for r in results:
        if r["part"] == "deep":
            out.setdefault((r["n"], r["m"]), {}).setdefault(r["init"], []).append(r)
    for fams in out.values():
        for units in fams.values():
            units.sort(key=lambda u: u["draws"][0]["draw"] if u["draws"] else 0)
    return out


def _fraction(name: str, k: int, n: int) -> Effect:
    """A binomial fraction with its 95 % Clopper-Pearson interval; holds iff the interval > 0."""
    from scipy import stats

    ci = stats.binomtest(k, n).proportion_ci(0.95, method="exact")
    return Effect(
        name=name,
        estimate=k / n,
        low=float(ci.low),
        high=float(ci.high),
        threshold=0.0,
        direction="greater",
        n=n,
        method="Clopper-Pearson interval of a fraction (scipy.stats.binomtest)",
        scale="difference",
        replicates="draws",
    )


def _spread(values: list[int]) -> str:
    return f"min {min(values)}, median {float(np.median(values)):g}, max {max(values)}"


def _describe(certs: list[dict[str, Any]], t: int, ceiling: int) -> str:
    ranks = [c["rank"] for c in certs]
    agree = sum(1 for c in certs if c["float_rank"] == c["rank"])
    return (
        f"ranks {_spread(ranks)}; far below (<= {t}, certified) {sum(r <= t for r in ranks)}/"
        f"{len(ranks)}; above shallow ceiling {ceiling}: {sum(r > ceiling for r in ranks)}; "
        f"exact {sum(c['exact'] for c in certs)}/{len(ranks)}; float SVD rank = exact lower "
        f"bound on {agree}/{len(ranks)}"
    )


def _bins(generic: int) -> tuple[list[str], list[tuple[int, int]]]:
    """Rank bins 0, 1, 2, 3-4, 5-8, ..., (generic/2, generic), generic."""
    spans = [(0, 0), (1, 1), (2, 2)]
    lo = 3
    while lo < generic:
        hi = min(generic - 1, 2 * (lo - 1))
        spans.append((lo, hi))
        lo = hi + 1
    spans.append((generic, generic))
    labels = [str(a) if a == b else f"{a}-{b}" for a, b in spans]
    return labels, spans


def _bin_counts(ranks: list[int], generic: int) -> list[int]:
    _, spans = _bins(generic)
    return [sum(1 for r in ranks if a <= r <= b) for a, b in spans]


def _histogram(ranks: list[int], generic: int) -> str:
    labels, _ = _bins(generic)
    return ", ".join(
        f"{lab}: {c}" for lab, c in zip(labels, _bin_counts(ranks, generic), strict=True) if c
    )
