"""Per-step cost of ``EndToEnd(depth=N)`` on a plain linear model against the depth-N network.

Run: ``python benchmarks/bench_end_to_end.py [--widths 64,128,256,512] [--depths 2,3,4]
[--cases linnerud,diabetes,digits,square] [--blocks 11] [--per-block 20] [--breakdown]``.

The end-to-end rule (Arora, Cohen & Hazan, ICML 2018, Eq. 7) lets a plain
linear model follow the trajectory of gradient descent on a balanced depth-N
linear network of *any* hidden width.  The peer is that network itself:
``dltheory.DeepLinear`` (hidden width ``w``) trained by ``torch.optim.SGD``.
One step = forward + l_2 loss + backward + update, full batch, float32.

Timing protocol: after a warm-up, ``--blocks`` pairs of blocks, each block
``--per-block`` steps (more for steps so short that a block would last under
``--min-block-s``), the deep net's and EndToEnd's blocks interleaved and their
order alternated (deep first in even pairs, EndToEnd first in odd ones), so
that load on a shared machine hits both alike.  Reported per case and size:
the median seconds per step of each, and the per-pair ratios deep / EndToEnd
(> 1: the optimizer is cheaper) as their median, min and max, and a 95%
bootstrap interval of the median (``scipy.stats.bootstrap``, percentile).
``--breakdown`` adds, per case, where EndToEnd's step goes (model forward +
loss + backward, the optimizer step, and inside it the decomposition).

Cases:

* ``linnerud``: 20 x 3 -> 3 (the bundled Linnerud set); EndToEnd's weight is
  a 3 x 3 matrix (one 3 x 3 eigendecomposition per step);
* ``diabetes``: 442 x 10 -> 1 (scikit-learn's bundled set); the plain model's
  weight is a vector, so EndToEnd uses the closed form (Eq. 10, no matrix
  function);
* ``digits``: 1797 x 64 -> 10 one-hot targets (least-squares classifier on the
  bundled digits); EndToEnd decomposes the 10 x 10 Gram matrix of its
  10 x 64 weight;
* ``square``: a synthetic 1024 x w -> w problem, so EndToEnd's matrix function
  is w x w, the size of the network's layers: the least favourable case.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

import dltheory as dt
from dltheory.claims.end_to_end_optimizer import SQUARE, PlainLinear, cost_problem, interleaved

__all__ = ["CASES", "breakdown", "data", "main", "summarize", "trainer"]

#: The cases, in the order of the table.
CASES: tuple[str, ...] = ("linnerud", "diabetes", "digits", "square")


def trainer(
    model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor
) -> Callable[[], None]:
    """One full-batch step: zero_grad, forward, l_2 loss, backward, update."""

    def step() -> None:
        opt.zero_grad()
        dt.lp_loss(model(x), y, 2.0).backward()
        opt.step()

    return step


def data(case: str, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs ``(m, d)`` and targets ``(m, k)`` of a case, float32 (the claim's, and digits)."""
    if case in ("linnerud", "diabetes", SQUARE):
        return cost_problem(case, width)
    if case == "digits":
        from sklearn.datasets import load_digits

        b = load_digits()
        x = torch.as_tensor(b.data, dtype=torch.float32) / 16.0
        y = torch.nn.functional.one_hot(torch.as_tensor(b.target), 10).float()
        return x - x.mean(0), y - y.mean(0)
    raise ValueError(f"case: expected one of {', '.join(CASES)}, got {case!r}")


def summarize(num: list[float], den: list[float]) -> dict[str, float]:
    """Median, min, max and a 95% bootstrap interval of the per-block ratios ``num / den``."""
    ratios = [a / b for a, b in zip(num, den, strict=True)]
    out = {
        "median": statistics.median(ratios),
        "min": min(ratios),
        "max": max(ratios),
        "ci_low": float("nan"),
        "ci_high": float("nan"),
    }
    if len(ratios) >= 3:
        try:
            from scipy.stats import bootstrap
        except ImportError:  # pragma: no cover - scipy comes with scikit-learn
            return out
        res = bootstrap(
            (np.asarray(ratios),),
            np.median,
            confidence_level=0.95,
            n_resamples=2000,
            method="percentile",
            random_state=0,
        )
        out["ci_low"] = float(res.confidence_interval.low)
        out["ci_high"] = float(res.confidence_interval.high)
    return out


def _median_time(f: Callable[[], Any], blocks: int = 7, min_block_s: float = 0.02) -> float:
    for _ in range(3):
        f()
    t0 = time.perf_counter()
    f()
    n = max(3, math.ceil(min_block_s / max(time.perf_counter() - t0, 1e-9)))
    times = []
    for _ in range(blocks):
        t0 = time.perf_counter()
        for _ in range(n):
            f()
        times.append((time.perf_counter() - t0) / n)
    return statistics.median(times)


def breakdown(
    plain: PlainLinear, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor
) -> dict[str, float]:
    """Where an EndToEnd step's time goes (median seconds of each part, timed alone).

    ``model``: zero_grad + forward + loss + backward; ``step``: ``EndToEnd.step()`` (same
    depth, on a copy of the weight and its gradient);
    ``decomposition``: the matrix function alone (LAPACK ``dsyevd`` on the
    float64 Gram matrix as the optimizer calls it, or ``torch.linalg.eigh`` for
    the larger ones; nothing for a vector); ``old_svd``: the thin SVD the
    previous implementation did, for comparison.
    """
    from dltheory.optim import end_to_end as e2e

    def model_part() -> None:
        opt.zero_grad()
        dt.lp_loss(plain(x), y, 2.0).backward()

    out = {"model": _median_time(model_part)}
    # the step alone, repeated on a copy with a fixed gradient and a negligible rate
    # (the same work; the trained model does not move)
    copy = nn.Parameter(plain.weight.detach().clone())
    copy.grad = plain.weight.grad.detach().clone() if plain.weight.grad is not None else None
    depth = opt.param_groups[0]["depth"]
    out["step"] = _median_time(dt.EndToEnd([copy], lr=1e-30, depth=depth).step)
    w = plain.weight.detach()
    if w.ndim == 2:
        small = w if w.shape[0] <= w.shape[1] else w.T
        if e2e._uses_numpy(w):
            gram = small.double().numpy() @ small.double().numpy().T
            out["decomposition"] = _median_time(lambda: e2e._EIGH(gram))
        else:
            gram_t = small.double() @ small.double().T
            out["decomposition"] = _median_time(lambda: torch.linalg.eigh(gram_t))
        out["old_svd"] = _median_time(lambda: torch.linalg.svd(w, full_matrices=False))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--widths", default="64,128,256,512")
    ap.add_argument("--depths", default="2,3,4")
    ap.add_argument("--cases", default=",".join(CASES), help=f"from {', '.join(CASES)}")
    ap.add_argument("--blocks", type=int, default=11, help="interleaved pairs of blocks")
    ap.add_argument("--per-block", type=int, default=20, help="steps per block (at least)")
    ap.add_argument("--min-block-s", type=float, default=0.02, help="shortest block, seconds")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: leave as is)")
    ap.add_argument("--breakdown", action="store_true", help="also time EndToEnd's parts")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "end_to_end.json"))
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    widths = [int(w) for w in args.widths.split(",")]
    depths = [int(d) for d in args.depths.split(",")]
    cases = [c.strip() for c in args.cases.split(",")]
    for case in cases:
        if case not in CASES:
            ap.error(f"--cases: unknown case {case!r} (from {', '.join(CASES)})")
    rows: list[dict[str, Any]] = []
    load0 = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"torch {torch.__version__}, threads {torch.get_num_threads()}, float32, full batch; "
        f"{args.blocks} interleaved block pairs; load average {load0:.2f}"
    )
    head = ("case", "N", "width", "deep s/step", "EndToEnd s/step", "ratio", "[min, max]", "95% CI")
    print(
        f"{head[0]:9} {head[1]:>2} {head[2]:>5} {head[3]:>12} {head[4]:>16} {head[5]:>6} "
        f"{head[6]:>13} {head[7]:>13}"
    )
    for case in cases:
        for n in depths:
            for w in widths:
                x, y = data(case, w)
                net = dt.DeepLinear(x.shape[1], y.shape[1], n, hidden=w, seed=0)
                plain = PlainLinear(net.end_to_end)
                opt = dt.EndToEnd(plain.parameters(), lr=1e-4, depth=n)
                steps = {
                    "deep": trainer(net, torch.optim.SGD(net.parameters(), lr=1e-4), x, y),
                    "end_to_end": trainer(plain, opt, x, y),
                }
                times, per_block = interleaved(steps, args.blocks, args.per_block, args.min_block_s)
                t_deep = statistics.median(times["deep"])
                t_e2e = statistics.median(times["end_to_end"])
                ratio = summarize(times["deep"], times["end_to_end"])
                row: dict[str, Any] = {
                    "case": case,
                    "depth": n,
                    "width": w,
                    "shape": [y.shape[1], x.shape[1]],
                    "deep_s": t_deep,
                    "end_to_end_s": t_e2e,
                    "ratio": ratio["median"],
                    "ratio_stats": ratio,
                    "per_block": per_block,
                    "deep_blocks_s": times["deep"],
                    "end_to_end_blocks_s": times["end_to_end"],
                }
                rows.append(row)
                print(
                    f"{case:9} {n:>2} {w:>5} {t_deep:>12.2e} {t_e2e:>16.2e} "
                    f"{ratio['median']:>6.2f} [{ratio['min']:>5.2f}, {ratio['max']:>5.2f}] "
                    f"[{ratio['ci_low']:>5.2f}, {ratio['ci_high']:>5.2f}]",
                    flush=True,
                )
                if args.breakdown and (case == "square" or w == widths[0]):
                    parts = breakdown(plain, opt, x, y)
                    row["breakdown_s"] = parts
                    print(
                        "   EndToEnd parts: " + ", ".join(f"{k} {v:.2e}" for k, v in parts.items())
                    )
    load1 = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average at the end {load1:.2f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(
        json.dumps(
            {
                "torch": torch.__version__,
                "threads": torch.get_num_threads(),
                "blocks": args.blocks,
                "load_average": [load0, load1],
                "rows": rows,
            },
            indent=1,
        )
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
