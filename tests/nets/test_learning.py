"""A deep ConvAC learns real data: scikit-learn's digits, fixed 80/20 split."""

from __future__ import annotations

import torch

import dltheory as dt
from dltheory.nets.presets import DIGITS_TRAINING, digits_net


def test_deep_convac_reaches_95_percent_on_digits_within_two_minutes() -> None:
    data = dt.data.load_digits()
    torch.manual_seed(0)
    result = dt.train(
        digits_net("product", seed=0),
        data,
        seed=0,
        progress=False,
        time_limit=120,
        **DIGITS_TRAINING,
    )
    assert result.stopped is None, result.stopped  # finished all epochs inside 2 minutes
    assert result.final_test_acc >= 0.95
    assert result.history[-1]["train_acc"] > result.history[0]["train_acc"]
