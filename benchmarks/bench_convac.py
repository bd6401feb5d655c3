"""Training throughput of the ConvAC against a same-shape ReLU + average-pooling ConvNet.

Run: ``python benchmarks/bench_convac.py [--widths 32,128] [--threads 1] [--profile]``.

Part 1 (``--widths``): every network sees 32x32 inputs with 3 channels and has
the same layers: a 1x1 convolution to ``width`` channels, then five times
(2x2 pooling, 1x1 convolution), the last convolution to 10 outputs.  The peer
is plain PyTorch (``nn.Conv2d`` + ``nn.ReLU`` + ``nn.AvgPool2d``, also in
``channels_last`` layout, the reference of every ratio); the ConvACs are
``dltheory.ConvAC`` over ``ModeTree.grid((32, 32))`` with product pooling:
signed weights (identity representation) and positive weights ``exp(theta)``
(affine + sigmoid representation), each in the linear-space scaled route that
training uses and in the former log-space route (``_run_log_space``, measured
in the same run so that before/after compare on one machine load).
``dltheory``'s own ReLU + average-pooling variant is listed too.

Part 2 (``--breadths``): the ICLR'17 pooling-geometry experiment's network:
positive ConvAC, one-hot representation (M = 2) of 1-channel binary 32x32
images, five 2x2 levels of equal breadth, 2 outputs; with the projected wall
time of one 15,000-iteration training (batch 64, one thread, from the CPU
time per step) per breadth, and the ReLU baselines of the experiment (bias,
Xavier init); ``--shallow`` adds the shallow baselines (one hidden layer over a
flat 1024-leaf tree).

One training step = forward + cross-entropy + backward + Adam step.  The
networks of one part are timed round-robin (``--rounds`` rounds of ``--steps``
steps each, best round kept), so a load change on a shared machine hits all of
them alike; the ratios are taken on the process's CPU time, which other
processes on the same cores do not inflate (wall-clock figures are printed
beside them).  ``--profile`` prints where the ConvACs' time goes (scaled and
log-space) and the peer's.
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

#: Adam iterations of one training in the experiment.
ITERATIONS = 15_000


def peer(width: int, levels: int = 5, in_channels: int = 3, out_dim: int = 10) -> nn.Module:
    layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 1), nn.ReLU()]
    for _ in range(levels - 1):
        layers += [nn.AvgPool2d(2), nn.Conv2d(width, width, 1), nn.ReLU()]
    layers += [nn.AvgPool2d(2), nn.Conv2d(width, out_dim, 1), nn.Flatten()]
    return nn.Sequential(*layers)


class LogSpace(nn.Module):
    """A ConvAC trained through its former route (``_run_log_space``: positions last, depth-first
    order, product pooling in log-space), measured beside the new one."""

    def __init__(self, net: dt.ConvAC) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        val, sign = self.net._run_log_space(x)
        if sign is None or self.net.positive:
            return val
        return self.net.logit_scale * sign * torch.exp(val - val.amax(dim=1, keepdim=True))


Entry = tuple[nn.Module, torch.Tensor]


def time_round_robin(
    entries: dict[str, Entry], y: torch.Tensor, steps: int, rounds: int
) -> dict[str, tuple[float, float, float]]:
    """Images/s of each network over ``rounds`` interleaved rounds of ``steps`` Adam steps.

    Returns ``(best per CPU second, median per CPU second, best per wall
    second)``: the process's CPU time (``time.process_time``, user + system)
    does not count the time other processes hold the cores, so on a shared
    machine its ratios are the steady ones; with one thread it is the wall time
    of an idle machine.  The median shows how much a network suffers from the
    other processes' memory traffic between its best rounds.
    """
    opts = {k: torch.optim.Adam(m.parameters(), lr=1e-3) for k, (m, _) in entries.items()}
    cpu: dict[str, list[float]] = {k: [] for k in entries}
    wall: dict[str, list[float]] = {k: [] for k in entries}
    for r in range(rounds + 1):  # round 0 warms up
        for name, (model, x) in entries.items():
            c0, t0 = time.process_time(), time.perf_counter()
            for _ in range(steps if r else 2):
                loss = nn.functional.cross_entropy(model(x), y)
                opts[name].zero_grad()
                loss.backward()
                opts[name].step()
            if r:
                cpu[name].append(steps * x.shape[0] / max(time.process_time() - c0, 1e-9))
                wall[name].append(steps * x.shape[0] / (time.perf_counter() - t0))
    return {k: (max(cpu[k]), statistics.median(cpu[k]), max(wall[k])) for k in entries}


def part_widths(width: int, batch: int) -> tuple[dict[str, Entry], torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 3, 32, 32, generator=g)
    y = torch.randint(0, 10, (batch,), generator=g)
    tree = dt.ModeTree.grid((32, 32), window=(2, 2))
    positive: dict[str, Any] = {
        "positive": True,
        "representation": "affine",
        "num_features": 3,
        "representation_activation": "sigmoid",
    }
    xc = x.to(memory_format=torch.channels_last)
    entries: dict[str, Entry] = {
        "relu+avgpool (nn.Conv2d, channels_last)": (
            peer(width).to(memory_format=torch.channels_last),
            xc,
        ),
        "relu+avgpool (nn.Conv2d)": (peer(width), x),
        "ConvAC signed (scaled)": (dt.ConvAC(tree, 3, width, 10, shared=True), x),
        "ConvAC positive (scaled)": (dt.ConvAC(tree, 3, width, 10, shared=True, **positive), x),
        "ConvAC signed (log-space, before)": (
            LogSpace(dt.ConvAC(tree, 3, width, 10, shared=True)),
            x,
        ),
        "ConvAC positive (log-space, before)": (
            LogSpace(dt.ConvAC(tree, 3, width, 10, shared=True, **positive)),
            x,
        ),
        "ConvAC relu+avg (dltheory)": (
            dt.ConvAC(tree, 3, width, 10, shared=True, pooling="average"),
            x,
        ),
    }
    return entries, y


def part_experiment(
    breadth: int, batch: int, shallow: bool = False, before: bool = True
) -> tuple[dict[str, Entry], torch.Tensor]:
    """The experiment's deep nets (five 2x2 levels of ``breadth``) or shallow ones (one
    hidden layer of ``breadth`` channels pooled over all 1024 pixels)."""
    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, 2, (batch, 1, 32, 32), generator=g).float()
    y = torch.randint(0, 2, (batch,), generator=g)
    tree = dt.ModeTree.flat(1024) if shallow else dt.ModeTree.grid((32, 32), window=(2, 2))
    if shallow:
        x = x.flatten(2).transpose(1, 2)  # (batch, 1024, 1): a flat tree takes sequences
    common: dict[str, Any] = {"representation": "one-hot", "num_features": 2, "shared": True}

    def convac() -> dt.ConvAC:
        net = dt.ConvAC(tree, 1, [breadth] * tree.depth, 2, positive=True, **common)
        with torch.no_grad():  # the authors' initialization: log-weights U(-1, 1)
            for w in net.weights:
                w.uniform_(-1.0, 1.0, generator=g)
        return net

    def relu(pooling: str) -> dt.ConvAC:
        return dt.ConvAC(
            tree,
            1,
            [breadth] * tree.depth,
            2,
            pooling=pooling,  # type: ignore[arg-type]
            bias=True,
            init="xavier",
            **common,
        )

    entries: dict[str, Entry] = {"ConvAC positive one-hot (scaled)": (convac(), x)}
    if before:
        entries["ConvAC positive one-hot (log-space, before)"] = (LogSpace(convac()), x)
    for pooling in ("average", "max"):
        short = {"average": "avg", "max": "max"}[pooling]
        entries[f"relu+{short} one-hot (dltheory, bias, xavier)"] = (relu(pooling), x)
        if before:
            entries[f"relu+{short} one-hot (former route, before)"] = (
                LogSpace(relu(pooling)),
                x,
            )
    return entries, y


def profile(label: str, call: Callable[[], torch.Tensor], y: torch.Tensor) -> None:
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    for _ in range(2):
        nn.functional.cross_entropy(call(), y).backward()
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(5):
            nn.functional.cross_entropy(call(), y).backward()
    print(f"\n--- {label}: forward + backward, 5 steps")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--widths", default="32,128", help="breadths of part 1 (comma-separated)")
    ap.add_argument("--breadths", default="8,16,32,64,128", help="breadths of part 2 ('' skips)")
    ap.add_argument("--shallow", default="64,4096", help="widths of part 2's shallow nets")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=8, help="Adam steps per timed round")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the experiment: 1)")
    ap.add_argument("--profile", action="store_true", help="print where the time goes")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows: list[dict[str, Any]] = []
    ref_name = "relu+avgpool (nn.Conv2d, channels_last)"
    for width in [int(w) for w in args.widths.split(",") if w]:
        entries, y = part_widths(width, args.batch)
        ips = time_round_robin(entries, y, args.steps, args.rounds)
        base = ips[ref_name]
        print(f"\nwidth {width}, batch {args.batch}, {args.threads} thread(s); ratios to "
              "the channels_last peer (best rounds, median rounds, best wall-clock)")  # fmt: skip
        print(f"{'network':<44}{'img/cpu-s':>10}{'ratio':>7}{'median':>8}{'img/wall-s':>11}"
              f"{'ratio':>7}")  # fmt: skip
        for name, (cpu, med, wall) in ips.items():
            rows.append(
                {"part": "widths", "width": width, "network": name, "images_per_cpu_s": cpu,
                 "median_images_per_cpu_s": med, "images_per_wall_s": wall,
                 "ratio_to_channels_last_peer": cpu / base[0],
                 "median_ratio_to_channels_last_peer": med / base[1],
                 "wall_ratio_to_channels_last_peer": wall / base[2]}
            )  # fmt: skip
            print(f"{name:<44}{cpu:>10.0f}{cpu / base[0]:>7.2f}{med / base[1]:>8.2f}"
                  f"{wall:>11.0f}{wall / base[2]:>7.2f}")  # fmt: skip
        if args.profile:
            for name in ("ConvAC signed (scaled)", "ConvAC positive (scaled)",
                         "ConvAC signed (log-space, before)", ref_name):  # fmt: skip
                model, xin = entries[name]
                profile(f"{name}, width {width}", lambda m=model, v=xin: m(v), y)
    sizes = [(int(b), False) for b in args.breadths.split(",") if b]
    sizes += [(int(w), True) for w in args.shallow.split(",") if w]
    if sizes:
        print(f"\nICLR'17 experiment networks (one-hot M = 2, 1x32x32 binary, out 2), "
              f"{args.threads} thread(s); projected time of {ITERATIONS} iterations")  # fmt: skip
        print(f"{'network':<54}{'breadth':>8}{'img/cpu-s':>10}{'img/wall-s':>11}{'15k its':>10}")
    for b, shallow in sizes:
        # the former route takes seconds per step for wide shallow nets: timed up to 256
        entries, y = part_experiment(b, args.batch, shallow, before=not shallow or b <= 256)
        ips = time_round_robin(entries, y, args.steps, args.rounds)
        for name, (cpu, _, wall) in ips.items():
            seconds = ITERATIONS * args.batch / cpu
            label = f"{name} shallow" if shallow else name
            rows.append(
                {"part": "experiment", "depth": "shallow" if shallow else "deep", "breadth": b,
                 "network": name, "images_per_cpu_s": cpu, "images_per_wall_s": wall,
                 "projected_training_s": seconds}
            )  # fmt: skip
            print(f"{label:<54}{b:>8}{cpu:>10.0f}{wall:>11.0f}{seconds / 60:>6.1f} min")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "convac_throughput.json").write_text(
        json.dumps({"args": vars(args), "threads": torch.get_num_threads(), "rows": rows}, indent=2)
    )


if __name__ == "__main__":
    main()
