"""The synthetic range tasks: labels by construction, balance, determinism, refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dltheory.data import load_range_task
from dltheory.data.ranges import match_count, palindrome_count


def _tokens(ds: object, part: str = "train") -> np.ndarray:
    x = getattr(ds, f"x_{part}")
    return x[:, :, 0].numpy().astype(np.int64)


def test_local_labels_are_the_majority_of_palindromic_blocks() -> None:
    ds = load_range_task("local", n=64, num_train=600, num_test=200, seed=3)
    for part in ("train", "test"):
        x, y = _tokens(ds, part), getattr(ds, f"y_{part}").numpy()
        count = palindrome_count(x, 8)
        assert np.array_equal(y, (count > 4).astype(np.int64))
        assert not np.any(count == 4)  # ties dropped
        assert y.mean() == 0.5
    assert set(np.unique(_tokens(ds))) == {0, 1}


def test_local_label_survives_any_permutation_of_blocks() -> None:
    ds = load_range_task("local", n=32, num_train=200, num_test=2, seed=1)
    x = _tokens(ds)
    blocks = x.reshape(len(x), 4, 8)[:, [2, 0, 3, 1]].reshape(len(x), 32)
    assert np.array_equal(palindrome_count(blocks, 8), palindrome_count(x, 8))


def test_palindrome_count_by_hand() -> None:
    x = np.array([[0, 1, 1, 0, 1, 1, 1, 0], [1, 0, 0, 1, 0, 0, 0, 0]])
    assert palindrome_count(x, 4).tolist() == [1, 2]
    assert palindrome_count(x, 8).tolist() == [0, 0]


def test_long_labels_are_the_copied_block() -> None:
    ds = load_range_task("long", n=64, num_train=400, num_test=100, seed=5)
    x, y = _tokens(ds), ds.y_train.numpy()
    copied = np.all(x[:, :8] == x[:, 32:40], axis=1)
    assert np.array_equal(y.astype(bool), copied)
    assert np.array_equal(match_count(x, 8), copied.astype(np.int64))
    assert y.mean() == 0.5
    outside = np.r_[8:32, 40:64]
    assert not x[:, outside].any()  # the default background: token 0 outside the two blocks
    noisy = load_range_task("long", n=64, num_train=400, num_test=100, seed=5, background="noise")
    xn = _tokens(noisy)
    assert np.array_equal(noisy.y_train.numpy().astype(bool), match_count(xn, 8) == 1)
    rest = np.mean(xn[:, 8:32] == xn[:, 40:64])  # noise: positions agree about half the time
    assert 0.45 < rest < 0.55


def test_same_seed_same_data_other_seed_other_data() -> None:
    a = load_range_task("long", n=16, num_train=20, num_test=4, seed=7, block=4)
    b = load_range_task("long", n=16, num_train=20, num_test=4, seed=7, block=4)
    c = load_range_task("long", n=16, num_train=20, num_test=4, seed=8, block=4)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    assert not torch.equal(a.x_train, c.x_train)
    assert a.x_train.dtype == torch.float32 and a.y_train.dtype == torch.int64
    assert tuple(a.x_test.shape) == (4, 16, 1)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"task": "global"}, "task"),
        ({"n": 60}, "n"),  # not a multiple of block 8
        ({"n": 4}, "n"),
        ({"block": 3, "n": 12}, "block"),
        ({"block": 16, "n": 16}, "block"),  # one block only
        ({"num_train": 11}, "num_train"),
        ({"num_test": 0}, "num_test"),
        ({"num_train": 10**9}, "num_train"),
        ({"seed": -1}, "seed"),
        ({"n": True}, "n"),
        ({"num_test": 2.0}, "num_test"),
        ({"background": "ones"}, "background"),
    ],
)
def test_bad_arguments_are_refused_by_name(kwargs: dict, name: str) -> None:
    args = {"task": "local", "n": 64, "num_train": 10, "num_test": 10, "seed": 0, **kwargs}
    with pytest.raises((TypeError, ValueError), match=name):
        load_range_task(**args)
