"""Input checks shared by every public entry point: one vocabulary, one message form.

Every public function and every claim parameter checks its input with these
helpers, so a bad value is refused the same way everywhere, before any work
and before any large allocation:

``<name>: expected <what>, got <given>[; <fix>]``

* :func:`check_int` -- integers are integers: Python and NumPy integers are
  accepted; ``bool`` (``True`` is not position 1), floats (``2.7`` is not
  ``N = 2``, nor is ``2.0``) and strings are refused.
* :func:`check_float` -- real numbers, finite unless asked otherwise, within a
  range; ``bool`` and complex numbers refused.
* :func:`check_seed` -- an integer in ``[0, 2**63)``.
* :func:`check_choice` -- one of a fixed set of strings (or ``None`` when optional);
  :func:`check_flag` -- ``True`` or ``False``; :func:`check_dtype` -- a torch dtype.
* :func:`check_size` -- an *estimate* of what a call would allocate (entries
  or bytes), refused above a limit with the size it would need.
* :func:`check_array` -- a tensor or array: real (complex refused rather than
  silently dropping the imaginary part), finite, of the expected rank.
* :func:`check_device` -- a torch device this build of torch can use.

All raise :class:`TypeError` for a value of the wrong kind and
:class:`ValueError` for a value of the right kind out of range; both name
the argument.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Any, Literal, overload

import numpy as np

__all__ = [
    "MAX_ENTRIES",
    "MAX_SEED",
    "check_array",
    "check_choice",
    "check_device",
    "check_dtype",
    "check_flag",
    "check_float",
    "check_int",
    "check_ints",
    "check_seed",
    "check_size",
    "describe",
    "human_size",
]

#: Seeds lie in ``[0, MAX_SEED)`` (torch's and NumPy's generators take 64-bit seeds).
MAX_SEED = 2**63
#: Default ceiling on the entries one call may allocate (2^28 float64 = 2 GiB).
MAX_ENTRIES = 2**28


def describe(value: Any) -> str:
    """A short, safe rendering of a given value for an error message."""
    if isinstance(value, type):  # np.float32, torch.Tensor: a type, not a value
        return f"the type {value.__module__}.{value.__qualname__}"
    if isinstance(value, (bool, int, float, complex, np.generic)):
        text = repr(value.item() if isinstance(value, np.generic) else value)
        return f"{text} ({type(value).__name__})" if isinstance(value, (bool, np.generic)) else text
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    shape = getattr(value, "shape", None)
    if shape is not None:
        dtype = getattr(value, "dtype", "")
        return f"{type(value).__name__} of shape {tuple(shape)} {dtype}".rstrip()
    text = repr(value)
    return text if len(text) <= 60 else f"{type(value).__name__} ({text[:40]}...)"


def _fail(exc: type[Exception], name: str, expected: str, value: Any, fix: str | None) -> Exception:
    msg = f"{name}: expected {expected}, got {describe(value)}"
    return exc(msg + (f"; {fix}" if fix else ""))


def _num(x: float) -> str:
    """Bounds as written: integers exactly (2**63 - 1 is 9223372036854775807), floats %g."""
    if isinstance(x, int) or (isinstance(x, float) and x.is_integer() and abs(x) < 2**53):
        return str(int(x))
    return f"{x:g}"


def _range_text(
    minimum: float | None,
    maximum: float | None,
    kind: str,
    open_low: bool = False,
    open_high: bool = False,
) -> str:
    lo = "(" if open_low else "["
    hi = ")" if open_high else "]"
    if minimum is not None and maximum is not None:
        return f"{kind} in {lo}{_num(minimum)}, {_num(maximum)}{hi}"
    if minimum is not None:
        return f"{kind} {'>' if open_low else '>='} {_num(minimum)}"
    if maximum is not None:
        return f"{kind} {'<' if open_high else '<='} {_num(maximum)}"
    return kind


def check_int(
    value: Any,
    name: str,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    fix: str | None = None,
) -> int:
    """``value`` as a Python int, if it is an integer in ``[minimum, maximum]``.

    Python and NumPy integers are accepted (and any object with ``__index__``
    that is not a bool); floats, bools and strings are refused with a
    ``TypeError``, out-of-range integers with a ``ValueError``.
    """
    expected = _range_text(minimum, maximum, "an integer")
    if isinstance(value, (bool, np.bool_)) or isinstance(value, (float, complex, str, bytes)):
        raise _fail(TypeError, name, expected, value, fix)
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if not isinstance(value, numbers.Integral):
        try:
            index = value.__index__()
        except (AttributeError, TypeError):
            raise _fail(TypeError, name, expected, value, fix) from None
        value = index
    out = int(value)
    if (minimum is not None and out < minimum) or (maximum is not None and out > maximum):
        raise _fail(ValueError, name, expected, out, fix)
    return out


def check_ints(
    values: Any,
    name: str,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    length: int | None = None,
    fix: str | None = None,
) -> tuple[int, ...]:
    """A sequence of integers (each checked by :func:`check_int`) as a tuple."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise _fail(TypeError, name, "a sequence of integers", values, fix)
    items = tuple(values) if not isinstance(values, Sequence) else values
    if length is not None and len(items) != length:
        raise _fail(ValueError, name, f"{length} integers", values, fix)
    return tuple(
        check_int(v, f"{name}[{i}]", minimum=minimum, maximum=maximum, fix=fix)
        for i, v in enumerate(items)
    )


def check_float(
    value: Any,
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_minimum: bool = False,
    exclusive_maximum: bool = False,
    finite: bool = True,
    fix: str | None = None,
) -> float:
    """``value`` as a float: a real number (not bool, not complex), finite, in range.

    ``exclusive_minimum=True`` makes ``minimum`` itself invalid (``lr > 0``),
    ``exclusive_maximum=True`` likewise for ``maximum``.  Zero-dimensional
    arrays and tensors count as numbers; arrays with elements do not.
    """
    kind = "a finite number" if finite else "a number"
    expected = _range_text(minimum, maximum, kind, exclusive_minimum, exclusive_maximum)
    if isinstance(value, (bool, np.bool_, str, bytes)) or isinstance(value, complex):
        raise _fail(TypeError, name, expected, value, fix)
    shape = getattr(value, "shape", None)
    if shape is not None and tuple(shape) != ():
        raise _fail(TypeError, name, expected, value, fix)  # an array, not a number
    if getattr(value, "is_complex", None) is not None and callable(value.is_complex):
        if value.is_complex():  # a complex 0-d tensor
            raise _fail(TypeError, name, expected, value, fix)
    if isinstance(value, np.ndarray):
        value = value[()]
    if isinstance(value, (np.complexfloating, np.bool_)):
        raise _fail(TypeError, name, expected, value, fix)
    if not isinstance(value, numbers.Real):
        try:
            value = float(value)  # 0-d tensors, Fractions, Decimals
        except (TypeError, ValueError, RuntimeError):
            raise _fail(TypeError, name, expected, value, fix) from None
    try:
        out = float(value)
    except OverflowError:  # a huge int
        raise _fail(ValueError, name, expected, value, fix) from None
    if math.isnan(out) or (finite and math.isinf(out)):
        raise _fail(ValueError, name, expected, value, fix)
    if minimum is not None and (out < minimum or (exclusive_minimum and out == minimum)):
        raise _fail(ValueError, name, expected, value, fix)
    if maximum is not None and (out > maximum or (exclusive_maximum and out == maximum)):
        raise _fail(ValueError, name, expected, value, fix)
    return out


def check_seed(value: Any, name: str = "seed") -> int:
    """A seed: an integer in ``[0, 2**63)``."""
    return check_int(value, name, minimum=0, maximum=MAX_SEED - 1, fix="seeds lie in [0, 2**63)")


@overload
def check_choice(
    value: Any, name: str, choices: Sequence[str], *, optional: Literal[False] = False
) -> str: ...


@overload
def check_choice(
    value: Any, name: str, choices: Sequence[str], *, optional: bool
) -> str | None: ...


def check_choice(
    value: Any, name: str, choices: Sequence[str], *, optional: bool = False
) -> str | None:
    """One of ``choices`` (strings compared exactly), or ``None`` when ``optional``."""
    if optional and value is None:
        return None
    if not isinstance(value, str) or value not in choices:
        options = ", ".join(map(repr, choices)) + (" or None" if optional else "")
        raise _fail(
            ValueError if isinstance(value, str) else TypeError,
            name,
            f"one of {options}",
            value,
            None,
        )
    return value


def check_flag(value: Any, name: str) -> bool:
    """``value`` as a bool, if it is ``True`` or ``False`` (Python or NumPy); ``"yes"``, ``1``
    and ``None`` are not flags (``TypeError``)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise _fail(TypeError, name, "True or False", value, None)


def check_dtype(value: Any, name: str = "dtype", allowed: Sequence[Any] | None = None) -> Any:
    """``value`` if it is one of the torch dtypes ``allowed`` (default: float32, float64).

    A string (``"float32"``) or a NumPy type is refused with a ``TypeError``
    saying to pass the torch dtype itself.
    """
    import torch

    kinds = tuple(allowed) if allowed is not None else (torch.float32, torch.float64)
    if isinstance(value, torch.dtype) and value in kinds:
        return value
    names = " or ".join(str(d) for d in kinds)
    given = str(value) if isinstance(value, torch.dtype) else describe(value)
    raise TypeError(f"{name}: expected {names}, got {given}; pass the torch dtype itself")


def _sci(x: int | float) -> str:
    """``1.5e+09``, also for integers too large for a float (``~10^308.3``)."""
    if isinstance(x, int) and not isinstance(x, bool) and x.bit_length() > 1000:
        return f"~10^{math.log10(x):.1f}"
    return f"{float(x):.3g}"


def human_size(entries: int | float, bytes_per_entry: int = 8) -> str:
    """``1.5e+09 entries (12 GB)``; exact for integers of any size (no overflow)."""
    if isinstance(entries, int) and not isinstance(entries, bool) and entries.bit_length() > 900:
        return f"{_sci(entries)} entries (~10^{math.log10(entries * bytes_per_entry):.1f} B)"
    b = float(entries) * bytes_per_entry
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if b >= scale:
            return f"{_sci(entries)} entries ({b / scale:.3g} {unit})"
    return f"{_sci(entries)} entries ({b:.0f} B)"


def check_size(
    entries: int | float,
    name: str,
    *,
    limit: int | float = MAX_ENTRIES,
    what: str = "",
    bytes_per_entry: int = 8,
    fix: str | None = None,
) -> None:
    """Refuse a request whose estimated allocation exceeds ``limit`` entries, before any work.

    ``entries`` may be a Python int of any size (estimates are computed with
    exact integers, so ``2**40`` does not overflow); the message gives the
    size needed and the limit.
    """
    if entries > limit:
        where = f" for {what}" if what else ""
        raise ValueError(
            f"{name}: this needs about {human_size(entries, bytes_per_entry)}{where}, above the "
            f"limit of {human_size(limit, bytes_per_entry)}" + (f"; {fix}" if fix else "")
        )


def check_array(
    x: Any,
    name: str,
    *,
    ndim: int | Sequence[int] | None = None,
    finite: bool = True,
    allow_complex: bool = False,
) -> Any:
    """A real NumPy array or torch tensor of the expected rank, with finite entries.

    Returns ``x`` unchanged.  Complex values are refused (rather than losing
    their imaginary part), as are booleans, objects and non-finite entries.
    """
    import torch

    if isinstance(x, torch.Tensor):
        complex_ = x.is_complex()
        kind_ok = complex_ or x.dtype.is_floating_point or x.dtype in _TORCH_INTS
        shape = tuple(x.shape)
    elif isinstance(x, np.ndarray):
        complex_ = x.dtype.kind == "c"
        kind_ok = x.dtype.kind in "fiuc"
        shape = x.shape
    else:
        raise _fail(TypeError, name, "a NumPy array or a torch tensor", x, None)
    if complex_ and not allow_complex:
        raise _fail(TypeError, name, "real values", x, "pass the real part explicitly")
    if not kind_ok:
        raise _fail(TypeError, name, "a numeric array", x, None)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if len(shape) not in allowed:
            raise _fail(
                ValueError, name, f"an array with {' or '.join(map(str, allowed))} axes", x, None
            )
    if finite:
        if isinstance(x, torch.Tensor):
            floating = x.dtype.is_floating_point or complex_
            nan = int(torch.isnan(x).sum()) if floating else 0
            inf = int(torch.isinf(x).sum()) if floating else 0
        else:
            floating = x.dtype.kind in "fc"
            nan = int(np.isnan(x).sum()) if floating else 0
            inf = int(np.isinf(x).sum()) if floating else 0
        if nan or inf:
            raise ValueError(
                f"{name}: has NaN or infinite values ({nan} NaN, {inf} infinite of "
                f"{int(np.prod(shape))} entries); expected finite numbers"
            )
    return x


def _torch_ints() -> frozenset[Any]:
    import torch

    return frozenset({torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8})


_TORCH_INTS = _torch_ints()


def check_device(device: Any, name: str = "device") -> Any:
    """A :class:`torch.device` this torch can use (``"cpu"``, an available ``"cuda:k"``, ...).

    Refuses unknown device strings and devices this build or machine lacks
    (``"cuda"`` on a CPU-only torch) with a one-line message instead of
    torch's internals.
    """
    import torch

    if device is None:
        return torch.device("cpu")
    if not isinstance(device, (str, torch.device)):
        raise _fail(TypeError, name, "a device name such as 'cpu' or 'cuda:0'", device, None)
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise _fail(
            ValueError, name, "a torch device such as 'cpu' or 'cuda:0'", device, None
        ) from None
    if dev.type == "cpu":
        return dev
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise _fail(ValueError, name, "an available device", device, "this torch has no CUDA")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise _fail(
                ValueError,
                name,
                f"a CUDA index below {torch.cuda.device_count()}",
                device,
                None,
            )
        return dev
    mps = getattr(torch.backends, "mps", None)
    if dev.type == "mps" and mps is not None and mps.is_available():
        return dev
    raise _fail(ValueError, name, "an available device ('cpu' or 'cuda')", device, None)
