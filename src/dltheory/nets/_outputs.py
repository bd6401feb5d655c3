"""What the product-pooling networks share at their output: the logit scale, the training
logits and the refusal of NaN outputs (:class:`~dltheory.nets.ConvAC`,
:class:`~dltheory.nets.MixedDilatedNet`).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ..validation import check_float

__all__ = ["MAX_LOGIT_SCALE", "check_logit_scale", "refuse_nan", "row_normalized_logits"]

#: Largest ``logit_scale``: the training logits stay far inside float32's range.
MAX_LOGIT_SCALE = 1e6


def check_logit_scale(value: Any) -> float:
    """``logit_scale`` finite in ``(0, MAX_LOGIT_SCALE]``; an error naming it otherwise."""
    return check_float(
        value,
        "logit_scale",
        minimum=0.0,
        exclusive_minimum=True,
        maximum=MAX_LOGIT_SCALE,
        fix="logit_scale is the largest training logit; values of 1 to 100 are usual",
    )


def row_normalized_logits(u: torch.Tensor, logit_scale: float) -> torch.Tensor:
    """``logit_scale * u / max_y |u_y|`` per row (batch, out_dim).

    ``u`` may carry any positive per-row scale (it cancels), so the logits of a
    product over hundreds of positions are finite and keep the arg-max of ``h``;
    a row that is exactly 0 stays 0 (and passes no gradient), NaN stays NaN.
    """
    m = u.abs().amax(dim=1, keepdim=True)
    m = torch.where(m > 0, m, torch.full_like(m, math.inf))
    return logit_scale * u / m


def refuse_nan(out: torch.Tensor, what: str) -> None:
    """A NaN output comes from non-finite weights: report it (``ValueError`` naming ``what``)."""
    bad = torch.isnan(out).any(dim=-1) if out.dim() > 1 else torch.isnan(out)
    if bool(bad.any()):
        raise ValueError(
            f"{what}: the network's output is NaN for {int(bad.sum())} of {bad.numel()} "
            "inputs, so its weights are not finite (a diverged training?); reinitialize "
            "it or retrain with a lower learning rate"
        )
