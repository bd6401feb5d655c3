from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest
import torch
from sklearn import datasets as skdatasets

from dltheory.data import Dataset, check_finite, load_digits, load_mnist1d
from dltheory.data import mnist_1d as mnist_1d_module


def _rows(x: torch.Tensor) -> list[tuple[float, ...]]:
    return sorted(map(tuple, x.reshape(x.shape[0], -1).tolist()))


# ------------------------------------------------------------------ digits
def test_digits_shapes_dtypes_and_range() -> None:
    ds = load_digits()
    assert ds.name == "digits" and ds.num_classes == 10
    assert ds.x_train.shape == (1437, 1, 8, 8) and ds.x_test.shape == (360, 1, 8, 8)
    assert ds.y_train.shape == (1437,) and ds.y_test.shape == (360,)
    assert ds.input_shape == (1, 8, 8)
    assert ds.x_train.dtype == torch.float32 and ds.y_train.dtype == torch.int64
    both = torch.cat([ds.x_train, ds.x_test])
    assert float(both.min()) == 0.0 and float(both.max()) == 1.0
    # 17 intensity levels 0/16 .. 16/16
    assert torch.equal(torch.unique(both * 16), torch.arange(17, dtype=torch.float32))
    assert "load_digits" in ds.source and "\n" not in ds.source
    assert repr(ds).startswith("Dataset(name='digits', train=1437, test=360")


def test_digits_split_is_a_stratified_partition() -> None:
    bunch = skdatasets.load_digits()
    ds = load_digits(test_fraction=0.25, seed=3)
    assert ds.num_test == int(np.ceil(0.25 * 1797)) and ds.num_train + ds.num_test == 1797
    # train + test is exactly the original data (as a multiset of (image, label) rows)
    ours = torch.cat(
        [
            torch.cat([ds.x_train.flatten(1) * 16, ds.y_train[:, None].float()], 1),
            torch.cat([ds.x_test.flatten(1) * 16, ds.y_test[:, None].float()], 1),
        ]
    )
    orig = torch.as_tensor(np.c_[bunch.data, bunch.target], dtype=torch.float32)
    assert _rows(ours) == _rows(orig)
    # stratified: every class has (up to rounding) a quarter of its examples in the test set
    per_class = np.bincount(bunch.target, minlength=10)
    test_counts = np.bincount(ds.y_test.numpy(), minlength=10)
    assert np.all(np.abs(test_counts - 0.25 * per_class) <= 1)


def test_digits_seeded_and_fresh() -> None:
    a, b, c = load_digits(seed=7), load_digits(seed=7), load_digits(seed=8)
    for field in ("x_train", "y_train", "x_test", "y_test"):
        assert torch.equal(getattr(a, field), getattr(b, field))
    assert not torch.equal(a.y_test, c.y_test)
    a.x_train.zero_()  # in-place edits do not leak into later calls
    assert torch.equal(load_digits(seed=7).x_train, b.x_train)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.num_classes = 3  # type: ignore[misc]


@pytest.mark.parametrize("bad", [0, 1, -0.1, 1.5, float("nan")])
def test_digits_bad_test_fraction(bad: float) -> None:
    with pytest.raises(ValueError, match="^test_fraction: "):
        load_digits(test_fraction=bad)


def test_digits_bad_arguments() -> None:
    with pytest.raises(TypeError, match="^test_fraction: "):
        load_digits(test_fraction="0.2")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="^test_fraction: .*per class"):
        load_digits(test_fraction=0.001)  # 2 test examples for 10 classes
    for bad_seed in (1.5, "0", True, None):
        with pytest.raises(TypeError, match="^seed: "):
            load_digits(seed=bad_seed)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="^seed: "):
        load_digits(seed=-1)
    assert load_digits(seed=np.int64(2)).num_test == 360


# ------------------------------------------------------------------ MNIST-1D
def test_mnist1d_shapes_standardization_balance() -> None:
    ds = load_mnist1d(num_samples=1000)
    assert ds.name == "mnist1d" and ds.num_classes == 10 and "mnist1d" in ds.source
    assert ds.x_train.shape == (800, 40, 1) and ds.x_test.shape == (200, 40, 1)
    assert ds.input_shape == (40, 1)
    assert ds.x_train.dtype == torch.float32 and ds.y_train.dtype == torch.int64
    assert abs(float(ds.x_train.mean())) < 1e-5
    assert abs(float(ds.x_train.double().std(unbiased=False)) - 1.0) < 1e-5
    assert abs(float(ds.x_test.mean())) < 0.2  # same map, held-out data: close, not exact
    assert torch.isfinite(ds.x_test).all()
    assert torch.equal(torch.bincount(ds.y_train), torch.full((10,), 80))
    assert torch.equal(torch.bincount(ds.y_test), torch.full((10,), 20))


def test_mnist1d_deterministic_offline_and_side_effect_free(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import requests

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("load_mnist1d tried to download")

    monkeypatch.setattr(requests, "get", no_network)
    monkeypatch.setattr(requests, "request", no_network)
    mnist_1d_module._generate.cache_clear()
    a = load_mnist1d(seed=5, num_samples=200, test_fraction=0.5)
    np.random.seed(123)  # noqa: NPY002 - the legacy global state is what mnist1d touches
    random.seed(123)
    mnist_1d_module._generate.cache_clear()  # regenerate, not a cache hit
    b = load_mnist1d(seed=5, num_samples=200, test_fraction=0.5)
    # the generator seeds the global RNGs internally; their state is restored
    assert np.random.rand() == np.random.RandomState(123).rand()  # noqa: NPY002
    assert random.random() == random.Random(123).random()
    for field in ("x_train", "y_train", "x_test", "y_test"):
        assert torch.equal(getattr(a, field), getattr(b, field))
    c = load_mnist1d(seed=6, num_samples=200, test_fraction=0.5)
    assert not torch.allclose(a.x_train, c.x_train)
    assert a.num_train == a.num_test == 100


def test_mnist1d_bad_arguments() -> None:
    for bad in (1005, 10, 0):
        with pytest.raises(ValueError, match="^num_samples: "):
            load_mnist1d(num_samples=bad)
    with pytest.raises(TypeError, match="^num_samples: "):
        load_mnist1d(num_samples=100.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="^test_fraction: "):
        load_mnist1d(test_fraction=1.0)
    with pytest.raises(TypeError, match="^seed: "):
        load_mnist1d(seed=0.5)  # type: ignore[arg-type]


# ------------------------------------------------------------ Dataset, checks
def _toy(**changes: object) -> Dataset:
    fields: dict[str, object] = dict(
        name="toy",
        x_train=torch.zeros(4, 3),
        y_train=torch.tensor([0, 1, 2, 1]),
        x_test=torch.zeros(2, 3),
        y_test=torch.tensor([2, 0]),
        num_classes=3,
        source="made up",
    )
    fields.update(changes)
    return Dataset(**fields)  # type: ignore[arg-type]


def test_dataset_validation() -> None:
    ds = _toy()
    assert ds.input_shape == (3,) and ds.num_train == 4 and ds.num_test == 2
    with pytest.raises(TypeError, match="^y_train: expected an int64"):
        _toy(y_train=torch.tensor([0.0, 1.0, 2.0, 1.0]))
    with pytest.raises(TypeError, match="^x_test: expected a floating-point"):
        _toy(x_test=torch.zeros(2, 3, dtype=torch.int64))
    with pytest.raises(ValueError, match="^y_test: labels must lie in 0 .. 2"):
        _toy(y_test=torch.tensor([3, 0]))
    with pytest.raises(ValueError, match="^y_train: expected shape \\(4,\\)"):
        _toy(y_train=torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="^x_test: example shape"):
        _toy(x_test=torch.zeros(2, 4))
    with pytest.raises(ValueError, match="^x_train: expected a non-empty"):
        _toy(x_train=torch.zeros(0, 3), y_train=torch.zeros(0, dtype=torch.int64))
    with pytest.raises(TypeError, match="^num_classes: "):
        _toy(num_classes=3.0)


def test_check_finite() -> None:
    check_finite(torch.randn(5, 5), "x")
    check_finite(np.arange(4), "x")  # integers are always finite
    x = torch.zeros(2, 3)
    x[0, 1] = float("nan")
    x[1, 2] = float("inf")
    with pytest.raises(ValueError, match=r"^x_train: contains NaN or infinite values \(1 NaN, 1"):
        check_finite(x, "x_train")
    with pytest.raises(ValueError, match="^a: contains NaN or infinite values"):
        check_finite(np.array([1.0, -np.inf]), "a")
