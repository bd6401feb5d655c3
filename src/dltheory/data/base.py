"""The :class:`Dataset` container and the checks shared by every loader.

A data set is held whole in memory as torch tensors (the data sets of this
project are small: thousands of examples), already split into a training and
a test part.  Inputs are ``float32`` with shape ``(n, *input_shape)``; labels
are ``int64`` class indices ``0 .. num_classes - 1``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..validation import MAX_ENTRIES, check_array, check_float, check_int, describe

__all__ = ["MAX_CLASSES", "Dataset", "check_finite"]

#: Most classes a :class:`Dataset` may have: a classifier's output layer has
#: ``num_classes`` entries per example, so more than the entries one call may
#: allocate (:data:`dltheory.validation.MAX_ENTRIES`) cannot be trained on.
MAX_CLASSES = MAX_ENTRIES


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
        Number of classes, ``1 <= num_classes <=`` :data:`MAX_CLASSES`.
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
        for field in ("name", "source"):
            value = getattr(self, field)
            if not isinstance(value, str):
                raise TypeError(f"{field}: expected a str, got {describe(value)}")
        k = check_int(
            self.num_classes,
            "num_classes",
            minimum=1,
            maximum=MAX_CLASSES,
            fix="the number of classes, labels 0 .. num_classes - 1",
        )
        object.__setattr__(self, "num_classes", k)  # a Python int (np.int64 welcome)
        for part in ("train", "test"):
            x = getattr(self, f"x_{part}")
            y = getattr(self, f"y_{part}")
            if not isinstance(x, torch.Tensor) or not x.is_floating_point():
                raise TypeError(f"x_{part}: expected a floating-point tensor, got {describe(x)}")
            if not isinstance(y, torch.Tensor) or y.dtype != torch.int64:
                raise TypeError(f"y_{part}: expected an int64 tensor of labels, got {describe(y)}")
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
    """Raise unless every entry of ``x`` is finite, saying how many are not.

    The kind of ``x`` is checked by :func:`dltheory.validation.check_array`
    (a real NumPy array or torch tensor); this adds the count of bad entries,
    which :func:`dltheory.train.train` reports for a data set.

    Parameters
    ----------
    x : torch.Tensor or ndarray
        The values to check (real; integers are always finite).
    name : str
        The argument name used in the message.

    Raises
    ------
    TypeError
        If ``x`` is not a real numeric array or tensor (complex, boolean,
        strings, a list).
    ValueError
        ``"<name>: contains NaN or infinite values ..."`` if any entry is NaN
        or +-inf.
    """
    check_array(x, name, finite=False)
    t = torch.as_tensor(x)
    if not t.is_floating_point():
        return  # integers are always finite
    bad = ~torch.isfinite(t)
    if bool(bad.any()):
        n_nan = int(torch.isnan(t).sum())
        n_bad = int(bad.sum())
        raise ValueError(
            f"{name}: contains NaN or infinite values ({n_nan} NaN, {n_bad - n_nan} infinite "
            f"of {t.numel()} entries)"
        )


# ------------------------------------------------------------- shared checks
_FRACTION_FIX = "the share of the examples put in the test set, strictly between 0 and 1 (e.g. 0.2)"


def _test_fraction(value: Any) -> float:
    """``test_fraction`` as a float in the open interval ``(0, 1)``."""
    return check_float(
        value,
        "test_fraction",
        minimum=0.0,
        maximum=1.0,
        exclusive_minimum=True,
        exclusive_maximum=True,
        fix=_FRACTION_FIX,
    )


#: NumPy's legacy generators (``np.random.seed``, ``RandomState``) take 32-bit seeds.
_LEGACY_SEEDS = 2**32


def _legacy_seed(seed: int) -> int:
    """A 32-bit seed for NumPy's legacy generators, from a seed in ``[0, 2**63)``.

    Seeds below ``2**32`` are used as they are (the splits and data of every
    seed used so far are unchanged); larger ones are hashed to 32 bits by
    :class:`numpy.random.SeedSequence`.
    """
    if seed < _LEGACY_SEEDS:
        return seed
    return int(np.random.SeedSequence(seed).generate_state(1, np.uint32)[0])


def _stratified_split(
    y: np.ndarray[Any, Any], test_fraction: float, seed: int, num_classes: int
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Indices ``(train, test)`` of a seeded stratified split of labels ``y``.

    ``seed`` is a checked seed in ``[0, 2**63)`` (see :func:`_legacy_seed`).
    """
    from sklearn.model_selection import train_test_split

    n = len(y)
    n_test = math.ceil(test_fraction * n)  # the sizes train_test_split uses
    n_train = n - n_test
    if min(n_train, n_test) < num_classes:
        raise ValueError(
            f"test_fraction: expected a fraction that leaves at least one example per class "
            f"({num_classes}) in each part, got {test_fraction} ({n_train} train and {n_test} "
            f"test of {n} examples); a stratified split needs every class in both parts"
        )
    idx_train, idx_test = train_test_split(
        np.arange(n),
        test_size=n_test,
        random_state=_legacy_seed(seed),
        shuffle=True,
        stratify=y,
    )
    return np.asarray(idx_train), np.asarray(idx_test)
