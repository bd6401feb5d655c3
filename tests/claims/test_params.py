"""Claim parameters: every number is bounded, floats are finite, integers are integers."""

from __future__ import annotations

import time

import pytest

from dltheory.claims import Param
from dltheory.claims.catalogue import builtin_claims

NUMERIC = ("int", "float", "ints")


def test_every_numeric_parameter_has_both_bounds_and_defaults_inside() -> None:
    for claim in builtin_claims():
        for p in claim.params:
            if p.kind not in NUMERIC:
                continue
            assert p.minimum is not None and p.maximum is not None, f"{claim.id} {p.name}"
            for profile in ("quick", "full"):
                value = getattr(p, profile)
                assert p.validate(value) == value, f"{claim.id} {p.name} {profile}"
        for profile in ("quick", "full"):
            claim.check(claim.defaults(profile))  # the profiles themselves are feasible


@pytest.mark.parametrize(
    ("kind", "text", "error"),
    [
        ("int", "2.5", ValueError),
        ("int", "true", ValueError),
        ("int", "1e3", ValueError),
        ("int", "9" * 40, ValueError),  # an integer, far above the maximum
        ("float", "nan", ValueError),
        ("float", "inf", ValueError),
        ("float", "-inf", ValueError),
        ("float", "1e400", ValueError),  # overflows to inf
        ("float", "0.5j", ValueError),
        ("ints", "1,2.5", ValueError),
        ("ints", ",".join(["2"] * 65), ValueError),  # too many items
        ("ints", "", ValueError),
        ("bool", "maybe", ValueError),
    ],
)
def test_bad_values_are_refused_naming_the_parameter(kind: str, text: str, error: type) -> None:
    p = Param("x", kind, 1, 1, "a test parameter", minimum=0, maximum=100)
    if kind == "bool":
        p = Param("x", kind, True, True, "a test parameter")
    t0 = time.perf_counter()
    with pytest.raises(error, match=r"^--set x: expected"):
        p.parse(text)
    assert time.perf_counter() - t0 < 1.0


def test_bounds_and_kinds() -> None:
    p = Param("n", "int", 3, 3, "n", minimum=1, maximum=10)
    assert p.parse(" 7 ") == 7 and p.parse("10") == 10
    with pytest.raises(ValueError, match=r"--set n: expected an integer in \[1, 10\], got 11"):
        p.parse("11")
    f = Param("tol", "float", 0.1, 0.1, "tol", minimum=0, maximum=1)
    assert f.parse("1e-3") == 1e-3
    with pytest.raises(ValueError, match="--set tol: expected a finite number in"):
        f.parse("nan")
    assert Param("b", "bool", True, True, "b").parse("No") is False
    with pytest.raises(ValueError, match="kind"):
        Param("k", "complex", 1, 1, "k")
    with pytest.raises(ValueError, match="needs both a minimum and a maximum"):
        Param("k", "int", 1, 1, "k", minimum=0)
    with pytest.raises(TypeError, match="--set n"):
        p.validate(True)  # a bool is not an integer
