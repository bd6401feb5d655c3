"""Bad input to dltheory.data, dltheory.losses and dltheory.optim is refused cleanly.

Issue: robust at every entry point.  Every public name of :mod:`dltheory.data`
(the loaders, ``read_csv_regression``, the ``Dataset`` and ``RegressionData``
containers, ``check_finite``), of :mod:`dltheory.losses` (``lp_loss``,
``LpLoss`` and its forward, ``check_p``, ``lp_loss_numpy``,
``lp_regression_optimum``) and of :mod:`dltheory.optim` (the ``EndToEnd``
constructor, ``add_param_group`` and ``step``, ``end_to_end_update`` and its
reference) gets, argument by argument, values drawn from the harness's
strategies of bad input (or, where an argument takes something the harness has
no kind for -- a file path, an iterable of parameters, a parameter group --
from the local strategies below); each must be refused with a ``ValueError`` or
``TypeError`` naming the argument, within a second and without a large
allocation.  The hand-written tests pin the examples users reported.
"""

from __future__ import annotations

import math
import os
import tempfile
import threading
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
from torch import nn

from dltheory.data import (
    MAX_CLASSES,
    MAX_CSV_BYTES,
    MAX_MNIST1D_SAMPLES,
    Dataset,
    RegressionData,
    check_finite,
    load_digits,
    load_mnist1d,
    load_regression,
    read_csv_regression,
)
from dltheory.losses import LpLoss, check_p, lp_loss, lp_loss_numpy, lp_regression_optimum
from dltheory.optim import (
    MAX_DEPTH,
    EndToEnd,
    end_to_end_update,
    end_to_end_update_reference,
)

from .harness import Spec, bad_values, check, refuses

F64 = torch.float64


def _randn(*shape: int, seed: int = 0, dtype: torch.dtype = F64) -> torch.Tensor:
    return torch.randn(shape, dtype=dtype, generator=torch.Generator().manual_seed(seed))


# -- local kinds of bad input (arguments the harness has no kind for) ----------------------

#: Bad CSV files, made once per session in a temporary folder (removed at exit).
_FOLDER = tempfile.TemporaryDirectory(prefix="dltheory-robust-")
_BAD_CSV = {
    "empty.csv": "",
    "blank.csv": "\n \n\n",
    "one-column.csv": "y\n1\n2\n3\n",
    "header-only.csv": "a,b,y\n",
    "one-row.csv": "1,2,3\n",
    "ragged.csv": "a,b,y\n1,2,3\n4,5\n",
    "word.csv": "a,b,y\n1,2,3\n4,five,6\n",
    "nan.csv": "a,b,y\n1,2,3\n4,5,nan\n",
    "inf.csv": "1,2,3\n4,-inf,6\n",
    "overflow.csv": "1,2,3\n4,1e999,6\n",
    "quote.csv": 'a,b,y\n1,"2,3\n',
}


def _bad_csv_paths() -> list[str]:
    folder = Path(_FOLDER.name)
    paths = []
    for name, text in _BAD_CSV.items():
        path = folder / name
        if not path.exists():
            path.write_text(text, encoding="utf-8")
        paths.append(str(path))
    latin = folder / "latin1.csv"
    if not latin.exists():
        latin.write_bytes(b"a,b,y\n1,2,3\n4,\xe9,6\n")
    huge = folder / "huge.csv"  # sparse: no disk used; refused by its size before reading
    if not huge.exists():
        with open(huge, "wb") as f:
            f.truncate(MAX_CSV_BYTES + 1)
    return [*paths, str(latin), str(huge), str(folder)]


def _good_csv() -> str:
    path = Path(_FOLDER.name) / "good.csv"
    path.write_text("a,b,y\n1,2,3\n4,5,7\n0,1,1\n", encoding="utf-8")
    return str(path)


_NOT_PATHS = [None, 3, 2.5, True, b"/dev/zero", ["a.csv"], {"path": "a.csv"}, object()]
_DEVICES = [p for p in ("/dev/zero", "/dev/null", "/dev/urandom") if os.path.exists(p)]


def _csv_path_kind() -> st.SearchStrategy[Any]:
    """Paths that are not readable CSV data (files made once) and values that are not paths."""
    special: list[Any] = [*_DEVICES, "/", "a.csv\x00", Path("/dev/zero")]
    return st.one_of(
        st.sampled_from(_NOT_PATHS),
        st.sampled_from(special),
        st.builds(lambda: _bad_csv_paths()).flatmap(st.sampled_from),
    )


def _not_str_kind() -> st.SearchStrategy[Any]:
    return st.sampled_from([None, 3, 2.5, True, b"name", ["a"], ("a",), object()])


def _tensor_kind(*makers: Callable[[], Any]) -> st.SearchStrategy[Any]:
    """Fresh values from factories (new tensors on every draw)."""
    return st.sampled_from(makers).map(lambda make: make())


def _x_kind() -> st.SearchStrategy[Any]:
    """Bad inputs of a classification data set (its other fields are 4 examples x 3 values)."""
    return _tensor_kind(
        lambda: torch.zeros(4, 3, dtype=torch.int64),
        lambda: torch.zeros(4, 3, dtype=torch.complex64),
        lambda: torch.zeros(4, 3, dtype=torch.bool),
        lambda: torch.zeros(()),
        lambda: torch.zeros(0, 3),
        lambda: torch.zeros(5, 3),  # 5 examples, 4 labels
        lambda: torch.zeros(4, 4),  # another example shape than x_test's
        lambda: np.zeros((4, 3), np.float32),
        lambda: [[0.0] * 3] * 4,
        lambda: None,
    )


def _labels_kind() -> st.SearchStrategy[Any]:
    return _tensor_kind(
        lambda: torch.tensor([0.0, 1.0, 0.0, 1.0]),
        lambda: torch.tensor([0, 1, 0, 2]),  # 2 classes
        lambda: torch.tensor([0, -1, 0, 1]),
        lambda: torch.tensor([0, 1, 0]),
        lambda: torch.tensor([[0, 1, 0, 1]]),
        lambda: torch.tensor([0, 1, 0, 1], dtype=torch.int32),
        lambda: torch.tensor([True, False, True, False]),
        lambda: torch.zeros(4, dtype=torch.complex64),
        lambda: np.array([0, 1, 0, 1]),
        lambda: [0, 1, 0, 1],
    )


def _finite_check_kind() -> st.SearchStrategy[Any]:
    """Bad values for check_finite (which takes arrays of any rank and dtype)."""

    def nonfinite(shape: tuple[int, ...], where: int, value: float, as_numpy: bool) -> Any:
        t = torch.zeros(shape)
        t.view(-1)[where % t.numel()] = value
        return t.numpy() if as_numpy else t

    return st.one_of(
        st.builds(
            nonfinite,
            st.sampled_from([(3,), (2, 3), (2, 2, 2), (1, 1, 8)]),
            st.integers(0, 7),
            st.sampled_from([math.nan, math.inf, -math.inf]),
            st.booleans(),
        ),
        _tensor_kind(
            lambda: torch.zeros(3, dtype=torch.complex64),
            lambda: np.zeros(3, np.complex128),
            lambda: torch.zeros(3, dtype=torch.bool),
            lambda: np.array(["a", "b"]),
            lambda: [1.0, 2.0],
            lambda: None,
            lambda: "x",
        ),
    )


def _fresh() -> nn.Parameter:
    return nn.Parameter(_randn(3, seed=1))


def _params_kind(group: bool = False) -> st.SearchStrategy[Any]:
    """Bad ``params`` for EndToEnd: not an iterable of real, non-empty, distinct tensors.

    ``group``: a group's ``params`` (where one tensor alone is fine).
    """
    p = _fresh()
    alone = [] if group else [lambda: _fresh()]  # a tensor, not an iterable of them
    return _tensor_kind(
        *alone,
        lambda: None,
        lambda: 3,
        lambda: "weights",
        lambda: {_fresh()},  # a set: no fixed order
        lambda: {"params": [_fresh()]},  # a group, not a list of groups
        lambda: [],
        lambda: iter([]),
        lambda: [nn.Parameter(torch.zeros(2, 2, dtype=torch.complex128))],
        lambda: [torch.zeros(3, dtype=torch.int64)],
        lambda: [nn.Parameter(torch.zeros(0, 4))],
        lambda: [nn.Parameter(torch.zeros(4, 0))],
        lambda: [nn.Parameter(torch.zeros(0, 4, 3))],
        lambda: [nn.Parameter(torch.zeros(0))],
        lambda: [np.zeros(3)],
        lambda: [[1.0, 2.0]],
        lambda: [None],
        lambda: [p, p],
        lambda: [{"params": [nn.Parameter(torch.zeros(2, dtype=torch.complex64))]}],
        lambda: [{"params": []}],
        lambda: [{"params": None}],
    )


def _group_kind() -> st.SearchStrategy[Any]:
    """Bad ``param_group`` for add_param_group: not a dict with a ``params`` entry."""
    return _tensor_kind(
        lambda: "group",
        lambda: [_fresh()],
        lambda: _fresh(),
        lambda: {"lr": 0.1},
        lambda: {"param": [_fresh()]},
        lambda: 3,
    )


#: Shapes of parameters for step: a vector (Eq. 10), small matrices (NumPy Gram route), a
#: 40 x 50 matrix (torch Gram route), a 3-D weight (a (2, 6) matrix) and a scalar.
_STEP_SHAPES = [(5,), (3, 4), (4, 3), (1, 6), (40, 50), (2, 3, 2), ()]


def _nonfinite_kind() -> st.SearchStrategy[Any]:
    """Tensors of a parameter's shape with NaN or infinite entries (a diverged run)."""

    def make(shape: tuple[int, ...], seed: int, where: int, value: float) -> torch.Tensor:
        t = _randn(*shape, seed=seed)
        flat = t.view(-1)
        flat[where % flat.numel()] = value
        if seed % 3 == 0:
            flat[(where * 7 + 1) % flat.numel()] = value
        return t

    return st.builds(
        make,
        st.sampled_from(_STEP_SHAPES),
        st.integers(0, 2**16),
        st.integers(0, 2**16),
        st.sampled_from([math.nan, math.inf, -math.inf]),
    )


LOCAL: dict[str, Callable[..., st.SearchStrategy[Any]]] = {
    "csv-path": _csv_path_kind,
    "not-str": _not_str_kind,
    "x-tensor": _x_kind,
    "labels": _labels_kind,
    "finite-check": _finite_check_kind,
    "params": _params_kind,
    "group": _group_kind,
    "nonfinite": _nonfinite_kind,
}


def _strategy(kind: str, *params: Any) -> st.SearchStrategy[Any]:
    return LOCAL[kind](*params) if kind in LOCAL else bad_values(kind, *params)


# -- how to call the names that are not plain functions -------------------------------------

_DS = {
    "name": "toy",
    "x_train": torch.zeros(4, 3),
    "y_train": torch.tensor([0, 1, 0, 1]),
    "x_test": torch.zeros(2, 3),
    "y_test": torch.tensor([1, 0]),
    "num_classes": 2,
    "source": "made up",
}
_RD = {
    "name": "toy",
    "x": _randn(5, 3, seed=2),
    "y": _randn(5, seed=3),
    "feature_names": ("a", "b", "c"),
    "target_names": ("y",),
    "source": "made up",
    "fingerprint": "0" * 64,
}
X, Y, W = _randn(6, 3, seed=4), _randn(6, seed=5), _randn(3, seed=6)


def _forward(pred: Any, target: Any, p: float = 2.0) -> Any:
    return LpLoss(p)(pred, target)


def _add_group(params: Any, lr: Any, depth: Any, group: Any = None) -> None:
    opt = EndToEnd([_fresh()], lr=0.1, depth=2)
    opt.add_param_group({"params": params, "lr": lr, "depth": depth} if group is None else group)


_VALID = object()  # step: "a random finite tensor of the other one's shape"


def _step(weight: Any, grad: Any, depth: int = 3) -> None:
    shape = next((t.shape for t in (weight, grad) if t is not _VALID), (3, 4))
    p = nn.Parameter(_randn(*shape, seed=7) if weight is _VALID else weight)
    p.grad = _randn(*shape, seed=8) * 1e-2 if grad is _VALID else grad
    EndToEnd([p], lr=0.1, depth=depth).step()


# The first optimizer of a process imports parts of torch lazily (seconds under tracemalloc):
# build one here, so that the timed refusals measure the checks, not the imports.
_warm = nn.Parameter(_randn(2, 2))
_warm.grad = torch.ones(2, 2, dtype=F64)
EndToEnd([_warm], lr=1e-3).step()

SPECS = [
    # ---------------------------------------------------------------- dltheory.data
    Spec(
        "load_digits",
        load_digits,
        {"test_fraction": 0.2, "seed": 0},
        {"test_fraction": ("float", 0.0, 1.0), "seed": ("seed",)},
    ),
    Spec(
        "load_mnist1d",
        load_mnist1d,
        {"seed": 0, "num_samples": 20, "test_fraction": 0.5},
        {
            "seed": ("seed",),
            "num_samples": ("int", 20, MAX_MNIST1D_SAMPLES),
            "test_fraction": ("float", 0.0, 1.0),
        },
    ),
    Spec(
        "load_regression",
        load_regression,
        {"name": "linnerud", "seed": 0},
        {"name": ("choice", ("diabetes", "linnerud")), "seed": ("seed",)},
        names={"name": "dataset"},
    ),
    Spec(
        "load_regression(csv)",
        load_regression,
        {"name": "linnerud", "seed": 0},
        {"name": ("csv-path",)},
        names={"name": "dataset"},
    ),
    Spec(
        "read_csv_regression",
        read_csv_regression,
        {"path": _good_csv()},
        {"path": ("csv-path",)},
    ),
    Spec(
        "Dataset",
        Dataset,
        _DS,
        {
            "name": ("not-str",),
            "source": ("not-str",),
            "x_train": ("x-tensor",),
            "y_train": ("labels",),
            "num_classes": ("int", 2, MAX_CLASSES),
        },
    ),
    Spec(
        "RegressionData",
        RegressionData,
        _RD,
        {
            "name": ("not-str",),
            "fingerprint": ("not-str",),
            "x": ("array", (5, 3), F64),
            "y": ("array", (5,), F64),
            "feature_names": ("object",),
        },
    ),
    Spec("check_finite", check_finite, {"x": X, "name": "x"}, {"x": ("finite-check",)}),
    # ---------------------------------------------------------------- dltheory.losses
    Spec("check_p", check_p, {"p": 2.0}, {"p": ("float", 1.0, None)}),
    Spec(
        "lp_loss",
        lp_loss,
        {"pred": Y, "target": Y + 1, "p": 4.0},
        {
            "pred": ("array", (6,), F64),
            "target": ("array", (6,), F64),
            "p": ("float", 1.0, None),
        },
    ),
    Spec("LpLoss", LpLoss, {"p": 2.0}, {"p": ("float", 1.0, None)}),
    Spec(
        "LpLoss.forward",
        _forward,
        {"pred": X, "target": X * 2},
        {"pred": ("array", (6, 3), F64), "target": ("array", (6, 3), F64)},
    ),
    Spec(
        "lp_loss_numpy",
        lp_loss_numpy,
        {"w": W.numpy(), "x": X.numpy(), "y": Y.numpy(), "p": 3.0},
        {
            "w": ("array", (3,), F64),
            "x": ("array", (6, 3), F64),
            "y": ("array", (6,), F64),
            "p": ("float", 1.0, None),
        },
    ),
    Spec(
        "lp_regression_optimum",
        lp_regression_optimum,
        {"x": X.numpy(), "y": Y.numpy(), "p": 4.0, "tol": 1e-13, "max_iter": 200},
        {
            "x": ("array", (6, 3), F64),
            "y": ("array", (6,), F64),
            "p": ("float", 2.0, None),
            "tol": ("float", 0.0, 1.0),
            "max_iter": ("int", 1, None),
        },
    ),
    # ---------------------------------------------------------------- dltheory.optim
    Spec(
        "EndToEnd",
        EndToEnd,
        {"params": [W.clone().requires_grad_()], "lr": 0.1, "depth": 3},
        {"params": ("params",), "lr": ("float", 0.0, None), "depth": ("int", 1, MAX_DEPTH)},
    ),
    Spec(
        "EndToEnd.add_param_group",
        _add_group,
        {"params": [W.clone().requires_grad_()], "lr": 0.1, "depth": 3, "group": None},
        {
            "params": ("params", True),
            "lr": ("float", 0.0, None),
            "depth": ("int", 1, MAX_DEPTH),
            "group": ("group",),
        },
        names={"group": "param_group"},
        optional=frozenset({"group"}),
    ),
    Spec(
        "EndToEnd.step",
        _step,
        {"weight": _VALID, "grad": _VALID},
        {"weight": ("nonfinite",), "grad": ("nonfinite",)},
    ),
    Spec(
        "end_to_end_update",
        end_to_end_update,
        {"weight": _randn(3, 4, seed=9), "grad": _randn(3, 4, seed=10), "depth": 3},
        {
            "weight": ("array", (3, 4), F64),
            "grad": ("array", (3, 4), F64),
            "depth": ("int", 1, MAX_DEPTH),
        },
    ),
    Spec(
        "end_to_end_update_reference",
        end_to_end_update_reference,
        {"weight": _randn(3, 4, seed=9), "grad": _randn(3, 4, seed=10), "depth": 3},
        {
            "weight": ("array", (3, 4), F64),
            "grad": ("array", (3, 4), F64),
            "depth": ("int", 1, MAX_DEPTH),
        },
    ),
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


# -- the examples users reported ------------------------------------------------------------


def _param(*shape: int) -> nn.Parameter:
    return nn.Parameter(_randn(*shape, seed=11))


@pytest.mark.parametrize(
    ("call", "name"),
    [
        # EndToEnd: lr = inf made every weight inf at the first step
        (lambda: EndToEnd([_param(3, 4)], lr=math.inf), "lr"),
        (lambda: EndToEnd([_param(3, 4)], lr=math.nan), "lr"),
        (lambda: EndToEnd([_param(3, 4)], lr=0.0), "lr"),
        (lambda: EndToEnd([{"params": [_param(3)], "lr": math.inf}], lr=0.1), "lr"),
        # depth 10^9 ran for minutes (or ran out of memory) in the first step
        (lambda: EndToEnd([_param(3, 4)], lr=0.1, depth=10**9), "depth"),
        (lambda: EndToEnd([_param(3, 4)], lr=0.1, depth=MAX_DEPTH + 1), "depth"),
        (lambda: end_to_end_update(_randn(2, 2), _randn(2, 2), 10**9), "depth"),
        (lambda: end_to_end_update_reference(_randn(2, 2), _randn(2, 2), 10**7), "depth"),
        # a parameter of shape (0, 4), or (0, 4, 3): an internal reshape error at the step
        (lambda: EndToEnd([nn.Parameter(torch.zeros(0, 4))], lr=0.1), "params"),
        (lambda: EndToEnd([nn.Parameter(torch.zeros(0, 4, 3))], lr=0.1), "params"),
        (lambda: end_to_end_update(torch.zeros(0, 4), torch.zeros(0, 4), 3), "weight"),
        (lambda: end_to_end_update_reference(torch.zeros(0, 4), torch.zeros(0, 4), 3), "weight"),
        # complex weights were updated with the real rule
        (lambda: EndToEnd([nn.Parameter(torch.ones(2, 2, dtype=torch.complex128))]), "params"),
        (lambda: end_to_end_update(torch.ones(2, 2) + 0j, torch.ones(2, 2) + 0j, 3), "weight"),
        (lambda: end_to_end_update(torch.ones(2, 2), torch.full((2, 2), math.nan), 3), "grad"),
        (lambda: end_to_end_update(*[torch.ones(2, 2, dtype=torch.int64)] * 2, 3), "weight"),
        (lambda: EndToEnd(None), "params"),
        (lambda: EndToEnd([]), "params"),
        (lambda: EndToEnd([_param(3)]).add_param_group("abc"), "param_group"),  # type: ignore[arg-type]
        # MNIST-1D: the size is estimated before anything is generated
        (lambda: load_mnist1d(num_samples=10**9), "num_samples"),
        (lambda: load_mnist1d(num_samples=10**30), "num_samples"),
        (lambda: load_mnist1d(num_samples=1005), "num_samples"),
        (lambda: load_mnist1d(num_samples=True), "num_samples"),
        (lambda: load_mnist1d(num_samples=100.0), "num_samples"),
        (lambda: load_mnist1d(test_fraction=1.0), "test_fraction"),
        (lambda: load_mnist1d(seed=2**63), "seed"),
        (lambda: load_mnist1d(num_samples=20, test_fraction=0.01), "test_fraction"),
        # digits: fractions and seeds
        (lambda: load_digits(test_fraction=0), "test_fraction"),
        (lambda: load_digits(test_fraction=1), "test_fraction"),
        (lambda: load_digits(test_fraction=1j), "test_fraction"),
        (lambda: load_digits(test_fraction=True), "test_fraction"),
        (lambda: load_digits(test_fraction=0.001), "test_fraction"),  # a class left out
        (lambda: load_digits(seed=2**64), "seed"),
        (lambda: load_digits(seed=-1), "seed"),
        # regression: seeds
        (lambda: load_regression("diabetes", seed=2**64), "seed"),
        (lambda: load_regression("diabetes", seed=1.5), "seed"),
        (lambda: load_regression("diabetes", seed=True), "seed"),
        (lambda: load_regression(b"diabetes"), "dataset"),  # type: ignore[arg-type]
        # losses: complex and NaN inputs, p = nan / inf / True
        (lambda: lp_loss(torch.ones(3) + 0j, torch.zeros(3) + 0j, 2), "pred"),
        (lambda: lp_loss(torch.full((3,), math.nan), torch.zeros(3), 2), "pred"),
        (lambda: lp_loss(torch.zeros(3), torch.full((3,), math.inf), 2), "target"),
        (lambda: lp_loss(torch.ones(3) * 1e30, torch.zeros(3), 4), "pred"),  # overflows
        (lambda: lp_loss(torch.ones(3), torch.zeros(3), math.nan), "p"),
        (lambda: lp_loss(torch.ones(3), torch.zeros(3), math.inf), "p"),
        (lambda: lp_loss(torch.ones(3), torch.zeros(3), True), "p"),
        (lambda: LpLoss(p=True), "p"),
        # the exact optimum: empty data, no iterations ('NoneType' ... / reshape errors)
        (lambda: lp_regression_optimum(np.zeros((0, 3)), np.zeros(0), 4), "x"),
        (lambda: lp_regression_optimum(np.zeros((0, 3)), np.zeros(0), 2), "x"),
        (lambda: lp_regression_optimum(np.zeros((3, 0)), np.zeros(3), 4), "x"),
        (lambda: lp_regression_optimum(np.eye(3), np.ones(3), 4, max_iter=0), "max_iter"),
        (lambda: lp_regression_optimum(np.eye(3), np.ones(3), 4, tol=math.nan), "tol"),
        (lambda: lp_regression_optimum(np.eye(3) + 1j, np.ones(3), 4), "x"),
        (lambda: lp_regression_optimum(np.eye(3) * 1e200, np.ones(3) * 1e200, 4), "x"),
        (lambda: lp_regression_optimum(np.ones((4, 1)), np.arange(4.0) * 1e100, 4), "p"),
        (lambda: lp_regression_optimum(X.numpy(), Y.numpy(), 1e6), "p"),
        (lambda: lp_regression_optimum([["a"]], [1.0], 4), "x"),
        (lambda: lp_loss_numpy(np.ones(2), np.ones((0, 2)), np.ones(0), 2), "x"),
        (lambda: lp_loss_numpy(np.ones(2), np.ones((3, 2)), np.ones(3) + 1j, 2), "y"),
    ],
)
def test_reported_examples(call: Callable[[], Any], name: str) -> None:
    refuses(call, name)


# -- size refusals: nothing large is allocated ------------------------------------------------


def _peak(call: Callable[[], Any]) -> tuple[BaseException, int, float]:
    """The exception ``call`` raises, the peak of traced memory and the seconds it took."""
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
    ("call", "name"),
    [
        (lambda: load_mnist1d(num_samples=10**9), "num_samples"),
        (lambda: load_mnist1d(num_samples=MAX_MNIST1D_SAMPLES + 10), "num_samples"),
        (
            lambda: lp_regression_optimum(np.broadcast_to(1.0, (40_000, 40_000)), np.ones(40_000)),
            "x",
        ),
        (
            lambda: lp_loss_numpy(
                np.ones(30_000), np.broadcast_to(1.0, (30_000, 30_000)), np.ones(30_000), 2
            ),
            "x",
        ),
        (lambda: EndToEnd([nn.Parameter(torch.zeros(0, 4))], lr=0.1), "params"),
    ],
)
def test_size_refusals_allocate_nothing_large(call: Callable[[], Any], name: str) -> None:
    exc, peak, seconds = _peak(call)
    assert isinstance(exc, ValueError) and str(exc).startswith(f"{name}: "), exc
    assert peak < 2**20 and seconds < 1.0, (peak, seconds)


def test_mnist1d_size_limit_is_what_fits() -> None:
    exc, _, _ = _peak(lambda: load_mnist1d(num_samples=MAX_MNIST1D_SAMPLES + 10))
    assert "GB" in str(exc) and f"at most {MAX_MNIST1D_SAMPLES} examples" in str(exc)


# -- CSV files: devices, pipes, huge files, values float64 cannot standardize -----------------


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_dev_zero_is_refused_before_reading() -> None:
    # the real device: reading it would never end (MemoryError after gigabytes)
    exc, peak, seconds = _peak(lambda: read_csv_regression("/dev/zero"))
    assert isinstance(exc, ValueError) and "a character device" in str(exc), exc
    assert str(exc).startswith("path: ") and "'/dev/zero'" in str(exc)
    assert peak < 2**20 and seconds < 1.0
    refuses(lambda: load_regression("/dev/zero"), "dataset")  # not an existing CSV file


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes")
def test_named_pipe_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "data.csv"
    os.mkfifo(fifo)

    def unblock() -> None:  # should the pipe be opened after all, fail instead of hanging
        time.sleep(5.0)
        with open(fifo, "wb"):
            pass

    guard = threading.Thread(target=unblock, daemon=True)
    guard.start()
    for load, name in ((read_csv_regression, "path"), (load_regression, "dataset")):
        message = refuses(lambda load=load: load(str(fifo)), name)
        assert "a named pipe" in message or "neither" in message


def test_huge_file_is_refused_by_its_size(tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    with open(path, "wb") as f:  # sparse: no disk is used
        f.truncate(MAX_CSV_BYTES + 1)
    for load, name in ((read_csv_regression, "path"), (load_regression, "dataset")):
        exc, peak, seconds = _peak(lambda load=load: load(str(path)))
        assert isinstance(exc, ValueError) and str(exc).startswith(f"{name}: "), exc
        assert f"of {MAX_CSV_BYTES + 1} bytes" in str(exc)
        assert peak < 2**20 and seconds < 1.0


def test_directory_is_refused(tmp_path: Path) -> None:
    assert "a directory" in refuses(lambda: read_csv_regression(tmp_path), "path")


@pytest.mark.parametrize(
    ("column", "values"),
    [
        ("big", ["1e308", "-1e308", "1e308", "1.5e308"]),  # sum and squares overflow
        ("big", ["1.7e308", "1.7e308", "1.6e308", "1.7e308"]),  # the mean overflows
        ("tiny", ["1e-320", "2e-320", "3e-320", "5e-320"]),  # subnormal: variance 0
        ("tiny", ["1e-170", "3e-170", "2e-170", "4e-170"]),  # squares subnormal: variance off
    ],
)
@pytest.mark.parametrize("target", [False, True])
def test_values_float64_cannot_standardize_are_refused(
    tmp_path: Path, column: str, values: list[str], target: bool
) -> None:
    other = ["1", "2", "4", "3"]
    names = ["a", column, "y"] if not target else ["a", "b", column]
    rows = [
        ",".join([o, v, str(i)] if not target else [o, str(i), v])
        for i, (o, v) in enumerate(zip(other, values, strict=True))
    ]
    path = tmp_path / "extreme.csv"
    path.write_text("\n".join([",".join(names), *rows]) + "\n", encoding="utf-8")
    x, y, _, _ = read_csv_regression(path)  # the raw values are finite: read as they are
    assert np.isfinite(x).all() and np.isfinite(y).all()
    message = refuses(lambda: load_regression(str(path)), "dataset")
    assert str(path) in message
    index = 3 if target else 2
    assert f"column {index} ({column!r})" in message and "rescale" in message


def test_moderate_magnitudes_still_standardize(tmp_path: Path) -> None:
    path = tmp_path / "scaled.csv"
    rows = [f"{i * 1e150},{(i % 3) * 1e-150},{i}" for i in range(6)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    ds = load_regression(str(path))
    x = ds.x.numpy()
    assert np.isfinite(x).all()
    np.testing.assert_allclose(x.std(axis=0), 1.0, atol=1e-12)


# -- seeds: the whole range [0, 2**63) ------------------------------------------------------


def test_seeds_beyond_32_bits_work_and_are_reproducible() -> None:
    big = 2**63 - 1
    a, b = load_digits(seed=big), load_digits(seed=big)
    assert torch.equal(a.y_test, b.y_test)
    assert not torch.equal(a.y_test, load_digits(seed=2**40).y_test)
    assert torch.equal(load_digits(seed=np.uint64(5)).y_test, load_digits(seed=5).y_test)
    r = load_regression("linnerud", seed=big)
    assert torch.equal(r.x, load_regression("linnerud", seed=big).x)
    m = load_mnist1d(seed=2**40, num_samples=20, test_fraction=0.5)
    assert torch.equal(
        m.x_train, load_mnist1d(seed=2**40, num_samples=20, test_fraction=0.5).x_train
    )
    assert not torch.equal(
        m.x_train, load_mnist1d(seed=0, num_samples=20, test_fraction=0.5).x_train
    )


# -- EndToEnd.step: a non-finite gradient is refused before the weight is touched ----------


@pytest.mark.parametrize("shape", _STEP_SHAPES)
@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_step_refuses_a_non_finite_gradient_and_keeps_the_weight(
    shape: tuple[int, ...], dtype: torch.dtype, bad: float
) -> None:
    w = nn.Parameter(_randn(*shape, seed=12, dtype=dtype))
    before = w.detach().clone()
    grad = _randn(*shape, seed=13, dtype=dtype)
    grad.view(-1)[-1] = bad
    w.grad = grad
    message = refuses(EndToEnd([w], lr=0.1, depth=3).step, "grad")
    assert "parameter 0" in message and "lr" in message
    assert torch.equal(w.detach(), before)


def test_step_at_the_largest_depth_is_quick() -> None:
    w = nn.Parameter(_randn(32, 32, seed=14))
    w.grad = _randn(32, 32, seed=15)
    t0 = time.perf_counter()
    EndToEnd([w], lr=1e-3, depth=MAX_DEPTH).step()
    assert time.perf_counter() - t0 < 2.0
    assert torch.isfinite(w.detach()).all()


def test_checked_numbers_are_stored_as_python_numbers() -> None:
    ds = Dataset(**{**_DS, "num_classes": np.int64(2)})
    assert type(ds.num_classes) is int and ds.num_classes == 2
    opt = EndToEnd([_fresh()], lr=np.float32(0.5), depth=np.int8(2))  # type: ignore[arg-type]
    assert type(opt.defaults["lr"]) is float and opt.defaults["lr"] == 0.5
    assert type(opt.defaults["depth"]) is int and opt.defaults["depth"] == 2
