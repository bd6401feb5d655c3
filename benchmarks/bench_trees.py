"""Building and using mode trees at sequence lengths: time and peak memory per operation.

Run: ``python benchmarks/bench_trees.py [--sizes 1000,10000,100000]``.

A chain (the tensor-train / recurrent geometry) is the deepest tree over N
positions: N - 1 levels.  Each node's leaves are stored once as a range of the
depth-first leaf order, so memory is linear in N, and every walk is iterative.
Reported per tree: seconds and peak traced memory (``tracemalloc``) to build,
to compare two equal trees (``==``, first call computes the canonical key),
to hash, and to round-trip through ``to_nested`` / ``from_nested``.
``--reference FILE`` times another implementation of ``ModeTree`` (e.g. an
older ``trees.py``) side by side, where it can run.
"""

from __future__ import annotations

import argparse
import importlib.util
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import dltheory as dt


def measure(call: Callable[[], Any], memory: bool = False) -> tuple[float, float, Any]:
    """Seconds of one call (untraced), and with ``memory`` the peak traced MB of a second call."""
    t0 = time.perf_counter()
    try:
        out = call()
    except (RecursionError, MemoryError) as exc:
        out = exc
    seconds = time.perf_counter() - t0
    peak = 0.0
    if memory and not isinstance(out, BaseException):
        tracemalloc.start()
        call()
        peak = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
    return seconds, peak, out


def cases(cls: Any, n: int) -> dict[str, Callable[[], Any]]:
    side = int(round(n**0.5))
    side = 1 << max(1, side.bit_length() - 1)
    return {
        f"chain({n})": lambda: cls.chain(n),
        f"balanced(2^{(n - 1).bit_length()})": lambda: cls.balanced(1 << (n - 1).bit_length()),
        f"grid({side}x{side})": lambda: cls.grid((side, side)),
    }


def run(cls: Any, label: str, sizes: list[int]) -> None:
    print(f"\n{label}")
    head = ("tree", "build s", "build MB", "eq s", "hash s", "nested s")
    print(f"{head[0]:18} {head[1]:>9} {head[2]:>9} {head[3]:>9} {head[4]:>9} {head[5]:>9}")
    for n in sizes:
        for name, build in cases(cls, n).items():
            t_build, mb, tree = measure(build, memory=True)
            if isinstance(tree, BaseException):
                print(f"{name:18} {type(tree).__name__}")
                continue
            other = build()
            t_eq, _, eq = measure(lambda a=tree, b=other: a == b)
            t_hash, _, h = measure(lambda a=tree: hash(a))
            t_nested, _, back = measure(lambda a=tree: cls.from_nested(a.to_nested()))

            def show(t: float, res: Any) -> str:
                return type(res).__name__[:9] if isinstance(res, BaseException) else f"{t:.4f}"

            print(
                f"{name:18} {t_build:>9.4f} {mb:>9.1f} {show(t_eq, eq):>9} {show(t_hash, h):>9} "
                f"{show(t_nested, back):>9}"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--reference", default="", help="a trees.py defining ModeTree to compare")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    run(dt.ModeTree, "dltheory.ModeTree", sizes)
    if args.reference:
        spec = importlib.util.spec_from_file_location("reference_trees", args.reference)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        run(mod.ModeTree, f"reference: {args.reference}", [s for s in sizes if s <= 40000])


if __name__ == "__main__":
    main()
