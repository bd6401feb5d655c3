"""Regression data sets: scikit-learn's bundled ones, or a user's CSV file.

The optimization experiments of Arora, Cohen & Hazan (ICML'18) fit linear
models by l_p regression on real data.  The data sets here ship inside
scikit-learn (nothing is downloaded) or come from a CSV file whose last
column is the target.  Inputs and targets are standardized (zero mean, unit
variance per column) and the rows are put in a seeded random order, so the
same name and seed always give the same arrays.

===============  =====================================================  ====  ========
name             data                                                   m     d -> k
===============  =====================================================  ====  ========
``diabetes``     disease progression one year after baseline (Efron     442   10 -> 1
                 et al. 2004), bundled with scikit-learn
``linnerud``     physiological / exercise measurements of 20 men,       20    3 -> 3
                 bundled with scikit-learn (three targets)
``path.csv``     a CSV file: numeric cells, optional header row, the    any   any -> 1
                 target in the last column
===============  =====================================================  ====  ========

One target of a bundled set is selected by ``name:target``, the target by its
name (case-insensitive) or its index: ``linnerud:Weight``, ``linnerud:pulse``,
``linnerud:0`` (each a single-target data set with its own fingerprint).  A
CSV path is never split at ``:`` when the file exists.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .base import _check_seed

__all__ = ["BUNDLED_REGRESSION", "RegressionData", "load_regression", "read_csv_regression"]

#: Names of the bundled regression data sets accepted by :func:`load_regression`.
BUNDLED_REGRESSION: tuple[str, ...] = ("diabetes", "linnerud")


@dataclass(frozen=True, eq=False)
class RegressionData:
    """A standardized regression data set held in memory (float64).

    Attributes
    ----------
    name : str
        ``"diabetes"``, ``"linnerud"``, a bundled set with one target selected
        (``"linnerud:Weight"``, the target's own spelling) or the CSV file's name.
    x : torch.Tensor
        Inputs, shape ``(m, d)``, each column with mean 0 and variance 1
        (a constant column is only centered).
    y : torch.Tensor
        Targets, shape ``(m,)`` for one target or ``(m, k)``, standardized
        the same way.
    feature_names, target_names : tuple of str
    source : str
        One line saying where the data come from.
    fingerprint : str
        SHA-256 of the raw values (before standardization and shuffling): two
        loads with the same fingerprint hold the same data.  The lab keys
        stored results by it, so an edited CSV file is never confused with
        the old one.
    """

    name: str
    x: torch.Tensor
    y: torch.Tensor
    feature_names: tuple[str, ...]
    target_names: tuple[str, ...]
    source: str
    fingerprint: str

    @property
    def num_examples(self) -> int:
        return int(self.x.shape[0])

    @property
    def num_features(self) -> int:
        return int(self.x.shape[1])

    @property
    def num_targets(self) -> int:
        return 1 if self.y.ndim == 1 else int(self.y.shape[1])

    def numpy(self) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        """``(x, y)`` as float64 NumPy arrays."""
        return self.x.numpy(), self.y.numpy()

    def __repr__(self) -> str:
        return (
            f"RegressionData(name={self.name!r}, m={self.num_examples}, "
            f"d={self.num_features}, k={self.num_targets})"
        )


def _parse_float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def read_csv_regression(
    path: str | os.PathLike[str],
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], tuple[str, ...], str]:
    """Read a numeric CSV file: inputs are all columns but the last, the target the last.

    A first row with any non-numeric cell is taken as a header.  Every other
    row must have the same number of cells, all numeric and finite.

    Returns
    -------
    (x, y, names, target_name)
        ``x`` of shape ``(m, d)``, ``y`` of shape ``(m,)``, float64.

    Raises
    ------
    ValueError
        Naming the file, the row and the column for: an empty file, fewer
        than 2 columns, fewer than 2 data rows, a row with a different number
        of cells (ragged), a non-numeric or non-finite cell.
    OSError
        If the file cannot be read.
    """
    p = os.fspath(path)
    where = f"dataset: CSV file {p!r}"
    with open(p, "rb") as fb:
        raw = fb.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = raw[: exc.start]
        lno, col = bad.count(b"\n") + 1, len(bad) - bad.rfind(b"\n")
        raise ValueError(
            f"{where}, row {lno}, byte {col}: 0x{raw[exc.start]:02x} is not UTF-8 text"
        ) from None
    # keep each row's line number in the file (blank lines are skipped, not renumbered)
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        for row in reader:
            if any(cell.strip() for cell in row):
                rows.append(row)
                lines.append(reader.line_num)
    except csv.Error as exc:
        raise ValueError(f"{where} is not valid CSV: {exc}") from None
    if not rows:
        raise ValueError(f"{where} is empty; expected numeric rows, target in the last column")
    header: list[str] | None = None
    if any(_parse_float(c) is None for c in rows[0]):
        header = [c.strip() for c in rows[0]]
        rows, lines = rows[1:], lines[1:]
    width = len(header) if header is not None else len(rows[0]) if rows else 0
    if width < 2:
        raise ValueError(
            f"{where} has {width} column(s); expected at least 2 (inputs, then the target "
            "in the last column)"
        )
    if len(rows) < 2:
        raise ValueError(f"{where} has {len(rows)} data row(s); expected at least 2")
    values = np.empty((len(rows), width), dtype=np.float64)
    for i, (row, line) in enumerate(zip(rows, lines, strict=True)):
        if len(row) != width:
            raise ValueError(
                f"{where}, row {line}: {len(row)} cells, expected {width} like the "
                f"{'header' if header is not None else 'first row'} (ragged rows)"
            )
        for j, cell in enumerate(row):
            v = _parse_float(cell)
            if v is None:
                raise ValueError(
                    f"{where}, row {line}, column {j + 1}: {cell.strip()!r} is not a number"
                )
            if not math.isfinite(v):
                raise ValueError(
                    f"{where}, row {line}, column {j + 1}: {cell.strip()!r} is not finite"
                )
            values[i, j] = v
    names = tuple(header) if header is not None else tuple(f"x{j}" for j in range(width))
    return values[:, :-1], values[:, -1], names[:-1], names[-1]


def _bundled(
    name: str,
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], tuple[str, ...], tuple[str, ...], str]:
    from sklearn import datasets

    if name == "diabetes":
        b = datasets.load_diabetes(scaled=False)
        return (
            np.asarray(b.data, np.float64),
            np.asarray(b.target, np.float64),
            tuple(b.feature_names),
            ("progression",),
            "sklearn.datasets.load_diabetes (Efron et al. 2004, bundled with scikit-learn)",
        )
    b = datasets.load_linnerud()
    return (
        np.asarray(b.data, np.float64),
        np.asarray(b.target, np.float64),
        tuple(b.feature_names),
        tuple(b.target_names),
        "sklearn.datasets.load_linnerud (Tenenhaus 1998, bundled with scikit-learn)",
    )


def _standardize(a: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    mean = a.mean(axis=0)
    # a constant column is only centered: test max == min, not std > 0, since the
    # std of e.g. [0.1, 0.1, 0.1] is ~1e-17 by rounding and would blow it up to +-1
    constant = a.max(axis=0) == a.min(axis=0)
    std = np.where(constant, 1.0, a.std(axis=0))
    out: np.ndarray[Any, Any] = (a - mean) / std
    return out


def _select_target(key: str, base: str, spec: str, targets: tuple[str, ...]) -> int:
    """The index of target ``spec`` (a name, case-insensitive, or an index) of ``base``."""
    text = spec.strip()
    listing = (
        f"its targets are {', '.join(targets)} (by name, case-insensitive, "
        f"or by index 0-{len(targets) - 1})"
    )
    if not text:
        raise ValueError(f"dataset: {key!r} names no target after ':'; {base}: {listing}")
    if text.isdigit():
        j = int(text)
        if j < len(targets):
            return j
        raise ValueError(f"dataset: {key!r}: {base} has no target index {j}; {listing}")
    matches = [j for j, t in enumerate(targets) if t.lower() == text.lower()]
    if not matches:
        raise ValueError(f"dataset: {key!r}: {base} has no target {text!r}; {listing}")
    return matches[0]


def load_regression(name: str | os.PathLike[str] = "diabetes", seed: int = 0) -> RegressionData:
    """A bundled regression data set by name, or a CSV file by path, standardized.

    Parameters
    ----------
    name : str, optional
        One of :data:`BUNDLED_REGRESSION`, such a name followed by
        ``:<target>`` (a target name, case-insensitive, or its index: that
        target alone, e.g. ``"linnerud:Weight"`` or ``"linnerud:2"``), or the
        path of a CSV file (numeric cells, optional header, target in the last
        column).  An existing file is always read as a CSV file, whatever
        ``:`` its path contains.
    seed : int, optional
        Seed of the row order; the same seed gives the same arrays.

    Returns
    -------
    RegressionData
        With a target selected: ``y`` of shape ``(m,)``, ``name`` the base name
        and the target's own spelling (``"linnerud:Weight"``), and a
        fingerprint distinct from the full set's and from the other targets'.

    Raises
    ------
    ValueError
        For an unknown name that is not an existing file, an unknown target
        (the message lists the data set's targets), or a malformed CSV file
        (see :func:`read_csv_regression`), with the row and column.

    Examples
    --------
    >>> ds = load_regression("diabetes")
    >>> ds.num_examples, ds.num_features, ds.num_targets
    (442, 10, 1)
    >>> w = load_regression("linnerud:weight")
    >>> w.name, w.num_targets, w.target_names
    ('linnerud:Weight', 1, ('Weight',))
    """
    if not isinstance(name, (str, os.PathLike)):
        raise TypeError(f"dataset: expected a data set name or a CSV path, got {name!r}")
    s = _check_seed(seed)
    key = os.fspath(name)
    base, sep, spec = key.partition(":")
    selected: int | None = None
    if key in BUNDLED_REGRESSION:
        x, y, features, targets, source = _bundled(key)
        label = key
    elif os.path.isfile(key):
        x, y, features, target = read_csv_regression(key)
        targets = (target,)
        label = os.path.basename(key)
        source = f"CSV file {os.path.abspath(key)} (target: last column {target!r})"
    elif sep and base in BUNDLED_REGRESSION:
        x, y, features, targets, source = _bundled(base)
        selected = _select_target(key, base, spec, targets)
        if y.ndim == 2:
            y = y[:, selected]
        targets = (targets[selected],)
        label = f"{base}:{targets[0]}"
        source = f"{source}, target {targets[0]!r} alone"
    else:
        hint = (
            f" (a target of a bundled set is selected as {BUNDLED_REGRESSION[-1]}:<target>)"
            if sep
            else ""
        )
        raise ValueError(
            f"dataset: {key!r} is neither a bundled regression set "
            f"({', '.join(BUNDLED_REGRESSION)}) nor an existing CSV file{hint}"
        )
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(x).tobytes())
    h.update(np.ascontiguousarray(y).tobytes())
    h.update(repr((x.shape, y.shape)).encode())
    if selected is not None:  # one target of several: never the fingerprint of another
        h.update(repr(("target", selected)).encode())
    order = np.random.default_rng(s).permutation(x.shape[0])
    xs = _standardize(x)[order]
    ys = _standardize(np.ascontiguousarray(y))[order]
    return RegressionData(
        name=label,
        x=torch.from_numpy(np.ascontiguousarray(xs)),
        y=torch.from_numpy(np.ascontiguousarray(ys)),
        feature_names=tuple(str(f) for f in features),
        target_names=tuple(str(t) for t in targets),
        source=source,
        fingerprint=h.hexdigest(),
    )
