"""Bad input to dltheory.nets and dltheory.train is refused cleanly (issue: robust at every entry).

Every public name of :mod:`dltheory.nets` (``ConvAC`` and its methods, ``DeepLinear`` and
``from_end_to_end``, ``balanced_factors``, ``make_representation``, ``Representation``) and
:func:`dltheory.train` / :func:`dltheory.evaluate` gets, argument by argument, values drawn
from the harness's strategies of bad input; each must be refused with a ``ValueError`` or
``TypeError`` naming the argument, within a second and without a large allocation.  The
hand-written tests below pin the examples users reported.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

import dltheory as dt
from dltheory.data import Dataset
from dltheory.nets import (
    INITS,
    POOLINGS,
    REPRESENTATIONS,
    ConvAC,
    DeepLinear,
    Representation,
    balanced_factors,
    make_representation,
)
from dltheory.nets.convac import CONVAC_INITS, MAX_LOGIT_SCALE, MAX_PARAMETERS
from dltheory.nets.linear import MAX_DEPTH, MAX_SCALE
from dltheory.nets.representation import ACTIVATIONS
from dltheory.train import MAX_EPOCHS, MAX_RATE, OPTIMIZERS, SCHEDULES, evaluate, train

from .harness import Spec, bad_values, check, refuses


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Tiny tensors: one thread is fastest and steady on a busy machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# ------------------------------------------------------------------ valid arguments
TREE = dt.ModeTree.balanced(4)
NET = ConvAC(TREE, in_dim=2, ranks=2, out_dim=2, dtype=torch.float64)
X = torch.randn(3, 4, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
TEMPLATES = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=torch.float64)
REP = make_representation("similarity", 2, 3)
E2E = torch.randn(3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
LINEAR = DeepLinear(5, 4, 3)


def _toy_data() -> Dataset:
    g = torch.Generator().manual_seed(2)
    x = torch.randn(16, 4, generator=g)
    y = torch.arange(16) % 2
    return Dataset("toy", x, y, x[:6].clone(), y[:6].clone(), 2, "made up for the tests")


DATA = _toy_data()
MODEL = nn.Linear(4, 2)
CONVAC_VALID: dict[str, Any] = {
    "tree": TREE,
    "in_dim": 2,
    "ranks": 2,
    "out_dim": 2,
    "seed": 0,
    "logit_scale": 10.0,
}


def _convac(**kwargs: Any) -> ConvAC:
    return ConvAC(**kwargs)


def _method(name: str) -> Callable[..., Any]:
    return lambda **kwargs: getattr(NET, name)(**kwargs)


def _is_none(value: Any) -> bool:
    return value is None


def _is_empty_batch(value: Any) -> bool:
    return isinstance(value, torch.Tensor) and value.ndim == 2 and value.shape[0] == 0


#: Values the harness's strategies draw that are valid for this argument (``None`` where it is
#: the default; an empty batch for ``DeepLinear.forward``), left out of the bad ones.
VALID_TOO: dict[tuple[str, str], Callable[[Any], bool]] = {
    **{
        (public, arg): _is_none
        for public, args in {
            "ConvAC": ("patch", "activation", "representation_activation"),
            "DeepLinear": ("hidden", "scale"),
            "DeepLinear.from_end_to_end": ("hidden",),
            "make_representation": ("activation",),
            "train": ("time_limit", "schedule"),
        }.items()
        for arg in args
    },
    ("DeepLinear.forward", "x"): _is_empty_batch,
}


# -- local kinds of bad input (arguments the harness has no kind for) ----------------------
def _flag_kind() -> st.SearchStrategy[Any]:
    """Not ``True`` or ``False``: truthy and falsy look-alikes."""
    return st.sampled_from([None, 0, 1, np.int64(1), 1.0, "yes", "False", "", [True], b"1"])


def _dtype_kind() -> st.SearchStrategy[Any]:
    """Not float32 or float64: other torch dtypes, their names, NumPy types."""
    return st.sampled_from(
        [
            torch.float16,
            torch.bfloat16,
            torch.complex64,
            torch.complex128,
            torch.int64,
            torch.bool,
            "float32",
            "torch.float64",
            np.float64,
            np.dtype("float32"),
            None,
            1,
        ]
    )


def _widths_kind(count: int, minimum: int) -> st.SearchStrategy[Any]:
    """Not ``count`` integer widths ``>= minimum``: wrong length, small, non-integer, not a list."""
    return st.one_of(
        st.lists(st.integers(minimum, 64), min_size=0, max_size=5).filter(
            lambda v: len(v) != count
        ),
        st.lists(st.integers(-5, minimum - 1), min_size=count, max_size=count),
        st.lists(st.sampled_from([True, 2.0, 4.5, "4", None, 1j]), min_size=count, max_size=count),
        st.sampled_from([None, 4, "44", b"44", 4.0, {0: 4, 1: 4}]),
    )


def _tree_kind() -> st.SearchStrategy[Any]:
    return st.sampled_from([None, [[0, 1], [2, 3]], "balanced", 4, (4,), TREE.children, object()])


def _model_kind() -> st.SearchStrategy[Any]:
    return st.sampled_from([None, "linear", nn.Linear, lambda x: x, 3, [MODEL], {"model": MODEL}])


def _data_kind() -> st.SearchStrategy[Any]:
    return st.sampled_from(
        [None, (DATA.x_train, DATA.y_train), {"x": DATA.x_train}, "digits", DATA.x_train, 3]
    )


LOCAL_KINDS: dict[str, Callable[..., st.SearchStrategy[Any]]] = {
    "flag": _flag_kind,
    "dtype": _dtype_kind,
    "widths": _widths_kind,
    "tree": _tree_kind,
    "model": _model_kind,
    "data": _data_kind,
}

SPECS = [
    Spec(
        "ConvAC",
        _convac,
        CONVAC_VALID,
        {
            # beyond MAX_PARAMETERS a single width, size or output count is refused by the
            # parameter estimate, before anything is allocated
            "in_dim": ("int", 1, MAX_PARAMETERS),
            "out_dim": ("int", 1, MAX_PARAMETERS),
            "ranks": ("int", 1, MAX_PARAMETERS),
            "seed": ("seed",),
            "logit_scale": ("float", 0.0, MAX_LOGIT_SCALE),
            "pooling": ("choice", POOLINGS),
            "representation": ("choice", REPRESENTATIONS),
            "device": ("device",),
            "tree": ("tree",),
            "dtype": ("dtype",),
            "shared": ("flag",),
            "positive": ("flag",),
        },
    ),
    # the arguments that only make sense with another valid configuration
    Spec(
        "ConvAC",
        _convac,
        {**CONVAC_VALID, "representation": "affine", "num_features": 3},
        {
            "num_features": ("int", 1, MAX_PARAMETERS),
            "representation_activation": ("choice", ACTIVATIONS),
        },
    ),
    Spec(
        "ConvAC",
        _convac,
        {**CONVAC_VALID, "pooling": "max", "activation": "relu"},
        {"activation": ("choice", ("default", "relu"))},
    ),
    Spec(
        "ConvAC",
        _convac,
        {**CONVAC_VALID, "tree": dt.ModeTree.grid((4, 4)), "in_dim": 18, "patch": 3},
        {"patch": ("int", 1, None)},
    ),
    # the ReLU baselines' options: biases (max / average pooling only), Xavier weights
    Spec(
        "ConvAC",
        _convac,
        {**CONVAC_VALID, "pooling": "max", "bias": True, "init": "xavier"},
        {"bias": ("flag",), "init": ("choice", CONVAC_INITS)},
    ),
    Spec("ConvAC.scores", _method("scores"), {"x": X}, {"x": ("array", (3, 4, 2), torch.float64)}),
    Spec(
        "ConvAC.forward", _method("forward"), {"x": X}, {"x": ("array", (3, 4, 2), torch.float32)}
    ),
    Spec(
        "ConvAC.log_scores",
        _method("log_scores"),
        {"x": X},
        {"x": ("array", (3, 4, 2), torch.float64)},
    ),
    Spec(
        "ConvAC.coefficient_tensor", _method("coefficient_tensor"), {"y": 1}, {"y": ("int", 0, 1)}
    ),
    Spec(
        "ConvAC.grid_tensor",
        _method("grid_tensor"),
        {"templates": TEMPLATES, "y": 0},
        {"templates": ("array", (3, 2), torch.float64), "y": ("int", 0, 1)},
    ),
    Spec(
        "DeepLinear",
        DeepLinear,
        {"in_dim": 5, "out_dim": 4, "depth": 3, "hidden": 6, "init": "balanced", "scale": 0.5},
        {
            "in_dim": ("int", 1, MAX_PARAMETERS),
            "out_dim": ("int", 1, MAX_PARAMETERS),
            "depth": ("int", 1, MAX_DEPTH),
            "hidden": ("int", 4, MAX_PARAMETERS),  # balanced: >= min(in_dim, out_dim) = 4
            "init": ("choice", INITS),
            "scale": ("float", 0.0, MAX_SCALE),
            "seed": ("seed",),
            "device": ("device",),
            "dtype": ("dtype",),
        },
    ),
    Spec(
        "DeepLinear",
        DeepLinear,
        {"in_dim": 5, "out_dim": 4, "depth": 3, "hidden": [6, 7]},
        {"hidden": ("widths", 2, 4)},
    ),
    Spec(
        "DeepLinear.forward",
        lambda x: LINEAR(x),
        {"x": torch.ones(3, 5)},
        {"x": ("array", (3, 5), torch.float32)},
    ),
    Spec(
        "DeepLinear.from_end_to_end",
        DeepLinear.from_end_to_end,
        {"matrix": E2E, "depth": 3, "hidden": 5, "seed": 0},
        {
            "matrix": ("array", (3, 4), torch.float64),
            "depth": ("int", 1, MAX_DEPTH),
            "hidden": ("int", 3, MAX_PARAMETERS),
            "seed": ("seed",),
        },
    ),
    Spec(
        "balanced_factors",
        balanced_factors,
        {"matrix": E2E, "depth": 3, "hidden": [4, 5], "seed": 0},
        {
            "matrix": ("array", (3, 4), torch.float64),
            "depth": ("int", 1, MAX_DEPTH),
            "hidden": ("widths", 2, 3),
            "seed": ("seed",),
        },
    ),
    Spec(
        "make_representation",
        make_representation,
        {"name": "similarity", "in_dim": 2, "num_features": 3, "seed": 0},
        {
            "name": ("choice", REPRESENTATIONS),
            "in_dim": ("int", 1, MAX_PARAMETERS),
            "num_features": ("int", 1, MAX_PARAMETERS),
            "seed": ("seed",),
        },
        names={"name": "representation"},
    ),
    Spec(
        "make_representation",
        make_representation,
        {"name": "affine", "in_dim": 2, "num_features": 3, "activation": "tanh"},
        {"activation": ("choice", ACTIVATIONS)},
    ),
    Spec(
        "Representation",
        Representation,
        {"in_dim": 2, "num_features": 3},
        {"in_dim": ("int", 1, None), "num_features": ("int", 1, None)},
    ),
    Spec(
        "Representation.forward",
        lambda x: REP(x),
        {"x": X.float()},
        {"x": ("array", (3, 4, 2), torch.float32)},
    ),
    Spec(
        "Representation.log_forward",
        lambda x: REP.log_forward(x),
        {"x": X.float()},
        {"x": ("array", (3, 4, 2), torch.float32)},
    ),
    Spec(
        "train",
        train,
        {
            "model": MODEL,
            "data": DATA,
            "epochs": 1,
            "batch_size": 8,
            "lr": 1e-2,
            "progress": False,
            "schedule": "cosine",
            "time_limit": 30.0,
        },
        {
            "epochs": ("int", 1, MAX_EPOCHS),
            "batch_size": ("int", 1, None),
            "eval_batch_size": ("int", 1, None),
            "lr": ("float", 0.0, MAX_RATE),
            "weight_decay": ("float", 0.0, MAX_RATE),
            "time_limit": ("float", 0.0, None),
            "optimizer": ("choice", OPTIMIZERS),
            "schedule": ("choice", SCHEDULES),
            "seed": ("seed",),
            "device": ("device",),
            "progress": ("flag",),
            "model": ("model",),
            "data": ("data",),
        },
    ),
    Spec(
        "evaluate",
        evaluate,
        {"model": MODEL, "x": DATA.x_test, "y": DATA.y_test, "batch_size": 4},
        {
            "x": ("array", (6, 4), torch.float32),
            # a float tensor of each bad kind: labels are integers
            "y": ("array", (6,), torch.float32),
            "batch_size": ("int", 1, None),
            "model": ("model",),
        },
    ),
]

CASES = [case for spec in SPECS for case in spec.cases()]


def _strategy(spec: Spec, arg: str) -> st.SearchStrategy[Any]:
    kind, *params = spec.args[arg]
    values = LOCAL_KINDS[kind](*params) if kind in LOCAL_KINDS else bad_values(kind, *params)
    valid = VALID_TOO.get((spec.public, arg))
    return values if valid is None else values.filter(lambda v: not valid(v))


@pytest.mark.parametrize(("spec", "arg"), CASES, ids=[f"{s.public}-{a}" for s, a in CASES])
@given(data=st.data())
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_bad_input_is_refused(spec: Spec, arg: str, data: st.DataObject) -> None:
    check(spec, arg, data.draw(_strategy(spec, arg)))


def test_every_public_name_has_a_spec() -> None:
    covered = {s.public.split(".")[0] for s in SPECS}
    public = {"ConvAC", "DeepLinear", "balanced_factors", "make_representation", "Representation"}
    assert public <= covered
    assert {"train", "evaluate"} <= covered
    # MixedDilatedNet has its specs in test_mixed_nets.py
    names = set(dt.nets.__all__) - {"INITS", "POOLINGS", "REPRESENTATIONS", "MixedDilatedNet"}
    assert names == public


def test_the_valid_calls_are_valid() -> None:
    """Each spec's valid arguments are accepted, so each refusal is the bad value's doing."""
    for spec in SPECS:
        spec.call(**spec.valid)


# ------------------------------------------------------------------ the reported examples
def _quick(call: Callable[[], Any], name: str, match: str) -> None:
    """Refused by the contract (fast, small) with a message matching ``match``."""
    message = refuses(call, name)
    assert message.startswith(f"{name}: ") and match in message, message


def test_huge_deep_linear_is_refused_with_its_size_before_torch_allocates() -> None:
    # torch's allocations are invisible to tracemalloc: the refusal is before construction
    # because it is immediate and names the size an estimate gives (16 TB of float64)
    t0 = time.perf_counter()
    _quick(lambda: DeepLinear(10**6, 10**6, 2), "in_dim", "2e+12 entries (16 TB)")
    _quick(lambda: DeepLinear(10**6, 10**6, 2), "in_dim", "above the limit of 2.68e+08")
    _quick(lambda: DeepLinear(4, 4, 5, hidden=[4, 10**9, 4, 4]), "hidden", "entries")
    assert time.perf_counter() - t0 < 1.0


def test_huge_scale_is_refused_and_the_largest_gives_finite_weights() -> None:
    _quick(lambda: DeepLinear(5, 4, 3, scale=1e200), "scale", "got 1e+200")
    for init in INITS:
        net = DeepLinear(5, 4, 3, init=init, scale=MAX_SCALE)
        assert all(torch.isfinite(w).all() for w in net.weights)


def test_wide_convac_is_refused_before_allocating() -> None:
    _quick(lambda: ConvAC(dt.ModeTree.balanced(8), 2, 10**5, 2), "ranks", "(240 GB)")
    _quick(lambda: ConvAC(TREE, 10**9, 2, 2), "in_dim", "entries")
    _quick(
        lambda: ConvAC(TREE, 2, 2, representation="affine", num_features=10**9),
        "num_features",
        "entries",
    )
    # shared weights count once per level: a wide shared net over many positions is fine
    net = ConvAC(dt.ModeTree.grid((16, 16)), 2, 256, 2, shared=True)
    assert sum(p.numel() for p in net.parameters()) < MAX_PARAMETERS


def test_reported_convac_arguments() -> None:
    _quick(lambda: ConvAC(TREE, 2, 2, logit_scale=math.nan), "logit_scale", "got nan")
    _quick(
        lambda: ConvAC(TREE, 2, 2, representation="affine", num_features=2.5),
        "num_features",
        "got 2.5",
    )
    _quick(lambda: ConvAC(TREE, 2, 2, device="tpu9"), "device", "'tpu9'")
    if not torch.cuda.is_available():
        _quick(lambda: ConvAC(TREE, 2, 2, device="cuda"), "device", "this torch has no CUDA")
        _quick(lambda: DeepLinear(2, 2, 2, device="cuda"), "device", "this torch has no CUDA")
        _quick(lambda: train(MODEL, DATA, device="cuda:0"), "device", "this torch has no CUDA")
    _quick(lambda: ConvAC(TREE, 2, 2, shared="no"), "shared", "True or False")
    _quick(lambda: ConvAC(TREE, 2, 2, positive=1), "positive", "True or False")
    _quick(lambda: ConvAC(TREE, 2, 2, dtype="float64"), "dtype", "torch.float64")
    _quick(lambda: ConvAC(TREE, 2, 2, dtype=np.float32), "dtype", "numpy.float32")
    _quick(lambda: ConvAC(TREE, 2, 2, patch=3), "patch", "grid tree")
    _quick(lambda: ConvAC(TREE, 2, 2, bias=True), "bias", "product pooling is multilinear")
    _quick(lambda: ConvAC(TREE, 2, 2, pooling="max", bias="yes"), "bias", "True or False")
    _quick(lambda: ConvAC(TREE, 2, 2, init="he"), "init", "'default', 'xavier'")
    _quick(
        lambda: ConvAC(TREE, 1, 2, representation="one-hot", positive=True, init="xavier"),
        "init",
        "log-weights",
    )
    _quick(lambda: ConvAC(dt.ModeTree.grid((4, 4)), 8, 2, patch=3), "patch", "in_dim")
    _quick(lambda: ConvAC(None, 2, 2), "tree", "ModeTree")


@pytest.mark.parametrize("value", [True, np.bool_(False)])
def test_true_is_not_a_width_or_an_index(value: Any) -> None:
    _quick(lambda: ConvAC(TREE, 2, value), "ranks", "(bool)")
    _quick(lambda: ConvAC(TREE, 2, [2, value]), "ranks[1]", "(bool)")
    _quick(lambda: ConvAC(TREE, value, 2), "in_dim", "(bool)")
    _quick(lambda: DeepLinear(5, 4, 3, hidden=value), "hidden", "(bool)")
    _quick(lambda: DeepLinear(5, 4, 3, hidden=[6, value]), "hidden[1]", "(bool)")
    _quick(lambda: NET.coefficient_tensor(value), "y", "(bool)")
    _quick(lambda: NET.grid_tensor(TEMPLATES, y=value), "y", "(bool)")
    _quick(lambda: train(MODEL, DATA, epochs=value), "epochs", "(bool)")


@pytest.mark.parametrize("seed", [2**64, 2**63, -1, 1.5, 2.0, "0", None])
def test_seeds_outside_0_to_2_63_are_refused(seed: Any) -> None:
    _quick(lambda: ConvAC(TREE, 2, 2, seed=seed), "seed", "[0, 2**63)")
    _quick(lambda: DeepLinear(5, 4, 3, seed=seed), "seed", "[0, 2**63)")
    _quick(lambda: DeepLinear.from_end_to_end(E2E, 2, seed=seed), "seed", "[0, 2**63)")
    _quick(lambda: balanced_factors(E2E, 2, [4], seed=seed), "seed", "[0, 2**63)")
    _quick(lambda: make_representation("affine", 2, 3, None, seed), "seed", "[0, 2**63)")
    _quick(lambda: train(MODEL, DATA, seed=seed, progress=False), "seed", "[0, 2**63)")


def test_largest_seed_is_accepted() -> None:
    ConvAC(TREE, 2, 2, seed=2**63 - 1)
    DeepLinear(5, 4, 3, seed=2**63 - 1)  # the balanced init also draws with seed + 1


@pytest.mark.parametrize("method", ["scores", "forward", "log_scores"])
def test_complex_and_nan_inputs_are_refused(method: str) -> None:
    call = getattr(NET, method)
    _quick(lambda: call(X.to(torch.complex128)), "x", "real values")
    _quick(lambda: call(X + 1j), "x", "real values")
    bad = X.clone()
    bad[1, 2, 0] = math.nan
    _quick(lambda: call(bad), "x", "NaN or infinite")
    _quick(lambda: call(X[:0]), "x", "non-empty batch")
    _quick(lambda: call(X.numpy()), "x", "torch.Tensor")


def test_train_refuses_before_any_step() -> None:
    model = nn.Linear(4, 2)
    before = [p.detach().clone() for p in model.parameters()]
    for kwargs, name in [
        ({"epochs": 0}, "epochs"),
        ({"lr": -1.0}, "lr"),
        ({"lr": 1e300}, "lr"),
        ({"batch_size": 0}, "batch_size"),
        ({"time_limit": math.inf}, "time_limit"),
        ({"optimizer": "lbfgs"}, "optimizer"),
        ({"schedule": "linear"}, "schedule"),
        ({"seed": 2**64}, "seed"),
        ({"device": "tpu9"}, "device"),
        ({"progress": "no"}, "progress"),
    ]:
        _quick(lambda kw=kwargs: train(model, DATA, **{"progress": False, **kw}), name, "")
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    _quick(lambda: train(None, DATA), "model", "torch.nn.Module")  # type: ignore[arg-type]
    _quick(lambda: train(model, (DATA.x_train, DATA.y_train)), "data", "Dataset")  # type: ignore[arg-type]
    nan_data = Dataset(
        "nan",
        torch.full((4, 4), math.nan),
        torch.zeros(4, dtype=torch.int64),
        DATA.x_test,
        DATA.y_test,
        2,
        "made up",
    )
    _quick(lambda: train(model, nan_data, progress=False), "data.x_train", "NaN")
