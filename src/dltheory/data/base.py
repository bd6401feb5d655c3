"""The :class:`Dataset` container and the checks shared by every loader.

A data set is held whole in memory as torch tensors (the data sets of this
project are small: thousands of examples), already split into a training and
a test part.  Inputs are ``float32`` with shape ``(n, *input_shape)``; labels
are ``int64`` class indices ``0 .. num_classes - 1``.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

__all__ = ["Dataset", "check_finite"]


@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """A classification data set split into a training and a test part.

    Parameters
    ----------
    name : str
        Short name, e.g. ``"digits"``.
    x_train, x_test : torch.Tensor
        Inputs, floating point, shape ``(n_train, *input_shape)`` and
        ``(n_test, *input_shape)``.
    y_train, y_test : torch.Tensor
        Labels, ``int64``, shape ``(n_train,)`` and ``(n_test,)``, with values
        in ``0 .. num_classes - 1``.
    num_classes : int
        Number of classes.
    source : str
        One line saying where the data comes from.

    Notes
    -----
    The container is frozen (fields cannot be reassigned) but the tensors are
    ordinary tensors; loaders return fresh ones on every call, so modifying
    them in place does not affect later calls.  Shapes, dtypes and the label
    range are checked on construction; finiteness is not (it costs a pass over
    the data): :func:`dltheory.train.train` checks it with :func:`check_finite`.

    Examples
    --------
    >>> import torch
    >>> ds = Dataset("toy", torch.zeros(4, 3), torch.tensor([0, 1, 0, 1]),
    ...              torch.zeros(2, 3), torch.tensor([1, 0]), 2, "made up")
    >>> ds.input_shape, ds.num_train, ds.num_test
    ((3,), 4, 2)
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    source: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise TypeError(f"name: expected a str, got {type(self.name).__name__}")
        if not isinstance(self.source, str):
            raise TypeError(f"source: expected a str, got {type(self.source).__name__}")
        k = self.num_classes
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            raise TypeError(f"num_classes: expected an int, got {k!r}")
        if k < 1:
            raise ValueError(f"num_classes: must be >= 1, got {k}")
        for part in ("train", "test"):
            x = getattr(self, f"x_{part}")
            y = getattr(self, f"y_{part}")
            if not isinstance(x, torch.Tensor):
                raise TypeError(f"x_{part}: expected a torch.Tensor, got {type(x).__name__}")
            if not isinstance(y, torch.Tensor):
                raise TypeError(f"y_{part}: expected a torch.Tensor, got {type(y).__name__}")
            if not x.is_floating_point():
                raise TypeError(f"x_{part}: expected a floating-point tensor, got {x.dtype}")
            if y.dtype != torch.int64:
                raise TypeError(f"y_{part}: expected an int64 tensor of labels, got {y.dtype}")
            if x.ndim < 1 or x.shape[0] == 0:
                raise ValueError(
                    f"x_{part}: expected a non-empty batch, got shape {tuple(x.shape)}"
                )
            if y.shape != (x.shape[0],):
                raise ValueError(
                    f"y_{part}: expected shape ({x.shape[0]},) to match x_{part}, "
                    f"got {tuple(y.shape)}"
                )
            lo, hi = int(y.min()), int(y.max())
            if lo < 0 or hi >= k:
                raise ValueError(
                    f"y_{part}: labels must lie in 0 .. {k - 1} (num_classes={k}), "
                    f"found {lo} .. {hi}"
                )
        if self.x_train.shape[1:] != self.x_test.shape[1:]:
            raise ValueError(
                f"x_test: example shape {tuple(self.x_test.shape[1:])} differs from "
                f"x_train's {tuple(self.x_train.shape[1:])}"
            )

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one example, e.g. ``(1, 8, 8)``."""
        return tuple(self.x_train.shape[1:])

    @property
    def num_train(self) -> int:
        """Number of training examples."""
        return int(self.x_train.shape[0])

    @property
    def num_test(self) -> int:
        """Number of test examples."""
        return int(self.x_test.shape[0])

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, train={self.num_train}, test={self.num_test}, "
            f"input_shape={self.input_shape}, num_classes={self.num_classes})"
        )


def check_finite(x: torch.Tensor | np.ndarray[Any, Any], name: str) -> None:
    """Raise unless every entry of ``x`` is finite.

    Parameters
    ----------
    x : torch.Tensor or ndarray
        The values to check.
    name : str
        The argument name used in the message.

    Raises
    ------
    ValueError
        ``"<name>: contains NaN or infinite values ..."`` if any entry is NaN
        or +-inf.
    """
    t = torch.as_tensor(x)
    if not (t.is_floating_point() or t.is_complex()):
        return  # integers and booleans are always finite
    bad = ~torch.isfinite(t)
    if bool(bad.any()):
        n_nan = int(torch.isnan(t).sum())
        n_bad = int(bad.sum())
        raise ValueError(
            f"{name}: contains NaN or infinite values ({n_nan} NaN, {n_bad - n_nan} infinite "
            f"of {t.numel()} entries)"
        )


# ------------------------------------------------------------- shared checks
def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed: expected an int, got {seed!r}")
    if not (0 <= seed < 2**32):
        raise ValueError(f"seed: must lie in 0 .. 2**32 - 1 (a NumPy seed), got {seed}")
    return int(seed)


def _check_test_fraction(test_fraction: Any) -> float:
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, numbers.Real):
        raise TypeError(f"test_fraction: expected a float in (0, 1), got {test_fraction!r}")
    f = float(test_fraction)
    if not (0.0 < f < 1.0):
        raise ValueError(f"test_fraction: must lie strictly between 0 and 1, got {test_fraction}")
    return f


def _stratified_split(
    y: np.ndarray[Any, Any], test_fraction: float, seed: int, num_classes: int
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Indices ``(train, test)`` of a seeded stratified split of labels ``y``."""
    from sklearn.model_selection import train_test_split

    n = len(y)
    n_test = math.ceil(test_fraction * n)  # the sizes train_test_split uses
    n_train = n - n_test
    if min(n_train, n_test) < num_classes:
        raise ValueError(
            f"test_fraction: {test_fraction} of {n} examples gives {n_train} train and "
            f"{n_test} test examples; a stratified split needs at least one example "
            f"per class ({num_classes}) in each part"
        )
    idx_train, idx_test = train_test_split(
        np.arange(n), test_size=n_test, random_state=seed, shuffle=True, stratify=y
    )
    return np.asarray(idx_train), np.asarray(idx_test)
