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

import array
import csv
import hashlib
import io
import math
import os
import stat
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..validation import check_array, check_seed, describe

__all__ = [
    "BUNDLED_REGRESSION",
    "MAX_CSV_BYTES",
    "RegressionData",
    "load_regression",
    "read_csv_regression",
]

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

    Raises
    ------
    TypeError, ValueError
        On construction, for fields of the wrong kind, non-finite values,
        empty data or shapes that do not match (``y`` rows, one name per
        feature and per target).
    """

    name: str
    x: torch.Tensor
    y: torch.Tensor
    feature_names: tuple[str, ...]
    target_names: tuple[str, ...]
    source: str
    fingerprint: str

    def __post_init__(self) -> None:
        for field in ("name", "source", "fingerprint"):
            value = getattr(self, field)
            if not isinstance(value, str):
                raise TypeError(f"{field}: expected a str, got {describe(value)}")
        for field, ndim in (("x", 2), ("y", (1, 2))):
            value = getattr(self, field)
            if not isinstance(value, torch.Tensor) or not value.is_floating_point():
                raise TypeError(f"{field}: expected a floating-point tensor, got {describe(value)}")
            check_array(value, field, ndim=ndim)
        m, d = self.x.shape
        k = 1 if self.y.ndim == 1 else self.y.shape[1]
        if m == 0 or d == 0 or k == 0:
            raise ValueError(
                f"x, y: expected at least one example, feature and target, got x of shape "
                f"{tuple(self.x.shape)} and y of shape {tuple(self.y.shape)}"
            )
        if self.y.shape[0] != m:
            raise ValueError(f"y: expected {m} rows like x, got shape {tuple(self.y.shape)}")
        for field, count in (("feature_names", d), ("target_names", k)):
            names = getattr(self, field)
            expected = f"a tuple of {count} str (one per column)"
            if not isinstance(names, tuple) or not all(isinstance(n, str) for n in names):
                raise TypeError(f"{field}: expected {expected}, got {describe(names)}")
            if len(names) != count:
                raise ValueError(f"{field}: expected {expected}, got {len(names)} names")

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


#: Largest CSV file read (bytes): checked before reading.  Parsing holds the raw
#: bytes, their text and the float64 values (at most 4 entries per 2 bytes of
#: "1,1,..." text): about 6 times the file at worst, 400 MB at this limit.
MAX_CSV_BYTES = 2**26


def _file_kind(mode: int) -> str:
    for test, kind in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return "not a regular file"


def _csv_path(path: Any, label: str) -> str:
    """``path`` as a string, if it names a regular file of at most :data:`MAX_CSV_BYTES`.

    Checked with ``os.stat`` before the file is opened, so a device
    (``/dev/zero``), a pipe or a huge file is never read.  ``OSError`` (a
    missing or unreadable file) passes through.
    """
    expected = "a CSV file path (str or os.PathLike)"
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{label}: expected {expected}, got {describe(path)}")
    p = os.fspath(path)
    if not isinstance(p, str):
        raise TypeError(f"{label}: expected {expected}, got {describe(p)}")
    if "\x00" in p:
        raise ValueError(f"{label}: expected {expected}, got {describe(p)}; it has a NUL byte")
    info = os.stat(p)
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(
            f"{label}: expected a regular CSV file, got {p!r} ({_file_kind(info.st_mode)})"
        )
    if info.st_size > MAX_CSV_BYTES:
        raise ValueError(
            f"{label}: expected a CSV file of at most {MAX_CSV_BYTES} bytes "
            f"({MAX_CSV_BYTES / 2**20:.0f} MiB), got {p!r} of {info.st_size} bytes; "
            "use a smaller file (a sample of the rows)"
        )
    return p


def read_csv_regression(
    path: str | os.PathLike[str],
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], tuple[str, ...], str]:
    """Read a numeric CSV file: inputs are all columns but the last, the target the last.

    A first row with any non-numeric cell is taken as a header.  Every other
    row must have the same number of cells, all numeric and finite.

    Parameters
    ----------
    path : str or os.PathLike
        A regular file of at most :data:`MAX_CSV_BYTES` bytes, UTF-8 text.

    Returns
    -------
    (x, y, names, target_name)
        ``x`` of shape ``(m, d)``, ``y`` of shape ``(m,)``, float64.

    Raises
    ------
    TypeError
        If ``path`` is not a ``str`` or ``os.PathLike``.
    ValueError
        Naming the file, the row and the column for: a path that is not a
        regular file (a directory, ``/dev/zero``, a pipe) or is larger than
        :data:`MAX_CSV_BYTES` (both refused before reading), an empty file,
        fewer than 2 columns, fewer than 2 data rows, a row with a different
        number of cells (ragged), a non-numeric or non-finite cell, text that
        is not UTF-8.
    OSError
        If the file does not exist or cannot be read.
    """
    return _read_csv(_csv_path(path, "path"), "path")


def _read_csv(
    p: str, label: str
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], tuple[str, ...], str]:
    """:func:`read_csv_regression` of a checked path; messages begin with ``label``."""
    where = f"{label}: CSV file {p!r}"
    with open(p, "rb") as fb:
        # read(n) allocates n bytes up front: ask for the size os.stat gave (plus one, to
        # see a file that grew); only a stale size (a /proc file says 0) reads on, bounded
        size = os.fstat(fb.fileno()).st_size
        raw = fb.read(size + 1)
        if len(raw) > size:
            raw += fb.read(MAX_CSV_BYTES + 1 - len(raw))
    if len(raw) > MAX_CSV_BYTES:
        raise ValueError(
            f"{where} has more than {MAX_CSV_BYTES} bytes; use a smaller file (a sample of "
            "the rows)"
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = raw[: exc.start]
        lno, col = bad.count(b"\n") + 1, len(bad) - bad.rfind(b"\n")
        raise ValueError(
            f"{where}, row {lno}, byte {col}: 0x{raw[exc.start]:02x} is not UTF-8 text"
        ) from None
    del raw
    # Rows are parsed into floats as they are read (8 bytes a cell, not a Python string);
    # the first bad cell is kept and raised after the file-level checks (empty file, too
    # few columns or rows), as when the whole file is read first.  Row numbers are the
    # file's line numbers (blank lines are skipped, not renumbered).
    header: list[str] | None = None
    width = -1  # set by the first non-blank row
    values = array.array("d")
    num_rows = 0
    problem: str | None = None
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if width < 0:
                width = len(row)
                if any(_parse_float(c) is None for c in row):
                    header = [c.strip() for c in row]
                    continue
            num_rows += 1
            if problem is not None:
                continue
            line = reader.line_num
            if len(row) != width:
                problem = (
                    f"{where}, row {line}: {len(row)} cells, expected {width} like the "
                    f"{'header' if header is not None else 'first row'} (ragged rows)"
                )
                continue
            for j, cell in enumerate(row):
                v = _parse_float(cell)
                if v is None or not math.isfinite(v):
                    problem = f"{where}, row {line}, column {j + 1}: {cell.strip()!r} is not " + (
                        "a number" if v is None else "finite"
                    )
                    break
                values.append(v)
    except csv.Error as exc:
        raise ValueError(f"{where} is not valid CSV: {exc}") from None
    if width < 0:
        raise ValueError(f"{where} is empty; expected numeric rows, target in the last column")
    if width < 2:
        raise ValueError(
            f"{where} has {width} column(s); expected at least 2 (inputs, then the target "
            "in the last column)"
        )
    if num_rows < 2:
        raise ValueError(f"{where} has {num_rows} data row(s); expected at least 2")
    if problem is not None:
        raise ValueError(problem)
    table = np.frombuffer(values, dtype=np.float64).reshape(num_rows, width)
    names = tuple(header) if header is not None else tuple(f"x{j}" for j in range(width))
    return table[:, :-1], table[:, -1], names[:-1], names[-1]


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


def _standardize(
    a: np.ndarray[Any, Any], where: str, names: tuple[str, ...], first: int = 0
) -> np.ndarray[Any, Any]:
    """Each column of ``a`` (``(m,)`` or ``(m, c)``) to mean 0 and variance 1.

    A constant column is only centered.  Refuses (``ValueError`` naming
    ``where`` and the column: ``first + j + 1`` and ``names[j]``) a column that
    float64 cannot standardize: values near the overflow threshold (``1e308``,
    whose sum or squares overflow) or subnormal (``1e-320``, whose variance
    underflows to 0) give non-finite or degenerate (variance not 1) columns.
    """
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        mean = a.mean(axis=0)
        # a constant column is only centered: test max == min, not std > 0, since the
        # std of e.g. [0.1, 0.1, 0.1] is ~1e-17 by rounding and would blow it up to +-1
        constant = a.max(axis=0) == a.min(axis=0)
        std = np.where(constant, 1.0, a.std(axis=0))
        out: np.ndarray[Any, Any] = (a - mean) / std
        cols = out.reshape(out.shape[0], -1)
        spread = cols.std(axis=0)
    good = np.isfinite(cols).all(axis=0) & (
        constant.reshape(-1) | (np.abs(spread - 1.0) <= _STANDARDIZED_TOL)
    )
    if not good.all():
        j = int(np.flatnonzero(~good)[0])
        col = a.reshape(a.shape[0], -1)[:, j]
        lo, hi = float(np.abs(col).min()), float(np.abs(col).max())
        raise ValueError(
            f"{where}, column {first + j + 1} ({names[j]!r}): expected values that float64 can "
            f"standardize (mean 0, variance 1), got magnitudes from {lo:.3g} to {hi:.3g}, "
            "whose mean or variance over- or underflows; rescale the column (e.g. to units "
            "near 1)"
        )
    return out


#: A standardized non-constant column's standard deviation is 1 up to rounding
#: (~1e-15); further from 1, its variance under- or overflowed.
_STANDARDIZED_TOL = 1e-6


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
    if not isinstance(name, (str, os.PathLike)) or not isinstance(os.fspath(name), str):
        raise TypeError(
            f"dataset: expected a data set name or a CSV path (str or os.PathLike), "
            f"got {describe(name)}"
        )
    s = check_seed(seed)
    key = os.fspath(name)
    base, sep, spec = key.partition(":")
    selected: int | None = None
    if key in BUNDLED_REGRESSION:
        x, y, features, targets, source = _bundled(key)
        label = key
        where = f"dataset: {key!r}"
    elif os.path.isfile(key):
        x, y, features, target = _read_csv(_csv_path(key, "dataset"), "dataset")
        targets = (target,)
        label = os.path.basename(key)
        where = f"dataset: CSV file {key!r}"
        source = f"CSV file {os.path.abspath(key)} (target: last column {target!r})"
    elif sep and base in BUNDLED_REGRESSION:
        x, y, features, targets, source = _bundled(base)
        selected = _select_target(key, base, spec, targets)
        if y.ndim == 2:
            y = y[:, selected]
        targets = (targets[selected],)
        label = f"{base}:{targets[0]}"
        where = f"dataset: {key!r}"
        source = f"{source}, target {targets[0]!r} alone"
    else:
        hint = (
            f" (a target of a bundled set is selected as {BUNDLED_REGRESSION[-1]}:<target>)"
            if sep
            else ""
        )
        shown = repr(key) if len(key) <= 200 else describe(key)
        raise ValueError(
            f"dataset: {shown} is neither a bundled regression set "
            f"({', '.join(BUNDLED_REGRESSION)}) nor an existing CSV file{hint}"
        )
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(x).tobytes())
    h.update(np.ascontiguousarray(y).tobytes())
    h.update(repr((x.shape, y.shape)).encode())
    if selected is not None:  # one target of several: never the fingerprint of another
        h.update(repr(("target", selected)).encode())
    xs = _standardize(x, where, tuple(features))
    ys = _standardize(np.ascontiguousarray(y), where, tuple(targets), first=x.shape[1])
    order = np.random.default_rng(s).permutation(x.shape[0])
    xs, ys = xs[order], ys[order]
    return RegressionData(
        name=label,
        x=torch.from_numpy(np.ascontiguousarray(xs)),
        y=torch.from_numpy(np.ascontiguousarray(ys)),
        feature_names=tuple(str(f) for f in features),
        target_names=tuple(str(t) for t in targets),
        source=source,
        fingerprint=h.hexdigest(),
    )
