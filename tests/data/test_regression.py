from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from sklearn import datasets as skdatasets

from dltheory.data import (
    BUNDLED_REGRESSION,
    RegressionData,
    load_regression,
    read_csv_regression,
)

Array = np.ndarray[Any, Any]


def _rows(*arrays: Array) -> list[tuple[float, ...]]:
    """The rows of the arrays side by side, as a sorted list (a multiset)."""
    cols = [a.reshape(a.shape[0], -1) for a in arrays]
    return sorted(map(tuple, np.concatenate(cols, axis=1).tolist()))


def _standardized(a: Array) -> Array:
    std = a.std(axis=0)
    return (a - a.mean(axis=0)) / np.where(std > 0, std, 1.0)


def _assert_standardized(a: Array) -> None:
    a = a.reshape(a.shape[0], -1)
    np.testing.assert_allclose(a.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(a.std(axis=0), 1.0, rtol=0, atol=1e-12)


def _write(tmp_path: Path, text: str | bytes, name: str = "data.csv") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------ bundled sets
def test_bundled_names() -> None:
    assert BUNDLED_REGRESSION == ("diabetes", "linnerud")


def test_diabetes_shapes_dtype_and_standardization() -> None:
    ds = load_regression("diabetes")
    assert isinstance(ds, RegressionData)
    assert ds.name == "diabetes"
    assert ds.x.shape == (442, 10) and ds.y.shape == (442,)
    assert (ds.num_examples, ds.num_features, ds.num_targets) == (442, 10, 1)
    assert ds.x.dtype == torch.float64 and ds.y.dtype == torch.float64
    x, y = ds.numpy()
    assert x.dtype == np.float64 and y.dtype == np.float64
    _assert_standardized(x)
    _assert_standardized(y)
    bunch = skdatasets.load_diabetes(scaled=False)
    assert ds.feature_names == tuple(bunch.feature_names) and len(ds.feature_names) == 10
    assert ds.target_names == ("progression",)
    # the data are sklearn's raw data, standardized, in some row order
    ref = _rows(_standardized(bunch.data), _standardized(bunch.target))
    np.testing.assert_allclose(np.array(_rows(x, y)), np.array(ref), rtol=0, atol=1e-12)
    assert "load_diabetes" in ds.source and "\n" not in ds.source
    assert repr(ds) == "RegressionData(name='diabetes', m=442, d=10, k=1)"
    assert len(ds.fingerprint) == 64 and int(ds.fingerprint, 16) >= 0


def test_linnerud_three_targets() -> None:
    ds = load_regression("linnerud", seed=1)
    assert ds.x.shape == (20, 3) and ds.y.shape == (20, 3)
    assert (ds.num_examples, ds.num_features, ds.num_targets) == (20, 3, 3)
    assert ds.x.dtype == torch.float64 and ds.y.dtype == torch.float64
    _assert_standardized(ds.x.numpy())
    _assert_standardized(ds.y.numpy())
    bunch = skdatasets.load_linnerud()
    assert ds.feature_names == tuple(bunch.feature_names)
    assert ds.target_names == tuple(bunch.target_names) and len(ds.target_names) == 3
    ref = _rows(_standardized(bunch.data), _standardized(bunch.target))
    np.testing.assert_allclose(np.array(_rows(*ds.numpy())), np.array(ref), atol=1e-12)
    assert ds.fingerprint != load_regression("diabetes").fingerprint


@pytest.mark.parametrize("name", BUNDLED_REGRESSION)
def test_seeded_order(name: str) -> None:
    a, b, c = load_regression(name, seed=5), load_regression(name, seed=5), load_regression(name, 6)
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert a.fingerprint == b.fingerprint
    # another seed: the same rows in another order, the same data (fingerprint)
    assert not torch.equal(a.x, c.x)
    assert _rows(*a.numpy()) == _rows(*c.numpy())
    assert a.fingerprint == c.fingerprint
    # x and y rows travel together: the pairing is the same under both orders
    pairs_a = {tuple(xr): tuple(np.atleast_1d(yr)) for xr, yr in zip(*a.numpy(), strict=True)}
    pairs_c = {tuple(xr): tuple(np.atleast_1d(yr)) for xr, yr in zip(*c.numpy(), strict=True)}
    assert pairs_a == pairs_c


def test_fresh_arrays_each_call() -> None:
    a = load_regression("linnerud", seed=2)
    keep = a.x.clone()
    a.x.zero_()
    assert torch.equal(load_regression("linnerud", seed=2).x, keep)


def test_unknown_name_and_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="diabetes, linnerud") as info:
        load_regression("boston")
    assert "'boston'" in str(info.value)
    with pytest.raises(ValueError, match="diabetes"):
        load_regression(str(tmp_path / "missing.csv"))
    with pytest.raises(ValueError, match="linnerud"):
        load_regression(str(tmp_path))  # a directory is not a CSV file
    with pytest.raises(TypeError, match="dataset"):
        load_regression(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="seed"):
        load_regression("diabetes", seed=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="seed"):
        load_regression("diabetes", seed=-1)


# ------------------------------------------------------------------ CSV files
def _table(seed: int = 0, m: int = 9, d: int = 3) -> tuple[Array, Array]:
    rng = np.random.default_rng(seed)
    x = np.round(rng.standard_normal((m, d)) * 10, 3)
    y = np.round(x @ np.arange(1.0, d + 1) + rng.standard_normal(m), 3)
    return x, y


def _csv_text(x: Array, y: Array, header: list[str] | None = None) -> str:
    lines = [",".join(header)] if header is not None else []
    lines += [",".join(repr(float(v)) for v in [*xr, yr]) for xr, yr in zip(x, y, strict=True)]
    return "\n".join(lines) + "\n"


def test_csv_with_header(tmp_path: Path) -> None:
    x, y = _table()
    path = _write(tmp_path, _csv_text(x, y, ["a", " b ", "c", "target"]))
    xr, yr, names, target = read_csv_regression(path)
    assert xr.dtype == np.float64 and yr.dtype == np.float64
    np.testing.assert_array_equal(xr, x)
    np.testing.assert_array_equal(yr, y)  # the target is the last column
    assert names == ("a", "b", "c") and target == "target"
    ds = load_regression(str(path), seed=3)
    assert ds.name == "data.csv"
    assert ds.x.shape == (9, 3) and ds.y.shape == (9,) and ds.num_targets == 1
    assert ds.feature_names == ("a", "b", "c") and ds.target_names == ("target",)
    assert str(path.resolve()) in ds.source and "'target'" in ds.source
    _assert_standardized(ds.x.numpy())
    _assert_standardized(ds.y.numpy())
    # equal to the written arrays, standardized with NumPy, in the seeded order
    order = np.random.default_rng(3).permutation(9)
    np.testing.assert_allclose(ds.x.numpy(), _standardized(x)[order], rtol=0, atol=1e-14)
    np.testing.assert_allclose(ds.y.numpy(), _standardized(y)[order], rtol=0, atol=1e-14)
    assert _rows(*ds.numpy()) == _rows(*load_regression(str(path), seed=4).numpy())


def test_csv_without_header(tmp_path: Path) -> None:
    x, y = _table(1, m=6, d=2)
    path = _write(tmp_path, _csv_text(x, y))
    xr, yr, names, target = read_csv_regression(str(path))
    np.testing.assert_array_equal(xr, x)
    np.testing.assert_array_equal(yr, y)
    assert names == ("x0", "x1") and target == "x2"
    ds = load_regression(path)  # a pathlib.Path works too
    assert ds.x.shape == (6, 2) and ds.feature_names == ("x0", "x1")
    ref = _rows(_standardized(x), _standardized(y))
    np.testing.assert_allclose(np.array(_rows(*ds.numpy())), np.array(ref), rtol=0, atol=1e-14)


def test_csv_target_is_last_column(tmp_path: Path) -> None:
    # the target column is recognisable: it is 100 + the first column
    text = "u,v,w,goal\n1,5,0,101\n2,4,7,102\n3,3,1,103\n4,9,2,104\n"
    xr, yr, _, target = read_csv_regression(_write(tmp_path, text))
    np.testing.assert_array_equal(yr, [101, 102, 103, 104])
    np.testing.assert_array_equal(xr[:, 1], [5, 4, 3, 9])
    assert target == "goal"
    ds = load_regression(str(tmp_path / "data.csv"))
    np.testing.assert_allclose(ds.y.numpy(), ds.x.numpy()[:, 0], atol=1e-14)


def test_csv_tolerates_bom_quotes_spaces_and_blank_lines(tmp_path: Path) -> None:
    text = '\ufeffa,"b",y\n\n 1.5 ,"2",3e0\n\n4,-5,  6\n'
    xr, yr, names, target = read_csv_regression(_write(tmp_path, text))
    np.testing.assert_array_equal(xr, [[1.5, 2.0], [4.0, -5.0]])
    np.testing.assert_array_equal(yr, [3.0, 6.0])
    assert names == ("a", "b") and target == "y"


# (m, value) pairs whose float std is not exactly 0 (e.g. 1.4e-17 for three 0.1s) but rounding
@pytest.mark.parametrize(("m", "value"), [(3, "0.1"), (7, "0.7"), (10, "-1e-3"), (5, "7")])
def test_constant_column_is_centered(tmp_path: Path, m: int, value: str) -> None:
    rows = [f"{i},{value},{2 * i + 1}" for i in range(m)]
    ds = load_regression(str(_write(tmp_path, "\n".join(rows) + "\n")))
    x = ds.x.numpy()
    assert np.all(np.isfinite(x)) and np.all(np.isfinite(ds.y.numpy()))
    # the constant column is only centered (zero, up to rounding), not divided by ~0
    np.testing.assert_allclose(x[:, 1], 0.0, atol=1e-12)
    np.testing.assert_allclose(x[:, 0].std(), 1.0, atol=1e-12)


def test_constant_target_is_centered(tmp_path: Path) -> None:
    text = "".join(f"{i},0.3\n" for i in range(10))  # std of ten 0.3s: 5.6e-17, not 0
    ds = load_regression(str(_write(tmp_path, text)))
    np.testing.assert_allclose(ds.y.numpy(), 0.0, atol=1e-12)


def test_fingerprint_follows_the_content(tmp_path: Path) -> None:
    x, y = _table(2)
    path = _write(tmp_path, _csv_text(x, y, ["a", "b", "c", "y"]))
    before = load_regression(str(path)).fingerprint
    assert load_regression(str(path), seed=9).fingerprint == before
    # the same content under another name: the same data
    other = _write(tmp_path, _csv_text(x, y, ["a", "b", "c", "y"]), name="copy.csv")
    assert load_regression(str(other)).fingerprint == before
    # one cell edited
    x2 = x.copy()
    x2[4, 1] += 0.001
    path.write_text(_csv_text(x2, y, ["a", "b", "c", "y"]), encoding="utf-8")
    edited = load_regression(str(path)).fingerprint
    assert edited != before
    # a target edited
    y2 = y.copy()
    y2[0] = -y2[0] + 1
    path.write_text(_csv_text(x, y2, ["a", "b", "c", "y"]), encoding="utf-8")
    assert load_regression(str(path)).fingerprint not in (before, edited)
    # a row dropped
    path.write_text(_csv_text(x[:-1], y[:-1], ["a", "b", "c", "y"]), encoding="utf-8")
    assert load_regression(str(path)).fingerprint not in (before, edited)
    # the same values re-shaped (last input column moved into the target) differ too
    path.write_text(_csv_text(x[:, :-1], x[:, -1], ["a", "b", "y"]), encoding="utf-8")
    assert load_regression(str(path)).fingerprint != before


# ------------------------------------------------------------------ malformed CSV files
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a,b,y\n1,2,3\n4,5\n6,7,8\n", "row 3: 2 cells, expected 3"),
        ("1,2,3\n4,5,6,7\n6,7,8\n", "row 2: 4 cells, expected 3"),
        ("a,b,y\n1,2,3\n4,five,6\n", "row 3, column 2: 'five' is not a number"),
        ("a,b,y\n1,2,3\n4,,6\n", "row 3, column 2: '' is not a number"),
        ("a,b,y\n1,2,3\n4,5,nan\n", "row 3, column 3: 'nan' is not finite"),
        ("1,2,3\n4,5,6\nNaN,5,6\n", "row 3, column 1: 'NaN' is not finite"),
        ("a,b,y\n1,inf,3\n4,5,6\n", "row 2, column 2: 'inf' is not finite"),
        ("a,b,y\n1,2,3\n4,5,-Infinity\n", "row 3, column 3: '-Infinity' is not finite"),
        ("a,b,y\n1,2,3\n4,5,1e999\n", "row 3, column 3: '1e999' is not finite"),
        # rows are lines of the file: skipped blank lines still count
        ("a,b,y\n\n1,2,3\n\n\n4,x,6\n", "row 6, column 2: 'x' is not a number"),
        ("y\n1\n2\n3\n", "has 1 column(s)"),
        ("1\n2\n3\n", "has 1 column(s)"),
        ("", "is empty"),
        ("\n\n  \n", "is empty"),
        ("a,b,y\n", "has 0 data row(s)"),
        ("a,b,y\n1,2,3\n", "has 1 data row(s)"),
        ("1,2,3\n", "has 1 data row(s)"),
    ],
)
def test_malformed_csv(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path, text, name="bad.csv")
    for load in (read_csv_regression, load_regression):
        with pytest.raises(ValueError) as info:
            load(str(path))
        message = str(info.value)
        assert str(path) in message  # names the file
        assert expected in message


def test_non_utf8_csv(tmp_path: Path) -> None:
    path = _write(tmp_path, b"a,b,y\n1,2,3\n4,\xe9,6\n", name="latin1.csv")
    for load in (read_csv_regression, load_regression):
        with pytest.raises(ValueError) as info:
            load(str(path))
        message = str(info.value)
        assert str(path) in message and "UTF-8" in message
        assert "row 3" in message and "0xe9" in message


def test_unreadable_csv_is_an_oserror(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        read_csv_regression(tmp_path / "missing.csv")
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        path = _write(tmp_path, "1,2\n3,4\n")
        path.chmod(0)
        try:
            with pytest.raises(OSError):
                load_regression(str(path))
        finally:
            path.chmod(0o600)


# ------------------------------------------------------------------ target selection
@pytest.mark.parametrize(
    ("spec", "index"),
    [("Weight", 0), ("waist", 1), ("PULSE", 2), ("0", 0), ("2", 2), (" Waist ", 1)],
)
def test_select_one_target_of_linnerud(spec: str, index: int) -> None:
    full = load_regression("linnerud", seed=3)
    one = load_regression(f"linnerud:{spec}", seed=3)
    names = full.target_names
    assert one.name == f"linnerud:{names[index]}"  # the target's own spelling
    assert one.target_names == (names[index],) and one.num_targets == 1
    assert one.y.shape == (20,) and one.y.dtype == torch.float64
    assert one.feature_names == full.feature_names
    # the same rows in the same order; y is that column of the full set (both standardized)
    assert torch.equal(one.x, full.x)
    assert torch.equal(one.y, full.y[:, index])
    _assert_standardized(one.y.numpy())
    assert repr(names[index]) in one.source


def test_each_target_has_its_own_fingerprint() -> None:
    prints = {load_regression(f"linnerud:{t}").fingerprint for t in ("Weight", "Waist", "Pulse")}
    assert len(prints) == 3
    assert load_regression("linnerud").fingerprint not in prints
    # the same target by name and by index is the same data; the fingerprint ignores the seed
    assert (
        load_regression("linnerud:pulse", seed=1).fingerprint
        == load_regression("linnerud:2", seed=7).fingerprint
    )


def test_single_target_set_accepts_its_target() -> None:
    one = load_regression("diabetes:PROGRESSION")
    ref = load_regression("diabetes")
    assert one.name == "diabetes:progression" and one.num_targets == 1
    assert torch.equal(one.y, ref.y) and torch.equal(one.x, ref.x)


@pytest.mark.parametrize("spec", ["weigh", "3", "-1", "", "Weight,Waist"])
def test_unknown_target_lists_the_targets(spec: str) -> None:
    with pytest.raises(ValueError) as info:
        load_regression(f"linnerud:{spec}")
    message = str(info.value)
    assert message.startswith("dataset: ")  # names the argument
    assert repr(f"linnerud:{spec}") in message
    assert "Weight, Waist, Pulse" in message


def test_unknown_base_with_a_target_is_not_a_data_set(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="neither a bundled.*linnerud:<target>"):
        load_regression("boston:medv")
    # a CSV file's name is not split at ':' -- even when 'linnerud' is a prefix
    with pytest.raises(ValueError, match="neither a bundled"):
        load_regression(str(tmp_path / "data.csv:Weight"))


def test_existing_csv_path_with_colon_is_never_split(tmp_path: Path) -> None:
    x, y = _table(4, m=7, d=2)
    folder = tmp_path / "linnerud:Weight"  # looks like a target selection
    folder.mkdir()
    path = _write(folder, _csv_text(x, y, ["a", "b", "goal"]), name="run:1.csv")
    ds = load_regression(str(path))
    assert ds.name == "run:1.csv" and ds.x.shape == (7, 2) and ds.target_names == ("goal",)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:  # a relative path that begins with a bundled name and ':' is still the file
        rel = load_regression("linnerud:Weight/run:1.csv")
    finally:
        os.chdir(cwd)
    assert rel.fingerprint == ds.fingerprint and rel.x.shape == (7, 2)
