"""The contract every public entry point keeps on bad input, and generators of bad input.

Contract (issue: robust at every entry point): a bad argument is refused with a
``ValueError`` or ``TypeError`` whose message names the argument, within a
second and without a large allocation (peak traced memory, ``tracemalloc``,
which sees Python and NumPy allocations).  :func:`refuses` checks it.

Bad values are drawn by hypothesis from the strategies here, one per kind of
argument (:data:`KINDS`): an ``int`` argument gets bools, floats (``2.0`` and
``2.7``), NaN, strings, None, complex numbers and integers out of range; a
``float`` argument gets NaN, infinities, bools, complex numbers and values out
of range; and so on.  Each test file lists :class:`Spec` objects (a public
name, a way to call it with valid arguments, and the kind of each argument)
and :func:`check` runs one drawn bad value through the contract.  Every value
tried is counted per public name (printed at the end of the session).
"""

from __future__ import annotations

import math
import os
import re
import time
import tracemalloc
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from hypothesis import strategies as st

__all__ = [
    "KINDS",
    "TRIED",
    "Spec",
    "bad_values",
    "check",
    "refuses",
]

#: (public name) -> set of reprs of bad values tried, for the session summary.
TRIED: dict[str, set[str]] = defaultdict(set)

#: Largest peak of traced memory a refusal may take.
MAX_BYTES = 64 * 2**20
#: Longest a refusal may take (seconds).
MAX_SECONDS = 1.0
if os.environ.get("MUTANT_UNDER_TEST"):  # mutmut's tracing slows every call several-fold
    MAX_SECONDS *= 10


def refuses(call: Callable[[], Any], name: str) -> str:
    """Assert ``call()`` raises ``ValueError``/``TypeError`` naming ``name``, fast and small."""
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        call()
    except (ValueError, TypeError) as exc:
        seconds = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        message = str(exc)
        # the argument's name as a word of the message ("x" inside "expected" does not count)
        named = re.search(rf"(^|[^\w.]){re.escape(name)}($|[^\w])", message)
        assert named, f"the message does not name {name!r}: {message!r}"
        assert "Traceback" not in message
        assert seconds < MAX_SECONDS, f"refused after {seconds:.2f} s: {message}"
        assert peak < MAX_BYTES, f"peak traced memory {peak / 2**20:.1f} MiB: {message}"
        return message
    except BaseException as exc:
        tracemalloc.stop()
        raise AssertionError(
            f"expected ValueError/TypeError naming {name!r}, got {type(exc).__name__}: {exc}"
        ) from exc
    tracemalloc.stop()
    raise AssertionError(f"accepted a bad value for {name!r} (no error)")


# -- bad values by kind of argument ---------------------------------------------------------

_NOT_NUMBERS = st.sampled_from([None, "3", "abc", b"1", [1], (2,), {"a": 1}, object()])
_BOOLS = st.sampled_from([True, False, np.bool_(True)])
_NAN_INF = st.sampled_from([math.nan, math.inf, -math.inf, np.float64("nan"), np.float32("inf")])
_COMPLEX = st.sampled_from([1j, 2 + 0j, complex("nan+nanj"), np.complex128(1 + 1j)])


def _ints_outside(lo: int | None, hi: int | None) -> st.SearchStrategy[int]:
    options = []
    if lo is not None:
        options.append(st.integers(max_value=lo - 1, min_value=lo - 10**6))
        options.append(st.just(lo - 2**70))
    if hi is not None:
        options.append(st.integers(min_value=hi + 1, max_value=hi + 10**6))
        options.append(st.sampled_from([hi + 2**40, 10**30, 2**64]))
    return st.one_of(*options) if options else st.nothing()


def _floats_outside(lo: float | None, hi: float | None) -> st.SearchStrategy[float]:
    options = []
    if lo is not None:
        options.append(
            st.floats(
                max_value=lo,
                exclude_max=True,
                allow_nan=False,
                allow_infinity=False,
                min_value=lo - 1e6,
            )
        )
    if hi is not None:
        options.append(
            st.floats(
                min_value=hi,
                exclude_min=True,
                allow_nan=False,
                allow_infinity=False,
                max_value=hi + 1e6,
            )
        )
    return st.one_of(*options) if options else st.nothing()


def _int_kind(lo: int | None, hi: int | None) -> st.SearchStrategy[Any]:
    return st.one_of(
        _BOOLS,
        st.floats(allow_nan=True, allow_infinity=True).filter(lambda v: True),  # 2.7, 2.0, nan
        st.sampled_from([2.0, 2.5, np.float64(3.0)]),
        _COMPLEX,
        _NOT_NUMBERS,
        _ints_outside(lo, hi),
    )


def _float_kind(lo: float | None, hi: float | None) -> st.SearchStrategy[Any]:
    return st.one_of(_BOOLS, _NAN_INF, _COMPLEX, _NOT_NUMBERS, _floats_outside(lo, hi))


def _seed_kind() -> st.SearchStrategy[Any]:
    return st.one_of(
        _BOOLS,
        st.sampled_from([1.5, 2.0, -1, -(2**63), 2**63, 2**64, 10**30, "0", 1j]),
    )


def _partition_kind(n: int) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(["01", b"01", 3, None, 1.5, {0: 1}]),
        st.lists(st.integers(min_value=n, max_value=n + 1000), min_size=1, max_size=4),
        st.lists(st.integers(max_value=-1, min_value=-1000), min_size=1, max_size=4),
        st.just([]),
        st.just(list(range(n))),
        st.just([0, 0]),
        st.lists(st.sampled_from([0.5, 1.0, "1", None, True]), min_size=1, max_size=3),
    )


def _array_kind(
    shape: tuple[int, ...], dtype: Any, any_rank: bool = False
) -> st.SearchStrategy[Any]:
    """Arrays that are wrong: complex, NaN, infinite, wrong rank, empty, strings, not arrays.

    ``any_rank``: the argument takes tensors of any order (no wrong-rank values).
    """

    def make(which: str) -> Any:
        if which == "complex":
            return torch.zeros(shape, dtype=torch.complex128)
        if which == "nan":
            t = torch.zeros(shape, dtype=dtype)
            t.view(-1)[0] = math.nan
            return t
        if which == "inf":
            t = torch.ones(shape, dtype=dtype)
            t.view(-1)[-1] = math.inf
            return t
        if which == "rank":
            return torch.zeros((*shape, 1, 1), dtype=dtype)
        if which == "rank-":
            return torch.zeros((), dtype=dtype)
        if which == "empty":
            return torch.zeros((*shape[:-1], 0), dtype=dtype)
        if which == "numpy-complex":
            return np.zeros(shape, dtype=np.complex64)
        if which == "strings":
            return np.array([["a"]])
        return [[1, "x"]]

    which = ["complex", "nan", "inf", "empty", "numpy-complex", "strings", "list"]
    return st.sampled_from(which if any_rank else [*which, "rank", "rank-"]).map(make)


def _choice_kind(choices: tuple[str, ...]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.text(min_size=0, max_size=8).filter(lambda t: t not in choices),
        st.sampled_from([None, 1, True, b"x", ["a"]]),
        st.sampled_from([c.upper() + "x" for c in choices] or ["x"]),
    )


def _device_kind() -> st.SearchStrategy[Any]:
    bad = ["tpu9", "cuda:99", "gpu", "", "cpu:x", 3, True, 1.5]
    if not torch.cuda.is_available():
        bad += ["cuda", "cuda:0"]
    return st.sampled_from(bad)


def _object_kind(*_: Any) -> st.SearchStrategy[Any]:
    """Values of the wrong type altogether (for a tree, a tensor, a module argument)."""
    return st.sampled_from([None, 3, 2.5, "tree", b"x", [], [1, 2], {"a": 1}, object(), True])


def _shape_kind(lo: int = 1, huge: bool = True) -> st.SearchStrategy[Any]:
    """Bad ``(H, W)`` pairs: wrong length, bools, floats, sides below ``lo``, not a pair,
    and (``huge``) sides far too large to allocate."""
    good = st.integers(min_value=lo, max_value=8)
    bad_side = st.one_of(
        _BOOLS, st.sampled_from([2.0, 2.5, math.nan, "4", None]), st.integers(max_value=lo - 1)
    )
    return st.one_of(
        st.tuples(bad_side, good),
        st.tuples(good, bad_side),
        st.sampled_from([(), (4,), (4, 4, 4), 4, "4x4", None] + ([(2**40, 2**40)] if huge else [])),
    )


def _ints_kind(lo: int | None, hi: int | None) -> st.SearchStrategy[Any]:
    """Bad sequences of integers: a bad element, not a sequence, out-of-range elements."""
    return st.one_of(
        st.lists(_int_kind(lo, hi), min_size=1, max_size=3),
        st.sampled_from(["1,2", b"12", 3, None, {1: 2}]),
    )


def _callable_kind(*_: Any) -> st.SearchStrategy[Any]:
    return st.sampled_from([None, 3, "f", [len], object()])


#: Kinds of arguments and the strategies of their bad values.
KINDS: dict[str, Callable[..., st.SearchStrategy[Any]]] = {
    "object": _object_kind,
    "shape": _shape_kind,
    "ints": _ints_kind,
    "callable": _callable_kind,
    "int": _int_kind,
    "float": _float_kind,
    "seed": _seed_kind,
    "partition": _partition_kind,
    "array": _array_kind,
    "choice": _choice_kind,
    "device": _device_kind,
}


def bad_values(kind: str, *args: Any) -> st.SearchStrategy[Any]:
    """The strategy of bad values of a kind (``("int", 1, 1000)``, ``("partition", 16)``)."""
    return KINDS[kind](*args)


@dataclass(frozen=True)
class Spec:
    """A public name, how to call it, and the kinds of its arguments.

    ``call(**kwargs)`` calls the name; ``valid`` are arguments it accepts;
    ``args`` maps each checked argument to ``(kind, *parameters)``;
    ``names`` may map an argument to the name its message uses (default: the
    argument's own name); ``optional`` lists the arguments for which ``None``
    is a valid value (a default), so a drawn ``None`` is skipped for them.
    """

    public: str
    call: Callable[..., Any]
    valid: Mapping[str, Any]
    args: Mapping[str, tuple[Any, ...]]
    names: Mapping[str, str] = field(default_factory=dict)
    optional: frozenset[str] = frozenset()

    def cases(self) -> list[tuple[Spec, str]]:
        return [(self, a) for a in self.args]

    def __repr__(self) -> str:
        return self.public


def check(spec: Spec, arg: str, value: Any) -> str:
    """Call ``spec`` with ``arg`` replaced by ``value`` and assert the contract."""
    if value is None and arg in spec.optional:
        return ""  # None is this argument's valid default
    TRIED[spec.public].add(f"{arg}={_short(value)}")
    kwargs = {**spec.valid, arg: value}
    return refuses(lambda: spec.call(**kwargs), spec.names.get(arg, arg))


def _short(value: Any) -> str:
    if isinstance(value, (torch.Tensor, np.ndarray)):
        return f"{type(value).__name__}{tuple(value.shape)}:{value.dtype}:{_digest(value)}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _digest(value: Any) -> str:
    try:
        arr = value.numpy() if isinstance(value, torch.Tensor) else value
        return str(hash(np.asarray(arr).tobytes()) % 10**8)
    except Exception:  # noqa: BLE001 - an identifier, nothing more
        return "?"
