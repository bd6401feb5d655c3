"""Bad input to MixedDilatedNet (dltheory.nets.mixed) is refused cleanly.

Every argument of the constructor, of :meth:`MixedDilatedNet.count_parameters`
and of the methods gets values drawn from the harness's strategies of bad
input (plus local kinds for flags, dtypes and dilation schemes); each must be
refused with a ``ValueError`` or ``TypeError`` naming the argument, within a
second and without a large allocation.  The hand-written tests pin the
structural refusals: schemes that do not tile ``n``, schemes over different
``n``, more interconnections than the schemes share levels.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dltheory.nets.convac import MAX_LOGIT_SCALE, MAX_PARAMETERS, POOLINGS
from dltheory.nets.mixed import MixedDilatedNet
from dltheory.nets.representation import ACTIVATIONS, REPRESENTATIONS

from .harness import Spec, bad_values, check, refuses


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


VALID: dict[str, Any] = {
    "n": 8,
    "in_dim": 2,
    "width": 2,
    "out_dim": 2,
    "interconnections": 1,
    "seed": 0,
    "logit_scale": 10.0,
}
NET = MixedDilatedNet(**VALID, dtype=torch.float64)
X = torch.randn(3, 8, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
INT_BIG = ("int", 1, MAX_PARAMETERS)


def _flag_kind() -> st.SearchStrategy[Any]:
    """Not ``True`` or ``False``: truthy and falsy look-alikes."""
    return st.sampled_from([None, 0, 1, np.int64(1), 1.0, "yes", "False", "", [True], b"1"])


def _dtype_kind() -> st.SearchStrategy[Any]:
    """Not float32 or float64: other torch dtypes, their names, NumPy types."""
    return st.sampled_from(
        [torch.float16, torch.int64, torch.bool, torch.complex64, "float64", np.float32, None, 1]
    )


def _scheme_kind(levels: int) -> st.SearchStrategy[Any]:
    """Dilations that do not make a tree over ``2**levels`` positions: too few or too many
    layers, repeated dilations, dilations as large as ``n``, and non-integers."""
    n = 2**levels
    return st.one_of(
        st.lists(st.sampled_from([1, 2, 4]), min_size=0, max_size=5).filter(
            lambda v: len(v) != levels or len(set(v)) != levels
        ),
        st.lists(st.integers(n, n + 100), min_size=levels, max_size=levels),
        st.lists(st.sampled_from([True, 2.0, "2", None, 1j]), min_size=levels, max_size=levels),
        st.sampled_from(["124", b"124", 4, {1: 2, 2: 4, 4: 1}]),
    )


def _widths_kind(levels: int) -> st.SearchStrategy[Any]:
    """Not one integer width >= 1 per level (a single int is valid: it is not drawn)."""
    return st.one_of(
        st.lists(st.integers(1, 8), min_size=0, max_size=5).filter(lambda v: len(v) != levels),
        st.lists(st.integers(-5, 0), min_size=levels, max_size=levels),
        st.lists(st.sampled_from([True, 2.0, "2", None, 1j]), min_size=levels, max_size=levels),
        st.sampled_from([None, "22", b"22", 2.0, {0: 2, 1: 2, 2: 2}]),
    )


LOCAL_KINDS: dict[str, Callable[..., st.SearchStrategy[Any]]] = {
    "flag": _flag_kind,
    "dtype": _dtype_kind,
    "scheme": _scheme_kind,
    "widths": _widths_kind,
}

SCHEMES = {
    "dilations_a": ("scheme", 3),
    "dilations_b": ("scheme", 3),
}

SPECS = [
    Spec(
        "MixedDilatedNet",
        MixedDilatedNet,
        VALID,
        {
            "n": ("int", 2, None),
            "in_dim": INT_BIG,
            "width": INT_BIG,
            "out_dim": INT_BIG,
            "interconnections": ("int", 0, 1),
            "seed": ("seed",),
            "logit_scale": ("float", 0.0, MAX_LOGIT_SCALE),
            "pooling": ("choice", POOLINGS),
            "representation": ("choice", REPRESENTATIONS),
            "device": ("device",),
            "dtype": ("dtype",),
            "shared": ("flag",),
            **SCHEMES,
        },
        optional=frozenset({"dilations_a", "dilations_b"}),
    ),
    Spec(
        "MixedDilatedNet",
        MixedDilatedNet,
        {**VALID, "width": [2, 3, 2]},
        {"width": ("widths", 3)},
    ),
    Spec(
        "MixedDilatedNet",
        MixedDilatedNet,
        {**VALID, "representation": "affine", "num_features": 3},
        {
            "num_features": INT_BIG,
            "representation_activation": ("choice", ACTIVATIONS),
        },
        optional=frozenset({"representation_activation"}),
    ),
    Spec(
        "MixedDilatedNet.count_parameters",
        MixedDilatedNet.count_parameters,
        {k: v for k, v in VALID.items() if k not in ("seed", "logit_scale")},
        {
            "n": ("int", 2, None),
            "in_dim": ("int", 1, None),
            "width": ("int", 1, None),
            "out_dim": ("int", 1, None),
            "interconnections": ("int", 0, 1),
            "representation": ("choice", REPRESENTATIONS),
            "shared": ("flag",),
            **SCHEMES,
        },
        optional=frozenset({"dilations_a", "dilations_b"}),
    ),
    Spec(
        "MixedDilatedNet.scores", NET.scores, {"x": X}, {"x": ("array", (3, 8, 2), torch.float64)}
    ),
    Spec(
        "MixedDilatedNet.forward",
        lambda x: NET(x),
        {"x": X},
        {"x": ("array", (3, 8, 2), torch.float32)},
    ),
    Spec(
        "MixedDilatedNet.features",
        NET.features,
        {"x": X},
        {"x": ("array", (3, 8, 2), torch.float64)},
    ),
    Spec(
        "MixedDilatedNet.coefficient_tensor",
        NET.coefficient_tensor,
        {"y": 1},
        {"y": ("int", 0, 1)},
    ),
]

CASES = [case for spec in SPECS for case in spec.cases()]


def _strategy(spec: Spec, arg: str) -> st.SearchStrategy[Any]:
    kind, *params = spec.args[arg]
    return LOCAL_KINDS[kind](*params) if kind in LOCAL_KINDS else bad_values(kind, *params)


@pytest.mark.parametrize(("spec", "arg"), CASES, ids=[f"{s.public}-{a}" for s, a in CASES])
@given(data=st.data())
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_bad_input_is_refused(spec: Spec, arg: str, data: st.DataObject) -> None:
    check(spec, arg, data.draw(_strategy(spec, arg)))


def test_the_valid_calls_are_valid() -> None:
    """Each spec's valid arguments are accepted, so each refusal is the bad value's doing."""
    for spec in SPECS:
        spec.call(**spec.valid)


# ------------------------------------------------------------------ the reported examples
def _quick(call: Callable[[], Any], name: str, match: str) -> None:
    """Refused by the contract (fast, small) with a message matching ``match``."""
    message = refuses(call, name)
    assert message.startswith(f"{name}: ") and match in message, message


def test_positions_must_be_a_power_of_two() -> None:
    _quick(lambda: MixedDilatedNet(12, 2, 2), "n", "power of two")
    _quick(lambda: MixedDilatedNet(1, 2, 2), "n", "got 1")
    _quick(lambda: MixedDilatedNet(2**40, 2, 2), "n", "leaf sets")


def test_schemes_must_tile_the_same_positions() -> None:
    _quick(lambda: MixedDilatedNet(8, 2, 2, dilations_a=(1, 2, 8)), "dilations_a", "tile")
    _quick(lambda: MixedDilatedNet(8, 2, 2, dilations_a=(1, 1, 4)), "dilations_a", "tile")
    _quick(lambda: MixedDilatedNet(8, 2, 2, dilations_a=(1, 2)), "dilations_a", "expected 3")
    # a scheme for 16 positions beside one for 8
    _quick(
        lambda: MixedDilatedNet(8, 2, 2, dilations_b=(1, 2, 4, 8)),
        "dilations_b",
        "same positions",
    )
    _quick(lambda: MixedDilatedNet(8, 2, 2, dilations_b={1: 2}), "dilations_b", "sequence")


def test_interconnections_are_limited_by_the_shared_levels() -> None:
    _quick(lambda: MixedDilatedNet(8, 2, 2, interconnections=2), "interconnections", "at most 1")
    _quick(lambda: MixedDilatedNet(16, 2, 2, interconnections=3), "interconnections", "at most 2")
    _quick(
        lambda: MixedDilatedNet(8, 2, 2, dilations_b=(4, 2, 1), interconnections=1),
        "interconnections",
        "at most 0",
    )
    _quick(
        lambda: MixedDilatedNet.count_parameters(4, 2, 2, interconnections=1),
        "interconnections",
        "at most 0",
    )
    _quick(lambda: MixedDilatedNet(8, 2, 2, interconnections=-1), "interconnections", ">= 0")


def test_widths_and_representations() -> None:
    _quick(lambda: MixedDilatedNet(8, 2, [2, 2]), "width", "3 integers")
    _quick(lambda: MixedDilatedNet(8, 2, {0: 2}), "width", "one width per level")
    _quick(lambda: MixedDilatedNet(8, 2, [2, 0, 2]), "width[1]", ">= 1")
    _quick(lambda: MixedDilatedNet(8, 2, 2, representation="one-hot"), "in_dim", "s = 1")
    _quick(lambda: MixedDilatedNet(8, 2, 2, num_features=3), "num_features", "identity")
    _quick(
        lambda: MixedDilatedNet(8, 2, 2, representation_activation="relu"),
        "representation_activation",
        "only the 'affine'",
    )
    _quick(lambda: MixedDilatedNet(8, 2, 2, shared="no"), "shared", "True or False")
    _quick(lambda: MixedDilatedNet(8, 2, 2, dtype="float64"), "dtype", "torch.float64")
    _quick(lambda: MixedDilatedNet(8, 2, 2, pooling="sum"), "pooling", "'product'")


def test_huge_nets_are_refused_before_the_trees_are_built() -> None:
    t0 = time.perf_counter()
    _quick(lambda: MixedDilatedNet(8, 2, 10**5, 2), "width", "entries")
    _quick(lambda: MixedDilatedNet(8, 10**9, 2, 2), "in_dim", "entries")
    # unshared weights over 2**16 positions: refused from the unmixed count, in no time
    _quick(lambda: MixedDilatedNet(2**16, 64, 64, shared=False), "width", "above the limit")
    _quick(
        lambda: MixedDilatedNet(8, 2, 2, representation="affine", num_features=10**9),
        "num_features",
        "entries",
    )
    assert time.perf_counter() - t0 < 1.0


def test_inputs_and_outputs() -> None:
    _quick(lambda: NET.scores(torch.zeros(3, 4, 2)), "x", "(batch, 8, 2)")
    _quick(lambda: NET.scores(torch.zeros(0, 8, 2)), "x", "non-empty")
    _quick(lambda: NET(np.zeros((3, 8, 2))), "x", "torch.Tensor")
    _quick(lambda: NET.coefficient_tensor(2), "y", "2 outputs")
    relu = MixedDilatedNet(8, 2, 2, pooling="average")
    _quick(lambda: relu.coefficient_tensor(), "pooling", "not multilinear")
    # integer inputs are cast to the weights' dtype
    assert NET.scores(torch.ones(2, 8, 2, dtype=torch.int64)).dtype == torch.float64
