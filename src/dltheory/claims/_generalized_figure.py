"""The figure of ``generalized-depth-efficiency``: deep-net rank histograms, shallow ranks, span."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ._util import pyplot
from .generalized_depth_efficiency import _bin_counts, _bins, _deep_families

__all__ = ["draw_figure"]


def draw_figure(  # pragma: no mutate block (drawing, not the verdict rule)
    params: Mapping[str, Any], results: list[dict[str, Any]], path: str
) -> None:
    """Per (N, M) the histogram of exact odd/even grid-tensor ranks of random deep nets; the
    shallow nets' ranks vs width; the span of the shallow channels' grid tensors."""
    plt = pyplot()
    fams = _deep_families(results)
    cols = max(2, len(fams))
    fig, axes = plt.subplots(2, cols, figsize=(5.5 * cols, 8), squeeze=False)
    low_exp = float(params["low_exponent"])
    for ax, ((n, m), by_init) in zip(axes[0], fams.items(), strict=False):
        generic = next(iter(by_init.values()))[0]["generic"]
        labels, _ = _bins(generic)
        series = {
            f"ReLU/max, {i}": [d["max"]["rank"] for u in us for d in u["draws"]]
            for i, us in by_init.items()
        }
        series["ReLU/avg, all inits"] = [
            d["average"]["rank"] for us in by_init.values() for u in us for d in u["draws"]
        ]
        series["ConvAC (product), all inits"] = [
            d["product"]["rank"] for us in by_init.values() for u in us for d in u["draws"]
        ]
        k = len(series)
        for j, (name, ranks) in enumerate(series.items()):
            counts = _bin_counts(ranks, generic)
            x = np.arange(len(labels)) + (j - (k - 1) / 2) * 0.8 / k
            color = "0.6" if "avg" in name else "k" if "ConvAC" in name else f"C{j}"
            ax.bar(
                x,
                np.asarray(counts) / max(1, len(ranks)),
                width=0.8 / k,
                color=color,
                label=name,
            )
        cut = _bins(generic)[1].index(
            next(b for b in _bins(generic)[1] if b[1] >= int(generic**low_exp))
        )
        ax.axvline(cut + 0.5, color="r", ls="--", lw=1, label="far below | above")
        ax.set_xticks(np.arange(len(labels)), labels, rotation=45, fontsize=7)
        ax.set_xlabel("exact odd/even grid-tensor rank")
        ax.set_ylabel("fraction of random deep nets")
        ceiling = next(iter(by_init.values()))[0]["shallow_ceiling"]
        ax.set_title(
            f"deep nets, N={n}, M={m}: generic rank {generic},\n"
            f"equal-size shallow ReLU/max ceiling {ceiling}",
            fontsize=9,
        )
        ax.legend(fontsize=7)
    for ax in axes[0][len(fams) :]:
        ax.axis("off")
    sx, px = axes[1][0], axes[1][1]
    shallow = sorted((r for r in results if r["part"] == "shallow"), key=lambda r: r["K"])
    if shallow:
        ks = [r["K"] for r in shallow]
        sx.plot(
            ks,
            [max(d["max"]["rank"] for d in r["draws"]) for r in shallow],
            "o-",
            label="ReLU + max",
        )
        sx.plot(
            ks,
            [max(d["average"]["rank"] for d in r["draws"]) for r in shallow],
            "s-",
            color="0.5",
            label="ReLU + average",
        )
        sx.plot(ks, [r["bound"] for r in shallow], "k:", label="ceiling min(K M N/2, M^(N/2))")
        sx.axhline(shallow[0]["full"], color="r", ls="--", lw=1, label="full rank M^(N/2)")
        sx.set_xscale("log", base=2)
        sx.set_yscale("log", base=2)
        sx.set_xlabel("width K of the shallow net")
        sx.set_ylabel("odd/even grid-tensor rank")
        sx.set_title(f"shallow nets, N={shallow[0]['n']}, M={shallow[0]['m']}", fontsize=9)
        sx.legend(fontsize=7)
    span = sorted((r for r in results if r["part"] == "span"), key=lambda r: r["K"])
    if span:
        ks = [r["K"] for r in span]
        px.plot(ks, [r["max"]["rank"] for r in span], "o-", label="ReLU + max")
        px.plot(ks, [r["average"]["rank"] for r in span], "s-", color="0.5", label="ReLU + average")
        px.axhline(span[0]["grid"], color="r", ls="--", lw=1, label="all grid tensors M^N")
        px.axhline(
            span[0]["additive_dim"],
            color="0.5",
            ls=":",
            lw=1,
            label="sums of one-patch functions 1+N(M-1)",
        )
        px.set_xscale("log", base=2)
        px.set_yscale("log", base=2)
        px.set_xlabel("width K of the shallow net")
        px.set_ylabel("dimension of the span of the K channels' grid tensors")
        px.set_title(f"universality, N={span[0]['n']}, M={span[0]['m']}", fontsize=9)
        px.legend(fontsize=7)
    for ax in axes[1][2:]:
        ax.axis("off")
    fig.suptitle("Generalized depth efficiency (Cohen & Shashua, ICML'16)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
