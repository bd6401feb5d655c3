"""The synthetic closedness and symmetry tasks of Cohen & Shashua (ICLR 2017).

*Inductive Bias of Deep Convolutional Networks through Pooling Geometry*,
N. Cohen and A. Shashua, ICLR 2017, Sec. 6 (experiments) and the appendix on
the synthetic data: 32x32 binary images, each showing one blob, with two scores
in ``[0, 1]``.  The *closedness* score ``|I| / |closing(I)|`` is high for a
blob with few holes; the *symmetry* score ``|S AND fliplr(S)| / |S|`` of the
square ``S`` the blob was drawn in is high for a left-right symmetric blob.
Per task the 40 % of images with the lowest score are labelled 0, the 40 % with
the highest score 1, and the middle 20 % are dropped.  Square pooling (local
windows) suits closedness, mirror pooling (mirrored pairs) suits symmetry.

The recipe follows the authors' generator, ``exp/blob/generate_blob.py`` of
github.com/HUJI-Deep/inductive-pooling (Python 2, NumPy's legacy global
generator seeded with 0).  Each image:

1. an ellipse ``((x - 15.5) / 16)^2 + ((y - 15.5) / b)^2 < 1`` with vertical
   semi-axis ``b = int(2^U(3.5, 5) / 2)`` (5 .. 15 pixels);
2. column ``j`` rolled down (cyclically) by ``trunc(a sin(w j))``, with
   amplitude ``a ~ U(0, 4)`` and frequency ``w ~ U(0, 3 * 2 pi / 32)``;
3. rotated by ``U(0, 180)`` degrees about the centre, keeping the 32x32 frame
   (``scipy.ndimage.rotate``: cubic spline, ``reshape=False``);
4. zoomed to a square of side 16 or 32 (probability 1/2 each; cubic spline,
   ``scipy.ndimage.zoom``), placed at a random multiple of its side, the rest
   of the image blank.  scipy's zoom by 0.5 samples the last row and column
   at ``15 * (31 / 15) = 31.000000000000004``, outside the image, and returns
   0 there (mode ``'constant'``; scipy issues #4922, #6713), so a square of
   side 16 always has a blank last row and column.  The authors' call (their
   requirements ask for scipy >= 0.14) met the same quirk; it is kept;
5. pixels of the square dropped with probability ``p ~ U(0.1, 0.33)``; with
   probability 1/2 the drop mask is left-right symmetric (a left half drawn
   and joined to its mirror image);
6. thresholded at ``> 0.1``.  An image that comes out empty is drawn again.

This module draws the same distribution from a :class:`numpy.random.Generator`
seeded with ``seed``: the authors' 25,000 train and 5,000 test images are the
first 25,000 and next 5,000 images of one stream, and the labels are computed
on each part separately, as in their script.  The images are not the authors'
(NumPy's legacy and new generators draw different numbers), only their
distribution.

Every draw of an attempt (an image, or an empty one drawn again) comes from a
fixed block of 1,033 uniform numbers of the stream, and attempts are rendered
in fixed chunks of 256, so attempt ``j`` is a function of ``(seed, j)`` alone:
the first ``k`` images of a stream of ``n > k`` are the stream of ``k``.  The
rotations are scipy's, one image at a time (about 0.15 ms each); everything
else is vectorized over a chunk, and 30,000 images take about 5 s.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from typing import Any

import numpy as np
import torch

from ..validation import (
    MAX_ENTRIES,
    check_array,
    check_choice,
    check_float,
    check_int,
    check_seed,
    check_size,
    describe,
)
from ._blob_render import _UNIFORMS, BLOB_SIZE, _render
from ._npz_cache import cache_folder as _cache_folder
from ._npz_cache import read_cache, write_cache
from .base import Dataset

__all__ = [
    "BLOB_GENERATOR_VERSION",
    "BLOB_SIZE",
    "BLOB_TASKS",
    "MAX_BLOB_IMAGES",
    "closedness_score",
    "generate_blobs",
    "load_closedness",
    "load_pooling_task",
    "load_symmetry",
    "split_by_score",
    "symmetry_score",
]

#: The two tasks: which score the labels come from.
BLOB_TASKS = ("closedness", "symmetry")
#: Version of the generator: bump it whenever the images a seed gives change
#: (it keys the cache files, so stale ones are never read).
BLOB_GENERATOR_VERSION = 1

#: Memory of loading one image, in float64 entries (8 kB): the boolean image
#: (1 kB), the kept 80 % packed and as float32 in the data set (3.3 kB) and the
#: scores; ``tracemalloc`` measured a peak of 5.7 kB per image at 30,000 images.
_ENTRIES_PER_IMAGE = 1024
#: Most images (train + test) one call generates: ``n * 1024`` entries stay
#: within :data:`dltheory.validation.MAX_ENTRIES` (2 GiB); 260,000 images take
#: about 45 s.
MAX_BLOB_IMAGES = MAX_ENTRIES // _ENTRIES_PER_IMAGE // 10_000 * 10_000

_N = BLOB_SIZE
_FRACTION = 0.4  # share of each class: lowest 40 % -> 0, highest 40 % -> 1

#: Attempts rendered together; fixed, so that an image never depends on its neighbours.
_CHUNK = 256

_CROSS = np.array([[[0, 1, 0], [1, 1, 1], [0, 1, 0]]], dtype=bool)  # (1, 3, 3): per image


def _closedness(images: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """``|I| / |closing(I)|`` per image of a non-empty boolean stack ``(m, h, w)``."""
    from scipy import ndimage

    padded = np.pad(images, ((0, 0), (1, 1), (1, 1)))
    closed = ndimage.binary_closing(padded, structure=_CROSS)[:, 1:-1, 1:-1]
    return images.sum(axis=(1, 2)) / closed.sum(axis=(1, 2))


def _symmetry(images: np.ndarray[Any, Any], squares: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """``|S & fliplr(S)| / |S|`` per image, ``S`` its square ``(top, left, side)``."""
    out = np.empty(len(images))
    for s in np.unique(squares[:, 2]):
        idx = np.flatnonzero(squares[:, 2] == s)
        r = squares[idx, 0, None, None] + np.arange(s)[None, :, None]
        c = squares[idx, 1, None, None] + np.arange(s)[None, None, :]
        sq = images[idx[:, None, None], r, c]
        out[idx] = (sq & sq[:, :, ::-1]).sum(axis=(1, 2)) / sq.sum(axis=(1, 2))
    return out


@functools.lru_cache(maxsize=2)
def _generate(n: int, seed: int) -> tuple[np.ndarray[Any, Any], ...]:
    """The first ``n`` images of the stream of ``seed``, scores and squares (read-only)."""
    rng = np.random.default_rng(seed)
    images, squares = [], []
    count = 0
    while count < n:
        # one block of uniforms per attempt, consumed in order: attempt j is rng draws
        # [j * _UNIFORMS, (j + 1) * _UNIFORMS), whatever the chunking
        im, sq = _render(rng.random((_CHUNK, _UNIFORMS)))
        kept = im.any(axis=(1, 2))  # an empty image is drawn again
        images.append(im[kept])
        squares.append(sq[kept])
        count += int(kept.sum())
    im = np.concatenate(images)[:n]
    sq = np.concatenate(squares)[:n]
    out = (im, _closedness(im), _symmetry(im, sq), sq)
    for a in out:
        a.setflags(write=False)
    return out


# ------------------------------------------------------------------ checks
_IMAGES_FIX = (
    f"at most {MAX_BLOB_IMAGES} images in all (about 8 kB each while loading; "
    "the paper uses 25000 + 5000)"
)


def _check_count(value: Any, name: str, minimum: int) -> int:
    n = check_int(value, name, minimum=minimum, fix=_IMAGES_FIX)
    _check_total(n, name)
    return n


def _check_total(n: int, name: str) -> None:
    check_size(
        n * _ENTRIES_PER_IMAGE,
        name,
        limit=MAX_BLOB_IMAGES * _ENTRIES_PER_IMAGE,
        what=f"{n} blob images",
        fix=_IMAGES_FIX,
    )


def _as_numpy(value: Any) -> Any:
    """A torch tensor as a NumPy array (anything else unchanged)."""
    return value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value


def _as_images(images: Any) -> np.ndarray[Any, Any]:
    """``images`` as a boolean stack ``(m, h, w)``: bool, or real with values 0 and 1."""
    arr = _as_numpy(images)
    if isinstance(arr, np.ndarray):  # before any pass over it (a broadcast view is cheap)
        # the closing holds a few padded copies, one byte a pixel each
        check_size(arr.size, "images", what=f"scoring {describe(arr)}")
    if not (isinstance(arr, np.ndarray) and arr.dtype == np.bool_):
        check_array(arr, "images", ndim=(2, 3))
    if arr.ndim not in (2, 3):
        raise ValueError(f"images: expected an array (h, w) or (m, h, w), got {describe(arr)}")
    if min(arr.shape) == 0:
        raise ValueError(f"images: expected non-empty images, got {describe(arr)}")
    stack = arr.reshape((-1, *arr.shape[-2:]))
    if stack.dtype != np.bool_:
        binary = (stack == 0) | (stack == 1)
        if not np.all(binary):
            k = int(np.flatnonzero(~binary.reshape(-1))[0])
            raise ValueError(
                f"images: expected binary images (values 0 and 1), got {describe(arr)} "
                f"with the value {stack.reshape(-1)[k]!r}"
            )
        stack = stack != 0
    empty = np.flatnonzero(~stack.any(axis=(1, 2)))
    if empty.size:
        raise ValueError(
            f"images: image {int(empty[0])} is empty ({empty.size} of {len(stack)}); "
            "a score of an empty blob is 0/0"
        )
    return stack


def _as_squares(squares: Any, stack: np.ndarray[Any, Any], single: bool) -> np.ndarray[Any, Any]:
    """``squares`` as int64 ``(m, 3)``, each inside its image and not empty."""
    m, h, w = stack.shape
    if squares is None:
        if h != w:
            raise ValueError(
                f"squares: expected the squares of images that are not square ({h}x{w}), got None"
            )
        return np.tile(np.array([0, 0, h], dtype=np.int64), (m, 1))
    arr = _as_numpy(squares)
    check_array(arr, "squares", ndim=1 if single else 2)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"squares: expected integers (top, left, side), got {describe(arr)}")
    expected = (3,) if single else (m, 3)
    if arr.shape != expected:
        raise ValueError(
            f"squares: expected shape {expected}, (top, left, side) per image, got {describe(arr)}"
        )
    sq = arr.reshape(m, 3).astype(np.int64)
    top, left, side = sq[:, 0], sq[:, 1], sq[:, 2]
    bad = (side < 1) | (top < 0) | (left < 0) | (top > h - side) | (left > w - side)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"squares: expected squares (top, left, side) inside the {h}x{w} images, "
            f"got {tuple(int(v) for v in sq[k])} for image {k}"
        )
    for k in range(m):
        t, le, s = (int(v) for v in sq[k])
        if not stack[k, t : t + s, le : le + s].any():
            raise ValueError(
                f"squares: the square {(t, le, s)} of image {k} is empty; its score is 0/0"
            )
    return sq


# ------------------------------------------------------------------ public
def generate_blobs(
    n: int, seed: int = 0
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """The first ``n`` blob images of the seeded stream, with both scores.

    The generator of Cohen & Shashua (ICLR 2017, Sec. 6 and appendix), after
    the authors' ``exp/blob/generate_blob.py`` (github.com/HUJI-Deep/
    inductive-pooling); see the module docstring for the recipe.

    Parameters
    ----------
    n : int
        Number of images, ``1 <= n <=`` :data:`MAX_BLOB_IMAGES` (estimated
        before anything is generated).  30,000 images take a few seconds.
    seed : int, optional
        Seed of the :class:`numpy.random.Generator`, in ``[0, 2**63)``.  The same
        seed gives the same images; the first ``k`` images of ``n > k`` are
        those of ``n = k``.

    Returns
    -------
    images : ndarray of bool, shape (n, 32, 32)
        The binary images; none is empty.
    closedness : ndarray of float64, shape (n,)
        ``|I| / |closing(I)|`` (:func:`closedness_score`), in ``(0, 1]``.
    symmetry : ndarray of float64, shape (n,)
        ``|S & fliplr(S)| / |S|`` of the square ``S`` the blob was drawn in
        (:func:`symmetry_score`), in ``[0, 1]``.
    squares : ndarray of int64, shape (n, 3)
        The square of each image: ``(top, left, side)``, side 16 or 32.

    Raises
    ------
    TypeError
        For an ``n`` or ``seed`` that is not an integer (bools and floats too).
    ValueError
        For ``n < 1`` or above :data:`MAX_BLOB_IMAGES`, or a seed outside
        ``[0, 2**63)``.

    Examples
    --------
    >>> images, closed, sym, squares = generate_blobs(4, seed=0)
    >>> images.shape, images.dtype, bool(np.all((0 < closed) & (closed <= 1)))
    ((4, 32, 32), dtype('bool'), True)
    """
    count = _check_count(n, "n", 1)
    s = check_seed(seed)
    return tuple(np.array(a) for a in _generate(count, s))  # type: ignore[return-value]


def closedness_score(images: Any) -> np.ndarray[Any, Any]:
    """The closedness score ``|I| / |closing(I)|`` of binary images (Cohen & Shashua 2017).

    ``closing`` is one binary closing (dilation, then erosion) with the 3x3
    cross, of the image padded by one blank pixel on each side and cropped
    back (``scipy.ndimage.binary_closing``), as in the authors' generator.  The
    closing turns on a pixel whose four neighbours are on after the dilation:
    one-pixel holes (the dropped pixels of the generator) and the inner
    corners of dents.  It does not bridge a cut through a wall, so the score
    counts holes rather than topology: a solid blob scores 1, each hole
    lowers the score.

    Parameters
    ----------
    images : ndarray or Tensor of bool or 0/1, shape (h, w) or (m, h, w)
        Non-empty binary images.

    Returns
    -------
    ndarray of float64, shape () or (m,)
        The scores, in ``(0, 1]``.

    Raises
    ------
    TypeError, ValueError
        For anything but a real array of rank 2 or 3 with values 0 and 1, an
        empty array, or an image with no pixel on (its score would be 0/0).
    """
    stack = _as_images(images)
    out = _closedness(stack)
    return out.reshape(np.shape(images)[:-2])


def symmetry_score(images: Any, squares: Any = None) -> np.ndarray[Any, Any]:
    """The symmetry score ``|S & fliplr(S)| / |S|`` of binary images (Cohen & Shashua 2017).

    ``S`` is the square the blob was drawn in, mirrored about its own centre
    (:func:`generate_blobs` returns the squares); by default the whole image.

    Parameters
    ----------
    images : ndarray or Tensor of bool or 0/1, shape (h, w) or (m, h, w)
        Binary images.
    squares : ndarray or Tensor of int, shape (3,) or (m, 3), optional
        ``(top, left, side)`` of each image's square, inside the image.  Each
        square must contain a pixel that is on.

    Returns
    -------
    ndarray of float64, shape () or (m,)
        The scores, in ``[0, 1]``; 1 for a square that is its own mirror image.

    Raises
    ------
    TypeError, ValueError
        For images as in :func:`closedness_score`, squares that are not
        integers, of another count, outside the image, or empty.
    """
    stack = _as_images(images)
    sq = _as_squares(squares, stack, single=np.ndim(_as_numpy(images)) == 2)
    out = _symmetry(stack, sq)
    return out.reshape(np.shape(images)[:-2])


def split_by_score(
    scores: Any, fraction: float = _FRACTION
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Label the lowest ``fraction`` of ``scores`` 0 and the highest 1, dropping the rest.

    As in the authors' generator: a stable sort of the scores (ties keep their
    order), the first ``int(n * fraction)`` labelled 0 and the last as many
    labelled 1.  The paper's tasks use ``fraction = 0.4`` (the middle 20 %
    dropped).

    Parameters
    ----------
    scores : ndarray or Tensor, shape (n,)
        Real, finite scores.
    fraction : float, optional
        Share of each label, in ``(0, 0.5]``; at least one example per label.

    Returns
    -------
    index : ndarray of int64, shape (2 * int(n * fraction),)
        The kept examples, in their original order.
    labels : ndarray of int64, same shape
        0 for the low scores, 1 for the high ones.
    """
    arr = _as_numpy(scores)
    if isinstance(arr, np.ndarray):  # before any pass over it (a broadcast view is cheap)
        check_size(4 * arr.size, "scores", what=f"sorting {describe(arr)}")
    check_array(arr, "scores", ndim=1)
    f = check_float(
        fraction,
        "fraction",
        minimum=0.0,
        maximum=0.5,
        exclusive_minimum=True,
        fix="the share of each label, e.g. 0.4 (the paper's)",
    )
    n = len(arr)
    k = int(n * f)
    if k < 1:
        raise ValueError(
            f"scores: expected enough scores to label at least one per class with "
            f"fraction={f}, got {n} (int({n} * {f}) = 0)"
        )
    order = np.argsort(np.asarray(arr, dtype=np.float64), kind="stable")
    labels = np.full(n, -1, dtype=np.int64)
    labels[order[:k]] = 0
    labels[order[n - k :]] = 1
    index = np.flatnonzero(labels >= 0).astype(np.int64)
    return index, labels[index]


# ------------------------------------------------------------------ loaders
def _cache_key(task: str, num_train: int, num_test: int, seed: int) -> dict[str, Any]:
    return {
        "generator": "dltheory.data.blobs",
        "version": BLOB_GENERATOR_VERSION,
        "task": task,
        "num_train": num_train,
        "num_test": num_test,
        "seed": seed,
    }


def _labelled(task: str, num_train: int, num_test: int, seed: int) -> dict[str, Any]:
    """Packed images (uint8, 128 bytes each) and labels of both parts."""
    images, closedness, symmetry, _ = _generate(num_train + num_test, seed)
    scores = closedness if task == "closedness" else symmetry
    out: dict[str, Any] = {}
    for part, lo, hi in (("train", 0, num_train), ("test", num_train, num_train + num_test)):
        index, labels = split_by_score(scores[lo:hi])  # each part labelled on its own
        out[f"x_{part}"] = np.packbits(images[lo:hi][index].reshape(len(index), -1), axis=1)
        out[f"y_{part}"] = labels
    return out


def load_pooling_task(
    task: str,
    num_train: int = 25_000,
    num_test: int = 5_000,
    seed: int = 0,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Dataset:
    """The closedness or symmetry task of Cohen & Shashua (ICLR 2017, Sec. 6).

    ``num_train + num_test`` images are drawn from one seeded stream
    (:func:`generate_blobs`), the first ``num_train`` for training and the next
    ``num_test`` for testing.  In each part separately, the 40 % with the
    lowest score of the task are labelled 0 and the 40 % with the highest 1;
    the middle 20 % are dropped (:func:`split_by_score`), so the data set holds
    ``2 * int(0.4 * num_train)`` and ``2 * int(0.4 * num_test)`` images: 20,000
    and 4,000 at the paper's sizes.  Kept images stay in the order drawn.

    Parameters
    ----------
    task : {"closedness", "symmetry"}
        Which score labels the images: 1 = closed (or symmetric), 0 = open (or
        asymmetric).
    num_train, num_test : int, optional
        Images drawn for each part BEFORE the middle 20 % are dropped (the
        paper's 25,000 and 5,000), each at least 3; together at most
        :data:`MAX_BLOB_IMAGES` (estimated before anything is generated).
    seed : int, optional
        Seed of the stream, in ``[0, 2**63)``; the same seed gives the same
        data.  The images of the last two (size, seed) pairs
        are also kept in the process, so both tasks share one generation.
    cache_dir : str or os.PathLike, optional
        A folder (created if missing) for a cache file ``blobs-<task>-<hash>.npz``
        keyed by the generator's version (:data:`BLOB_GENERATOR_VERSION`), the
        task, the sizes and the seed, with a checksum of its content.  A file
        that cannot be read, was made for other parameters or fails its
        checksum is refused (``ValueError``), never used.  Writes are atomic.

    Returns
    -------
    Dataset
        ``x`` float32 of shape ``(n, 1, 32, 32)`` with values 0 and 1; ``y``
        int64 in ``{0, 1}``, exactly half of each.

    Raises
    ------
    TypeError
        For a ``task`` that is not a str, sizes or a seed that are not
        integers, or a ``cache_dir`` that is not a path.
    ValueError
        For an unknown ``task``, sizes below 3 or too large, a seed outside
        ``[0, 2**63)``, a ``cache_dir`` that is not a folder, or a corrupt or
        mismatching cache file.
    """
    t = check_choice(task, "task", BLOB_TASKS)
    n_train = _check_count(num_train, "num_train", 3)
    n_test = _check_count(num_test, "num_test", 3)
    _check_total(n_train + n_test, "num_train + num_test")
    s = check_seed(seed)
    folder = None if cache_dir is None else _cache_folder(cache_dir)
    key = _cache_key(t, n_train, n_test, s)
    meta = json.dumps(key, sort_keys=True)
    sizes = {"train": 2 * int(n_train * _FRACTION), "test": 2 * int(n_test * _FRACTION)}
    arrays = None
    if folder is not None:
        digest = hashlib.sha256(meta.encode()).hexdigest()[:20]
        file = folder / f"blobs-{t}-{digest}.npz"
        if file.exists():
            arrays = read_cache(file, folder, meta, sizes, row_bytes=_N * _N // 8)
    if arrays is None:
        arrays = _labelled(t, n_train, n_test, s)
        if folder is not None:
            write_cache(file, folder, meta, arrays)

    def as_x(packed: np.ndarray[Any, Any]) -> torch.Tensor:
        bits = np.unpackbits(packed, axis=1, count=_N * _N)
        return torch.from_numpy(bits.astype(np.float32).reshape(-1, 1, _N, _N))

    return Dataset(
        name=f"blobs-{t}",
        x_train=as_x(arrays["x_train"]),
        y_train=torch.from_numpy(np.array(arrays["y_train"], dtype=np.int64)),
        x_test=as_x(arrays["x_test"]),
        y_test=torch.from_numpy(np.array(arrays["y_test"], dtype=np.int64)),
        num_classes=2,
        source=(
            f"Cohen & Shashua (ICLR 2017) synthetic blobs, {t} task, generated locally "
            f"(dltheory.data.blobs v{BLOB_GENERATOR_VERSION}, seed {s}, {n_train} + {n_test} "
            "drawn, middle 20% dropped), after HUJI-Deep/inductive-pooling generate_blob.py"
        ),
    )


def load_closedness(
    num_train: int = 25_000,
    num_test: int = 5_000,
    seed: int = 0,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Dataset:
    """The closedness task (:func:`load_pooling_task` with ``task="closedness"``).

    Label 1: the 40 % most closed blobs (highest ``|I| / |closing(I)|``);
    label 0: the 40 % least closed.  ``num_train`` and ``num_test`` count the
    images drawn BEFORE the middle 20 % are dropped (25,000 + 5,000 give
    20,000 + 4,000).  Cohen & Shashua (ICLR 2017, Sec. 6): square pooling
    should beat mirror pooling here.
    """
    return load_pooling_task("closedness", num_train, num_test, seed, cache_dir)


def load_symmetry(
    num_train: int = 25_000,
    num_test: int = 5_000,
    seed: int = 0,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Dataset:
    """The symmetry task (:func:`load_pooling_task` with ``task="symmetry"``).

    Label 1: the 40 % most left-right symmetric blobs (highest
    ``|S & fliplr(S)| / |S|``); label 0: the 40 % least.  ``num_train`` and
    ``num_test`` count the images drawn BEFORE the middle 20 % are dropped
    (25,000 + 5,000 give 20,000 + 4,000).  Cohen & Shashua (ICLR 2017,
    Sec. 6): mirror pooling should beat square pooling here.
    """
    return load_pooling_task("symmetry", num_train, num_test, seed, cache_dir)
