"""scikit-learn's 8x8 handwritten digits (UCI optical recognition data set).

1797 grey-scale images of the digits 0-9, 8x8 pixels with 17 intensity levels.
The data ship inside scikit-learn, so nothing is downloaded.
"""

from __future__ import annotations

import torch

from ..validation import check_seed
from .base import Dataset, _stratified_split, _test_fraction

__all__ = ["load_digits"]

_SOURCE = (
    "sklearn.datasets.load_digits: UCI ML optical recognition of handwritten digits "
    "(8x8, bundled with scikit-learn)"
)


def load_digits(test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """The 8x8 digits as images, with a seeded stratified train/test split.

    Parameters
    ----------
    test_fraction : float, optional
        Fraction of the 1797 examples put in the test set, in ``(0, 1)``.
        The test set has ``ceil(test_fraction * 1797)`` examples.
    seed : int, optional
        Seed of the split, in ``[0, 2**63)``; the same seed gives the same split.

    Returns
    -------
    Dataset
        ``x`` of shape ``(n, 1, 8, 8)`` (one channel), float32, pixels scaled
        from ``0 .. 16`` to ``[0, 1]``; ``y`` int64 in ``0 .. 9``.  Every class
        has the same share of examples in both parts (up to rounding).

    Raises
    ------
    TypeError
        For a ``test_fraction`` that is not a real number or a ``seed`` that
        is not an integer (``True``, ``1.5``, ``"0"``).
    ValueError
        For a ``test_fraction`` outside ``(0, 1)`` or one that leaves a class
        out of a part, or a ``seed`` outside ``[0, 2**63)``.

    Examples
    --------
    >>> ds = load_digits()
    >>> ds.num_train, ds.num_test, ds.input_shape
    (1437, 360, (1, 8, 8))
    """
    f = _test_fraction(test_fraction)
    s = check_seed(seed)
    from sklearn import datasets

    bunch = datasets.load_digits()
    x = torch.as_tensor(bunch.images, dtype=torch.float32).div_(16.0).unsqueeze(1)
    y = torch.as_tensor(bunch.target, dtype=torch.int64)
    idx_train, idx_test = _stratified_split(bunch.target, f, s, num_classes=10)
    tr, te = torch.as_tensor(idx_train), torch.as_tensor(idx_test)
    return Dataset(
        name="digits",
        x_train=x[tr].contiguous(),
        y_train=y[tr].contiguous(),
        x_test=x[te].contiguous(),
        y_test=y[te].contiguous(),
        num_classes=10,
        source=_SOURCE,
    )
