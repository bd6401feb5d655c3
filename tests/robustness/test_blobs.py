"""Bad input to the blob tasks (dltheory.data.blobs) is refused cleanly.

Issue: robust at every entry point.  The generator (``generate_blobs``), the
scores (``closedness_score``, ``symmetry_score``), the labelling
(``split_by_score``) and the loaders (``load_pooling_task``, ``load_closedness``,
``load_symmetry``) get, argument by argument, values drawn from the harness's
strategies of bad input (or, for squares and cache folders, from the local
strategies below); each must be refused with a ``ValueError`` or
``TypeError`` naming the argument, within a second and without a large
allocation: sizes are estimated before anything is generated.
"""

from __future__ import annotations

import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dltheory.data import (
    BLOB_TASKS,
    MAX_BLOB_IMAGES,
    closedness_score,
    generate_blobs,
    load_closedness,
    load_pooling_task,
    load_symmetry,
    split_by_score,
    symmetry_score,
)

from .harness import Spec, bad_values, check, refuses

# -- local kinds of bad input ---------------------------------------------------------------

_FOLDER = tempfile.TemporaryDirectory(prefix="dltheory-robust-blobs-")


def _a_file() -> str:
    path = Path(_FOLDER.name) / "a-file"
    path.write_text("not a folder")
    return str(path)


def _cache_dir_kind() -> st.SearchStrategy[Any]:
    """Values that are not folder paths, and paths that cannot be folders."""
    return st.one_of(
        st.sampled_from([3, 2.5, True, b"/tmp", ["a"], {"a": 1}, object(), 1j, ""]),
        st.sampled_from(["a\x00b", "/dev/null", "/proc/no-such-folder/x"]),
        st.builds(_a_file),
        st.builds(lambda: Path(_a_file()) / "below"),
    )


def _squares_kind() -> st.SearchStrategy[Any]:
    """Bad squares for two 8x8 images: not integers, wrong shapes, outside, empty."""
    good = [[0, 0, 8], [0, 0, 4]]
    return st.sampled_from(
        [
            np.array(good, dtype=np.float64),
            np.array(good, dtype=bool),
            torch.tensor(good, dtype=torch.float32),
            np.array(good[0]),  # one square for two images
            np.array([good[0]]),
            np.array([[0, 0, 8, 1], [0, 0, 4, 1]]),
            np.array([[0, 0, 9], [0, 0, 4]]),  # outside
            np.array([[-1, 0, 4], [0, 0, 4]]),
            np.array([[0, 0, 0], [0, 0, 4]]),  # side 0
            np.array([[0, 6, 2], [0, 0, 4]]) * np.array([1, 1, 1]),  # inside, but empty (below)
            np.array([[2**62, 0, 4], [0, 0, 4]]),
            np.zeros((2, 3, 1), dtype=np.int64),
            np.array([[0, 0, 8], [0, 0, 4]], dtype=np.complex64),
            [[0, 0, 8], "x"],
            "squares",
            3,
        ]
    )


LOCAL: dict[str, Callable[..., st.SearchStrategy[Any]]] = {
    "cache_dir": _cache_dir_kind,
    "squares": _squares_kind,
}


def _strategy(kind: str, *params: Any) -> st.SearchStrategy[Any]:
    return LOCAL[kind](*params) if kind in LOCAL else bad_values(kind, *params)


def _images() -> torch.Tensor:
    """Two 8x8 images; the first has no pixel on in columns 6 and 7 (an empty square)."""
    x = torch.ones(2, 8, 8)
    x[0, :, 6:] = 0
    return x


_SIZES = {
    "num_train": ("int", 3, MAX_BLOB_IMAGES),
    "num_test": ("int", 3, MAX_BLOB_IMAGES),
    "seed": ("seed",),
    "cache_dir": ("cache_dir",),
}
_SMALL = {"num_train": 5, "num_test": 5, "seed": 0}

SPECS = [
    Spec(
        "generate_blobs",
        generate_blobs,
        {"n": 3, "seed": 0},
        {"n": ("int", 1, MAX_BLOB_IMAGES), "seed": ("seed",)},
    ),
    Spec(
        "closedness_score",
        closedness_score,
        {"images": torch.ones(2, 8, 8)},
        {"images": ("array", (2, 8, 8), torch.float32)},
    ),
    Spec(
        "symmetry_score",
        symmetry_score,
        {"images": _images(), "squares": np.array([[0, 0, 4], [0, 0, 8]])},
        {"images": ("array", (2, 8, 8), torch.float32), "squares": ("squares",)},
        optional=frozenset({"squares"}),
    ),
    Spec(
        "split_by_score",
        split_by_score,
        {"scores": torch.arange(10.0), "fraction": 0.4},
        {"scores": ("array", (10,), torch.float64), "fraction": ("float", 0.0, 0.5)},
    ),
    Spec(
        "load_pooling_task",
        load_pooling_task,
        {"task": "closedness", **_SMALL},
        {"task": ("choice", BLOB_TASKS), **_SIZES},
        optional=frozenset({"cache_dir"}),
    ),
    Spec("load_closedness", load_closedness, _SMALL, _SIZES, optional=frozenset({"cache_dir"})),
    Spec("load_symmetry", load_symmetry, _SMALL, _SIZES, optional=frozenset({"cache_dir"})),
]

CASES = [case for spec in SPECS for case in spec.cases()]


@pytest.mark.parametrize(("spec", "arg"), CASES, ids=[f"{s.public}-{a}" for s, a in CASES])
@given(data=st.data())
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_bad_input_is_refused(spec: Spec, arg: str, data: st.DataObject) -> None:
    kind, *params = spec.args[arg]
    check(spec, arg, data.draw(_strategy(kind, *params)))


@pytest.mark.parametrize("spec", SPECS, ids=repr)
def test_the_valid_arguments_are_valid(spec: Spec) -> None:
    """The specs' valid arguments are accepted: each refusal above is the bad value's."""
    spec.call(**spec.valid)


# -- hand-written examples ------------------------------------------------------------------

_HUGE_VIEW = np.broadcast_to(np.True_, (40_000, 100, 100))  # 4e8 pixels, no memory


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: generate_blobs(0), "n"),
        (lambda: generate_blobs(-5), "n"),
        (lambda: generate_blobs(True), "n"),
        (lambda: generate_blobs(10.0), "n"),
        (lambda: generate_blobs(10**30), "n"),
        (lambda: generate_blobs(MAX_BLOB_IMAGES + 1), "n"),
        (lambda: generate_blobs(5, seed=-1), "seed"),
        (lambda: generate_blobs(5, seed=2**63), "seed"),
        (lambda: generate_blobs(5, seed=1.0), "seed"),
        (lambda: load_closedness(num_train=2), "num_train"),
        (lambda: load_closedness(num_test=0), "num_test"),
        (lambda: load_symmetry(num_train=10**12), "num_train"),
        (lambda: load_symmetry(num_train=MAX_BLOB_IMAGES, num_test=3), "num_train + num_test"),
        (lambda: load_pooling_task("Closedness"), "task"),
        (lambda: load_pooling_task(None), "task"),  # type: ignore[arg-type]
        (lambda: closedness_score(np.zeros((2, 8, 8))), "images"),  # empty images: 0/0
        (lambda: closedness_score(np.full((8, 8), 0.5)), "images"),  # not binary
        (lambda: closedness_score(np.full((8, 8), np.nan)), "images"),
        (lambda: closedness_score(_HUGE_VIEW), "images"),
        (lambda: symmetry_score(np.ones((4, 6))), "squares"),  # not square: squares needed
        (lambda: symmetry_score(_images(), np.array([[0, 6, 2], [0, 0, 8]])), "squares"),
        (lambda: split_by_score(np.zeros(2)), "scores"),  # int(2 * 0.4) = 0 per label
        (lambda: split_by_score(np.zeros(10), fraction=0.6), "fraction"),
        (lambda: split_by_score(np.zeros(10), fraction=0), "fraction"),
        (lambda: split_by_score(np.array([0.0, np.nan, 1.0, 2.0, 3.0])), "scores"),
        (lambda: split_by_score(np.broadcast_to(1.0, (10**9,))), "scores"),
    ],
)
def test_reported_examples(call: Callable[[], Any], name: str) -> None:
    refuses(call, name)


def _peak(call: Callable[[], Any]) -> tuple[BaseException, int, float]:
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        call()
    except BaseException as exc:  # noqa: BLE001 - returned for the caller to judge
        seconds = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return exc, peak, seconds
    tracemalloc.stop()
    raise AssertionError("accepted")


@pytest.mark.parametrize(
    "call",
    [
        lambda: generate_blobs(10**9),
        lambda: load_closedness(num_train=MAX_BLOB_IMAGES + 1),
        lambda: load_symmetry(num_train=MAX_BLOB_IMAGES // 2, num_test=MAX_BLOB_IMAGES // 2 + 1),
    ],
)
def test_size_refusals_allocate_nothing_large(call: Callable[[], Any]) -> None:
    exc, peak, seconds = _peak(call)
    assert isinstance(exc, ValueError) and "GB" in str(exc), exc
    assert f"at most {MAX_BLOB_IMAGES} images" in str(exc)
    assert peak < 2**20 and seconds < 1.0, (peak, seconds)


def test_a_corrupt_cache_file_is_refused_quickly(tmp_path: Path) -> None:
    load_closedness(**_SMALL, cache_dir=tmp_path)
    (file,) = tmp_path.iterdir()
    file.write_bytes(file.read_bytes()[:100])
    message = refuses(lambda: load_closedness(**_SMALL, cache_dir=tmp_path), "cache_dir")
    assert file.name in message
