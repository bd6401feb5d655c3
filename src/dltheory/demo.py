"""A short tour of the exact expressiveness analysis: ``python -m dltheory.demo``.

This is the main job until the lab (``dltheory reproduce``) exists.  Every
number is computed here, now; nothing is hard-coded.
"""

from __future__ import annotations

import math
import time

import dltheory as dt
from dltheory.analysis import block, interleaved_2d, left_right, odd_even

__all__ = ["main"]


def _section(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 70 - len(title)))


def main() -> int:
    """Run the tour; returns a process exit code (1 if a checked statement fails)."""
    failures = 0

    _section("Mode trees (pooling geometries)")
    for tree in (
        dt.ModeTree.balanced(8),
        dt.ModeTree.dilated(8, [4, 2, 1]),
        dt.ModeTree.grid((4, 4), window=(2, 2), geometry="mirror"),
    ):
        print(tree.draw(max_lines=9))

    _section("Depth efficiency, certified (Cohen-Sharir-Shashua COLT'16)")
    tree = dt.ModeTree.balanced(16)
    part = odd_even(16)
    cut = dt.min_cut(tree, 2, part, in_dim=2)
    ranks = [
        dt.TreeTensor.random(tree, 2, 2, seed=s, integer=True).matricization_rank(part, "modular")
        for s in range(20)
    ]
    ok = all(r == cut.value == 2**8 for r in ranks)
    failures += not ok
    print(f"deep net, N=16, M=r=2, odd/even, 20 integer seeds: modular ranks {set(ranks)}")
    print(f"min cut {cut.value} -> rank proven = {2**8}: {'yes' if ok else 'NO'}")
    shallow = dt.TreeTensor.random(dt.ModeTree.flat(16), 2, 10, seed=0, integer=True)
    r_shallow = shallow.matricization_rank(part, "modular")
    failures += r_shallow > 10
    print(f"shallow (CP) net of width 10, same partition: rank {r_shallow} (<= 10)")
    deep = dt.TreeTensor.random(tree, 2, 2, seed=0)
    print(
        f"parameters: deep {deep.num_params}, shallow of width 256 "
        f"{dt.TreeTensor.random(dt.ModeTree.flat(16), 2, 256, seed=0).num_params}, "
        f"dense tensor {2**16}"
    )

    _section("Pooling geometry on an 8x8 grid (Cohen-Shashua ICLR'17): min cuts")
    shape = (8, 8)
    parts = {"left/right": left_right(shape), "interleaved": interleaved_2d(shape)}
    for geometry in ("square", "mirror"):
        g = dt.ModeTree.grid(shape, window=(2, 2), geometry=geometry)
        cuts = {name: dt.min_cut(g, 4, p, in_dim=2).value for name, p in parts.items()}
        print(f"{geometry:>6} pooling, width 4: " + ", ".join(f"{k} {v}" for k, v in cuts.items()))

    _section("Scale: 32x32 grid, N = 1024 positions, M = 2, widths 8")
    shape = (32, 32)
    big = dt.TreeTensor.random(dt.ModeTree.grid(shape, window=(2, 2)), 2, 8, seed=0)
    cases = {"left/right": left_right(shape), "4x4 corner": block(shape, (0, 0), (4, 4))}
    for name, p in cases.items():
        t0 = time.perf_counter()
        s = big.schmidt_values(p, normalized=True)
        dt_s = time.perf_counter() - t0
        rank = big.matricization_rank(p)
        bound = big.min_cut(p).value
        failures += rank > bound
        h = dt.entanglement_entropy(s)
        print(
            f"{name:>11}: Schmidt rank {rank} (min cut {bound}), entropy {h:.3f} "
            f"<= log(cut) {math.log(bound):.3f}, geometric measure {dt.geometric_measure(s):.3f}, "
            f"spectrum in {dt_s * 1000:.0f} ms"
        )
    print(f"(the dense tensor would have 2^1024 ~ 10^{1024 * math.log10(2):.0f} entries)")

    _section("Learning: deep ConvAC vs same-shape ReLU net on digits (80/20 split)")
    import torch

    from .nets.presets import DIGITS_TRAINING, digits_net

    data = dt.data.load_digits()
    for pooling, label in (("product", "ConvAC (product pooling)"), ("average", "ReLU + avg pool")):
        torch.manual_seed(0)
        net = digits_net(pooling, seed=0)  # type: ignore[arg-type]
        res = dt.train(net, data, seed=0, progress=False, time_limit=120, **DIGITS_TRAINING)
        print(f"{label:>25}: test accuracy {res.final_test_acc:.4f} in {res.seconds:.1f} s")
        if pooling == "product":
            failures += res.final_test_acc < 0.95

    print("\nall checked statements hold" if not failures else f"\n{failures} FAILED")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
