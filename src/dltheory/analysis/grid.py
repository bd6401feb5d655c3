"""Grid tensors: any function of N local inputs, sampled on template points.

For networks that are not multilinear (ReLU activations, max or average
pooling) the coefficient tensor does not exist, but the *grid tensor*
``G[d_1..d_N] = h(x^(d_1), ..., x^(d_N))`` on M template points does, and its
matricization ranks play the same role (Cohen & Shashua, ICML'16, Sec. 4).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..validation import check_int, check_size

__all__ = ["grid_tensor"]


def _call(f: Callable[..., Any], x: NDArray[np.float64]) -> NDArray[np.float64]:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        torch = None  # type: ignore[assignment]
    if torch is not None and isinstance(f, torch.nn.Module):
        params = list(f.parameters())
        dtype = params[0].dtype if params else torch.float64
        device = params[0].device if params else torch.device("cpu")
        fn = getattr(f, "scores", f)  # a ConvAC's exact outputs, not its training logits
        with torch.no_grad():
            out = fn(torch.as_tensor(x, dtype=dtype, device=device))
    else:
        out = f(x)
    if torch is not None and isinstance(out, torch.Tensor):
        out = out.detach().cpu().double().numpy()
    return np.asarray(out, dtype=np.float64)


def grid_tensor(
    f: Callable[..., Any],
    templates: Any,
    num_positions: int,
    *,
    batch_size: int = 4096,
    max_entries: int = 2**24,
) -> NDArray[np.float64]:
    """The tensor of ``f``'s values on all N-tuples of template points.

    Parameters
    ----------
    f : callable
        Takes a batch of inputs of shape ``(batch, N, s)`` (a NumPy array, or a
        torch tensor when ``f`` is a ``torch.nn.Module``) and returns
        ``(batch,)`` or ``(batch, out)`` values.  A module with a ``scores``
        method (a :class:`~dltheory.ConvAC`) is evaluated through it.
    templates : array_like, shape (M, s)
        The template points ``x^(1) .. x^(M)``.
    num_positions : int
        Number N of local inputs.
    batch_size : int
        How many grid points are evaluated per call.
    max_entries : int
        Refuse when ``M^N`` exceeds this.

    Returns
    -------
    ndarray, shape (M,)*N (+ (out,) when ``f`` returns several outputs)
    """
    if not callable(f):
        raise TypeError(f"f: expected a callable, got {type(f).__name__}")
    raw = np.asarray(templates)
    if raw.dtype.kind == "c":
        raise TypeError("templates: expected real template points, got complex")
    if raw.dtype.kind not in "iuf":
        raise TypeError(f"templates: expected numbers, got dtype {raw.dtype}")
    t = raw.astype(np.float64)
    if t.ndim == 1:
        t = t[:, None]
    if t.ndim != 2 or t.shape[0] < 1 or t.shape[1] < 1:
        raise ValueError(f"templates: expected shape (M, s), got {np.shape(templates)}")
    if not np.isfinite(t).all():
        raise ValueError("templates: contains NaN or infinite values")
    n = check_int(num_positions, "num_positions", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    limit = check_int(max_entries, "max_entries", minimum=1)
    m = t.shape[0]
    total = m**n
    check_size(
        total * n,
        "max_entries",
        limit=limit,
        what=f"the grid tensor's {m}^{n} evaluation points",
        fix="use fewer templates or positions",
    )
    index = np.array(list(itertools.product(range(m), repeat=n)), dtype=np.int64).reshape(total, n)
    chunks = []
    for start in range(0, total, batch_size):
        idx = index[start : start + batch_size]
        vals = _call(f, t[idx])
        if vals.shape[0] != idx.shape[0]:
            raise ValueError(
                f"f: returned {vals.shape[0]} values for a batch of {idx.shape[0]} inputs"
            )
        if not np.isfinite(vals).all():
            raise ValueError("f: returned NaN or infinite values on the template grid")
        chunks.append(vals.reshape(idx.shape[0], -1))
    out = np.concatenate(chunks, axis=0)
    tail = () if out.shape[1] == 1 else (out.shape[1],)
    return out.reshape((m,) * n + tail)
