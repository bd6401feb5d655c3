"""Per-step cost of ``EndToEnd(depth=N)`` on a plain linear model against the depth-N network.

Run: ``python benchmarks/bench_end_to_end.py [--widths 64,128,256,512] [--depths 2,3,4]``.

The end-to-end rule (Arora, Cohen & Hazan, ICML 2018, Eq. 7) lets a plain
linear model follow the trajectory of gradient descent on a balanced depth-N
linear network of *any* hidden width.  The peer is that network itself:
``dltheory.DeepLinear`` (hidden width ``w``) trained by ``torch.optim.SGD``.
One step = forward + l_2 loss + backward + update, full batch, float32.
Reported: median seconds per step over interleaved blocks, and the ratio
peer / EndToEnd (> 1: the optimizer is cheaper).  Cases:

* ``diabetes``: 442 x 10 -> 1 (scikit-learn's bundled set); the plain model's
  weight is a vector, so EndToEnd uses the closed form (no SVD);
* ``digits``: 1797 x 64 -> 10 one-hot targets (least-squares classifier on the
  bundled digits); EndToEnd does one thin SVD of a 10 x 64 matrix per step;
* ``square``: a synthetic 1024 x w -> w problem, so EndToEnd's SVD is w x w,
  the same size as the network's layers: the least favourable case for it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

import dltheory as dt
from dltheory.claims.end_to_end_optimizer import PlainLinear


def per_step(step: Callable[[], None], blocks: int, per_block: int) -> float:
    for _ in range(5):
        step()
    times = []
    for _ in range(blocks):
        t0 = time.perf_counter()
        for _ in range(per_block):
            step()
        times.append((time.perf_counter() - t0) / per_block)
    return statistics.median(times)


def trainer(
    model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor
) -> Callable[[], None]:
    def step() -> None:
        opt.zero_grad()
        dt.lp_loss(model(x), y, 2.0).backward()
        opt.step()

    return step


def data(case: str, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    if case == "diabetes":
        ds = dt.data.load_regression("diabetes")
        return ds.x.float(), ds.y.float()[:, None]
    if case == "digits":
        from sklearn.datasets import load_digits

        b = load_digits()
        x = torch.as_tensor(b.data, dtype=torch.float32) / 16.0
        y = torch.nn.functional.one_hot(torch.as_tensor(b.target), 10).float()
        return x - x.mean(0), y - y.mean(0)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1024, width, generator=g)
    return x, x @ torch.randn(width, width, generator=g) / width**0.5


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--widths", default="64,128,256,512")
    ap.add_argument("--depths", default="2,3,4")
    ap.add_argument("--cases", default="diabetes,digits,square")
    ap.add_argument("--blocks", type=int, default=7)
    ap.add_argument("--per-block", type=int, default=20)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "end_to_end.json"))
    args = ap.parse_args()
    widths = [int(w) for w in args.widths.split(",")]
    depths = [int(d) for d in args.depths.split(",")]
    rows: list[dict[str, Any]] = []
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, float32, full batch")
    head = ("case", "N", "width", "deep net s/step", "EndToEnd s/step", "ratio")
    print(f"{head[0]:9} {head[1]:>2} {head[2]:>5} {head[3]:>16} {head[4]:>16} {head[5]:>7}")
    for case in args.cases.split(","):
        for n in depths:
            for w in widths:
                x, y = data(case, w)
                net = dt.DeepLinear(x.shape[1], y.shape[1], n, hidden=w, seed=0)
                plain = PlainLinear(net.end_to_end)
                t_deep = per_step(
                    trainer(net, torch.optim.SGD(net.parameters(), lr=1e-4), x, y),
                    args.blocks,
                    args.per_block,
                )
                t_e2e = per_step(
                    trainer(plain, dt.EndToEnd(plain.parameters(), lr=1e-4, depth=n), x, y),
                    args.blocks,
                    args.per_block,
                )
                row = {
                    "case": case,
                    "depth": n,
                    "width": w,
                    "deep_s": t_deep,
                    "end_to_end_s": t_e2e,
                    "ratio": t_deep / t_e2e,
                    "shape": [y.shape[1], x.shape[1]],
                }
                rows.append(row)
                print(f"{case:9} {n:>2} {w:>5} {t_deep:>16.2e} {t_e2e:>16.2e} {row['ratio']:>7.2f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"torch": torch.__version__, "rows": rows}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
