"""Training throughput of the log-space ConvAC against a same-shape ReLU + average-pooling ConvNet.

Run: ``python benchmarks/bench_convac.py [--width 32] [--batch 64] [--steps 20]``.

Both networks see 32x32 inputs with 3 channels and have the same layers: a 1x1
convolution to ``width`` channels, then five times (2x2 pooling, 1x1
convolution), the last convolution to 10 outputs.  The peer is plain PyTorch
(``nn.Conv2d`` + ``nn.ReLU`` + ``nn.AvgPool2d``); the ConvAC is
``dltheory.ConvAC`` over ``ModeTree.grid((32, 32))`` with product pooling in
log-space (signed weights, and the positive-weight variant).  One training step
= forward + cross-entropy + backward + Adam step.  Reported: images/s (best of
3 rounds) and the ratio to the nn.Conv2d peer, plus (``--profile``) where the
signed ConvAC's time goes.  ``dltheory``'s own ReLU + average-pooling variant
(the same module with ``pooling="average"``) is listed too: it is the fastest
same-shape ReLU network here, and the honest reference for the log-space cost.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

import dltheory as dt


def peer(width: int, levels: int = 5) -> nn.Module:
    layers: list[nn.Module] = [nn.Conv2d(3, width, 1), nn.ReLU()]
    for _ in range(levels - 1):
        layers += [nn.AvgPool2d(2), nn.Conv2d(width, width, 1), nn.ReLU()]
    layers += [nn.AvgPool2d(2), nn.Conv2d(width, 10, 1), nn.Flatten()]
    return nn.Sequential(*layers)


def throughput(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int) -> float:
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    best = 0.0
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(steps):
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        best = max(best, steps * x.shape[0] / (time.perf_counter() - t0))
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--profile", action="store_true", help="print the ConvAC's top operators")
    args = ap.parse_args()
    torch.manual_seed(0)
    x = torch.randn(args.batch, 3, 32, 32)
    y = torch.randint(0, 10, (args.batch,))
    tree = dt.ModeTree.grid((32, 32), window=(2, 2))
    nets: dict[str, nn.Module] = {
        "relu+avgpool (nn.Conv2d peer)": peer(args.width),
        "relu+avgpool (nn.Conv2d, channels_last)": peer(args.width).to(
            memory_format=torch.channels_last
        ),
        "ConvAC signed (log-space)": dt.ConvAC(tree, 3, args.width, 10, shared=True),
        "ConvAC positive (logsumexp)": dt.ConvAC(
            tree,
            3,
            args.width,
            10,
            shared=True,
            positive=True,
            representation="affine",
            num_features=3,
            representation_activation="sigmoid",
        ),
        "ConvAC relu+avg (dltheory)": dt.ConvAC(
            tree, 3, args.width, 10, shared=True, pooling="average"
        ),
    }
    rows: list[dict[str, Any]] = []
    base = None
    print(f"{'network':<40}{'images/s':>10}{'ratio':>8}")
    for name, net in nets.items():
        xin = x.to(memory_format=torch.channels_last) if "channels_last" in name else x
        ips = throughput(net, xin, y, args.steps)
        base = base or ips
        rows.append({"network": name, "images_per_s": ips, "ratio_to_peer": ips / base})
        print(f"{name:<40}{ips:>10.0f}{ips / base:>8.2f}")
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        net = nets["ConvAC signed (log-space)"]
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(5):
                nn.functional.cross_entropy(net(x), y).backward()
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "convac_throughput.json").write_text(
        json.dumps({"args": vars(args), "threads": torch.get_num_threads(), "rows": rows}, indent=2)
    )


if __name__ == "__main__":
    main()
