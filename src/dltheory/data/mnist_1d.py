"""MNIST-1D (Greydanus, 2020), generated locally by the ``mnist1d`` package.

Ten hand-made 1D templates of the digits are padded, sheared, scaled,
translated and overlaid with correlated and i.i.d. noise, then resampled to
40 positions.  The generator (``mnist1d.data.make_dataset``) is run here with
the package's default transformation arguments; nothing is downloaded (the
package's ``get_dataset`` would try to fetch a pickle, and is never used).
"""

from __future__ import annotations

import functools
import random
from typing import Any

import numpy as np
import torch

from ..validation import MAX_ENTRIES, check_int, check_seed, check_size
from .base import Dataset, _legacy_seed, _stratified_split, _test_fraction

__all__ = ["MAX_MNIST1D_SAMPLES", "MNIST1D_LENGTH", "load_mnist1d"]

#: Number of positions of an MNIST-1D signal.
MNIST1D_LENGTH = 40

#: Peak memory of generating, splitting and standardizing one example, in float64
#: entries (measured with ``tracemalloc``: ~1210 bytes per example at 2000 -> 6000
#: examples: the generator's per-example arrays and list, its stacked and
#: standardized copies, the split and the float32 tensors).
_ENTRIES_PER_SAMPLE = 160

#: Most examples one call generates: ``num_samples * 160`` entries stay within
#: :data:`dltheory.validation.MAX_ENTRIES` (2 GiB of float64).
MAX_MNIST1D_SAMPLES = MAX_ENTRIES // _ENTRIES_PER_SAMPLE // 10 * 10

_SOURCE = (
    "MNIST-1D (Greydanus 2020), generated locally by mnist1d.data.make_dataset "
    "with the package's default transformation arguments"
)


@functools.lru_cache(maxsize=8)
def _generate(seed: int, num_samples: int) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """All ``num_samples`` signals ``(n, 40)`` and labels ``(n,)``, cached per arguments.

    ``make_dataset`` seeds Python's and NumPy's *global* generators; their
    states are restored afterwards so that loading data has no side effects.
    """
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.seed = _legacy_seed(seed)  # mnist1d seeds NumPy's legacy generator (32 bits)
    args.num_samples = num_samples
    args.train_split = 1.0  # keep everything; the split below is stratified
    # mnist1d draws from the legacy global generators: save and restore them.
    py_state, np_state = random.getstate(), np.random.get_state()  # noqa: NPY002
    try:
        out = make_dataset(args)
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)  # noqa: NPY002
    x = np.asarray(out["x"], dtype=np.float64)
    y = np.asarray(out["y"], dtype=np.int64)
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


_SAMPLES_FIX = (
    "a multiple of 10 of at least 20: the generator draws num_samples // 10 examples per class"
)


def load_mnist1d(seed: int = 0, num_samples: int = 5000, test_fraction: float = 0.2) -> Dataset:
    """MNIST-1D as sequences of 40 positions with one feature each.

    Parameters
    ----------
    seed : int, optional
        Seed of the generator and of the split, in ``[0, 2**63)``; the same
        seed gives the same data and split.  (The ``mnist1d`` package's own
        default seed is 42.)  Seeds from ``2**32`` on are hashed to the 32 bits
        that NumPy's legacy generator, which ``mnist1d`` uses, takes.
    num_samples : int, optional
        Total number of examples, a multiple of 10 from 20 to
        :data:`MAX_MNIST1D_SAMPLES` (the generator draws ``num_samples // 10``
        per class and needs about 1.2 kB per example).  Generating 5000 takes
        about 3 s; results are cached per ``(seed, num_samples)`` in the process.
    test_fraction : float, optional
        Fraction of the examples put in the test set, in ``(0, 1)``; the split
        is stratified, so every class keeps its share in both parts.

    Returns
    -------
    Dataset
        ``x`` of shape ``(n, 40, 1)`` float32 (batch, N positions, s = 1
        feature per position), standardized with a single mean and standard
        deviation computed on the training part (the same affine map at every
        position, so translations of a pattern stay translations); ``y`` int64
        in ``0 .. 9``.

    Raises
    ------
    TypeError
        For a ``seed`` or ``num_samples`` that is not an integer, or a
        ``test_fraction`` that is not a real number.
    ValueError
        For a ``seed`` outside ``[0, 2**63)``, a ``num_samples`` that is not a
        multiple of 10 of at least 20 or would need more memory than
        :data:`MAX_MNIST1D_SAMPLES` examples (estimated before anything is
        generated), or a ``test_fraction`` outside ``(0, 1)``.

    Examples
    --------
    >>> ds = load_mnist1d(num_samples=1000)  # doctest: +SKIP
    >>> ds.num_train, ds.num_test, ds.input_shape  # doctest: +SKIP
    (800, 200, (40, 1))
    """
    s = check_seed(seed)
    n = check_int(num_samples, "num_samples", minimum=20, fix=_SAMPLES_FIX)
    if n % 10:
        raise ValueError(f"num_samples: expected a multiple of 10, got {n}; {_SAMPLES_FIX}")
    check_size(
        n * _ENTRIES_PER_SAMPLE,
        "num_samples",
        what=f"generating {n} MNIST-1D examples",
        fix=f"at most {MAX_MNIST1D_SAMPLES} examples",
    )
    f = _test_fraction(test_fraction)
    x_all, y_all = _generate(s, n)
    idx_train, idx_test = _stratified_split(y_all, f, s, num_classes=10)
    x_train, x_test = x_all[idx_train], x_all[idx_test]
    mean = x_train.mean()
    std = x_train.std()
    x_train = (x_train - mean) / std
    x_test = (x_test - mean) / std

    def as_x(a: np.ndarray[Any, Any]) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)[:, :, None])

    return Dataset(
        name="mnist1d",
        x_train=as_x(x_train),
        y_train=torch.from_numpy(np.array(y_all[idx_train], dtype=np.int64)),
        x_test=as_x(x_test),
        y_test=torch.from_numpy(np.array(y_all[idx_test], dtype=np.int64)),
        num_classes=10,
        source=_SOURCE,
    )
