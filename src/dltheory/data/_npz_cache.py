"""An atomic, checksummed ``.npz`` cache of a generated data set (used by :mod:`.blobs`).

A file holds the arrays ``x_train, y_train, x_test, y_test``, the JSON ``meta``
it was made for and a SHA-256 checksum of both; it is written to a temporary
file in the same folder and moved into place, and a file that cannot be read,
was made for other parameters, fails its checksum or holds arrays of the wrong
kind is refused (``ValueError`` naming ``cache_dir``), never used.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..validation import describe

__all__ = ["ARRAYS", "cache_folder", "checksum", "read_cache", "write_cache"]


def checksum(meta: str, arrays: dict[str, np.ndarray[Any, Any]]) -> str:
    h = hashlib.sha256(meta.encode())
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}:{a.dtype.str}:{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def cache_folder(cache_dir: Any) -> Path:
    """``cache_dir`` as an existing folder (created if missing), before any work."""
    if not isinstance(cache_dir, (str, os.PathLike)):
        raise TypeError(
            "cache_dir: expected a folder path (str or os.PathLike) or None, "
            f"got {describe(cache_dir)}"
        )
    text = os.fspath(cache_dir)
    if not isinstance(text, str) or text == "" or "\x00" in text:
        raise ValueError(f"cache_dir: expected a folder path, got {describe(text)}")
    path = Path(text)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cache_dir: cannot use {text!r} as a folder: {exc}") from None
    if not path.is_dir():
        raise ValueError(f"cache_dir: expected a folder, got {text!r}, which is not one")
    return path


ARRAYS = ("x_train", "y_train", "x_test", "y_test")


def read_cache(
    file: Path, folder: Path, meta: str, sizes: dict[str, int], *, row_bytes: int
) -> dict[str, Any]:
    """The arrays of a cache file, if it is whole and made for ``meta``; else ``ValueError``.

    ``x_<part>`` must be ``uint8 (sizes[part], row_bytes)`` (packed images) and
    ``y_<part>`` binary ``int64`` labels.
    """

    def refuse(why: str) -> ValueError:
        return ValueError(
            f"cache_dir: the cache file {str(file)!r} in {str(folder)!r} {why}; it is not used: "
            "delete it to generate the data again"
        )

    try:
        with np.load(file, allow_pickle=False) as z:
            stored = {name: np.array(z[name]) for name in (*ARRAYS, "meta", "checksum")}
    except Exception as exc:  # noqa: BLE001 - any failure to read means a corrupt file
        raise refuse(f"cannot be read ({type(exc).__name__}: {exc})") from None
    if str(stored["meta"]) != meta:
        raise refuse(f"was made for other parameters ({str(stored['meta'])[:200]})")
    arrays = {name: stored[name] for name in ARRAYS}
    if str(stored["checksum"]) != checksum(meta, arrays):
        raise refuse("does not match its checksum (corrupt)")
    for part in ("train", "test"):
        x, y, k = arrays[f"x_{part}"], arrays[f"y_{part}"], sizes[part]
        if (
            x.dtype != np.uint8
            or x.shape != (k, row_bytes)
            or y.dtype != np.int64
            or y.shape != (k,)
            or not np.all((y == 0) | (y == 1))
        ):
            raise refuse(f"holds arrays of the wrong kind for {part}")
    return arrays


def write_cache(file: Path, folder: Path, meta: str, arrays: dict[str, Any]) -> None:
    """Write atomically: a temporary file in the same folder, then ``os.replace``."""
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=file.name + ".", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            np.savez(f, meta=np.array(meta), checksum=np.array(checksum(meta, arrays)), **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, file)
        tmp = None
    except OSError as exc:
        raise ValueError(
            f"cache_dir: cannot write the cache file {str(file)!r} in {str(folder)!r}: {exc}"
        ) from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
