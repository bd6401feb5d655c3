"""Schmidt spectrum: dltheory's structured route against the dense route and quimb, and at scale.

Run: ``make bench`` or ``python benchmarks/bench_schmidt.py [--max-n 24] [--repeat 3]``
(``--max-n 4`` skips the small nets, ``--breadths 32,64,128`` sets the large ones).

Small nets (binary trees, N = 8..24), three routes timed in one run on the
same tensors, with the ratios dense/dltheory and quimb/dltheory and a check
that the spectra agree:

* dltheory: ``TreeTensor.schmidt_values(I, normalized=False)`` (never
  materializes the tensor).
* dense: ``to_dense()`` + matricize + ``numpy.linalg.svd`` (values only).
* quimb: the same network as a quimb ``TensorNetwork`` (product pooling as COPY
  tensors), contracted to the ``M^|I| x M^|J|`` matrix with ``to_dense`` (its
  contraction-path optimizer), then ``numpy.linalg.svd``.  quimb has no route to
  an exact spectrum across an arbitrary bipartition of a tree network that
  avoids this matrix.

At scale (a 32x32 grid, N = 1024, M = 2, square 2x2 pooling, width ``r`` at
every level, ``--breadths``), for the top/bottom, left/right, interleaved and a
random balanced partition: seconds of ``schmidt_spectrum`` (best of
``--repeat``, at least 5), the floating-point work of its dense kernels (counted per call
by :class:`dltheory.analysis.cores.CoreStats`), the rate reached and its
fraction of the float64 matrix-product rate measured in the same run (large
``numpy`` matmuls, with all BLAS threads and with one: the recursion's kernels
are small and run on one thread).  Partitions whose exact spectrum exceeds the
default ``max_entries`` are refused with the min cut; the time of the refusal is
reported.  Results are also written to ``benchmarks/results/schmidt.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import dltheory as dt
from dltheory.analysis import (
    block,
    dense_schmidt_values,
    interleaved_2d,
    left_right,
    odd_even,
    random_partition,
)
from dltheory.analysis.cores import CoreStats, float_core, root_values


def halving(items: list[int]) -> Any:
    """Balanced binary tree over any number of positions (halves, recursively)."""
    if len(items) == 1:
        return items[0]
    mid = len(items) // 2
    return [halving(items[:mid]), halving(items[mid:])]


def best_time(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def matmul_rate(threads: int | None, n: int = 2048, repeat: int = 3) -> float:
    """Float64 ``n x n`` matrix products per second, in GFLOP/s (``threads=None``: all)."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    with threadpool_limits(limits=threads, user_api="blas"):
        t, _ = best_time(lambda: a @ b, repeat)
    return 2.0 * n**3 / t / 1e9


def quimb_network(tt: dt.TreeTensor) -> Any:
    import quimb.tensor as qtn

    tree = tt.tree
    tensors = []

    def out_ind(v: int) -> str:
        p = tree.parent(v)
        return "out" if p is None else f"b{p}_{v}"

    for i in range(tree.num_leaves):
        tensors.append(qtn.Tensor(tt.leaf_weights[i], inds=(f"x{i}", out_ind(i))))
    for v in tree.internal_nodes:
        r = tt.widths[v]
        legs = [f"b{v}_{c}" for c in tree.children(v)] + [f"p{v}"]
        tensors.append(qtn.COPY_tensor(r, inds=legs))
        tensors.append(qtn.Tensor(tt.node_weights[v], inds=(f"p{v}", out_ind(v))))
    tn = qtn.TensorNetwork(tensors)
    return tn.isel({"out": 0})


def quimb_spectrum(tt: dt.TreeTensor, part: tuple[int, ...]) -> np.ndarray:
    tn = quimb_network(tt)
    rows = [f"x{i}" for i in part]
    cols = [f"x{j}" for j in range(tt.num_leaves) if j not in set(part)]
    mat = tn.to_dense(rows, cols, optimize="auto")
    return np.linalg.svd(np.asarray(mat), compute_uv=False)


def compare(
    tt: dt.TreeTensor, part: tuple[int, ...], case: str, repeat: int, have_quimb: bool
) -> dict[str, Any]:
    """Time the three routes on one tensor and partition; print and return a row."""
    reps = 1 if tt.num_leaves >= 24 else repeat
    t_ours, s_ours = best_time(lambda: tt.schmidt_values(part, normalized=False), repeat)
    t_dense, s_dense = best_time(lambda: dense_schmidt_values(tt.to_dense(), part), reps)
    k = min(len(s_ours), len(s_dense))
    row: dict[str, Any] = {
        "case": case,
        "dltheory_s": t_ours,
        "dense_s": t_dense,
        "max_rel_err_vs_dense": float(np.abs(s_ours[:k] - s_dense[:k]).max() / s_dense[0]),
    }
    if have_quimb:
        t_q, s_q = best_time(lambda: quimb_spectrum(tt, part), reps)
        row["quimb_s"] = t_q
        row["quimb_rel_err"] = float(np.abs(s_q[:k] - s_ours[:k]).max() / s_ours[0])
    q = row.get("quimb_s")
    print(
        f"{case:<34}{t_ours:>12.4f}{t_dense:>10.3f}"
        + (f"{q:>10.3f}" if q is not None else f"{'-':>10}")
        + f"{t_dense / t_ours:>11.1f}"
        + (f"{q / t_ours:>11.1f}" if q is not None else f"{'-':>11}")
        + f"{row['max_rel_err_vs_dense']:>10.1e}"
    )
    return row


def at_scale(
    tt: dt.TreeTensor, part: tuple[int, ...], case: str, repeat: int, rates: dict[str, float]
) -> dict[str, Any]:
    """Time ``schmidt_spectrum`` on a large net; count its flops; print and return a row."""

    def run() -> Any:
        try:
            return tt.schmidt_spectrum(part)
        except ValueError as err:
            return err

    t, out = best_time(run, repeat)
    row: dict[str, Any] = {"case": case, "dltheory_s": t}
    if isinstance(out, ValueError):
        row["refused"] = str(out)
        cut = str(out).split("min cut ")[1].split(" ")[0] if "min cut " in str(out) else "?"
        print(f"{case:<36}{t:>9.4f}   refused: exact spectrum too large (min cut {cut})")
        return row
    stats = CoreStats()
    core, _ = float_core(tt, frozenset(part), stats=stats)
    root_values(core, stats)
    gflop = stats.flops / 1e9
    rate = gflop / t
    row.update(
        gflop=gflop,
        gflops_per_s=rate,
        frac_matmul_all_threads=rate / rates["all_threads"],
        frac_matmul_one_thread=rate / rates["one_thread"],
        gram_groups=stats.gram_groups,
        fallbacks=stats.fallbacks,
        rank=len(out.values),
        log_scale=out.log_scale,
    )
    print(
        f"{case:<36}{t:>9.4f}{gflop:>9.3f}{rate:>8.1f}"
        f"{100 * row['frac_matmul_all_threads']:>8.1f}%{100 * row['frac_matmul_one_thread']:>8.1f}%"
        f"{stats.gram_groups:>7}{stats.fallbacks:>6}"
    )
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-n", type=int, default=24, help="largest N for the dense routes")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rank", type=int, default=4, help="width r of the binary-tree net")
    ap.add_argument(
        "--breadths", default="32,64,128", help="widths of the 32x32 nets (comma-separated)"
    )
    args = ap.parse_args()
    try:
        import quimb  # noqa: F401

        have_quimb = True
    except ImportError:
        have_quimb = False
    rows: list[dict[str, Any]] = []
    header = (
        f"{'case':<34}{'dltheory s':>12}{'dense s':>10}{'quimb s':>10}"
        f"{'dense/dlt':>11}{'quimb/dlt':>11}{'rel err':>10}"
    )
    print(header)
    print("-" * len(header))
    for n in range(8, args.max_n + 1, 4):
        tree = dt.ModeTree.from_nested(halving(list(range(n))))
        tt = dt.TreeTensor.random(tree, 2, args.rank, seed=0)
        for pname, part in (
            ("odd/even", odd_even(n)),
            ("left/right", left_right(n)),
            ("block 2..5", (2, 3, 4, 5)),
        ):
            rows.append(compare(tt, part, f"binary N={n} {pname}", args.repeat, have_quimb))
    shape = (32, 32)
    big = dt.TreeTensor.random(dt.ModeTree.grid(shape, window=(2, 2)), 2, 8, seed=0)
    for name, part in (
        ("left/right", left_right(shape)),
        ("4x4 corner", block(shape, (0, 0), (4, 4))),
    ):
        t, _ = best_time(lambda: big.schmidt_values(part), args.repeat)  # noqa: B023
        rows.append({"case": f"grid 32x32 M=2 r=8 {name}", "dltheory_s": t})
        label = "grid 32x32 M=2 r=8 " + name
        print(f"{label:<34}{t:>12.4f}{'(2^1024 entries: no dense route)':>44}")

    rates = {"all_threads": matmul_rate(None), "one_thread": matmul_rate(1)}
    print(
        f"\nfloat64 matmul (2048^2): {rates['all_threads']:.1f} GFLOP/s with all BLAS threads, "
        f"{rates['one_thread']:.1f} with one"
    )
    header = (
        f"{'32x32 grid, M=2, width r':<36}{'s':>9}{'GFLOP':>9}{'GF/s':>8}"
        f"{'%mm all':>9}{'%mm 1t':>9}{'gram':>7}{'fall':>6}"
    )
    print(header)
    print("-" * len(header))
    tree = dt.ModeTree.grid(shape, window=(2, 2))
    partitions = {
        "top/bottom": block(shape, (0, 0), (16, 32)),
        "left/right": left_right(shape),
        "interleaved": interleaved_2d(shape),
        "random balanced": random_partition(32 * 32, seed=0),
    }
    for r in (int(x) for x in args.breadths.split(",")):
        tt = dt.TreeTensor.random(tree, 2, r, seed=0)
        for name, part in partitions.items():
            rows.append(at_scale(tt, part, f"r={r} {name}", max(args.repeat, 5), rates))
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    meta = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": 2,
        "matmul_gflops": rates,
    }
    (out / "schmidt.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(f"\nwritten to {out / 'schmidt.json'}")


if __name__ == "__main__":
    main()
